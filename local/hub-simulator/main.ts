/**
 * Runs the Hub simulator until SIGINT/SIGTERM, e.g. `npx tsx local/hub-simulator/main.ts`.
 *
 * Environment (all optional):
 * - HUB_SIM_HOST (default 127.0.0.1), HUB_SIM_PORT (default 0: a free port; the URL is printed)
 * - HUB_SIM_CLIENT_ID / HUB_SIM_CLIENT_SECRET (default sim-client / sim-secret; the secret is never printed)
 * - HUB_SIM_GRANTS: `Org/<id>=warehouse.items.r,zaikio.organization.r;Per/<id>=zaikio.person.r`
 *   (default: a demo organization with warehouse.items.rw and zaikio.organization.r)
 * - HUB_SIM_TOKEN_LIFETIME (seconds, default 600), HUB_SIM_LATENCY_MS (default 0)
 * - HUB_SIM_REFRESH_TOKENS=false: client_credentials answers carry no refresh token
 */
import { DEFAULT_APP } from './config.js';
import { HubSimulator } from './server.js';
import type { HubSimulatorOptions, SimulatorGrant } from './types.js';

const DEMO_GRANTS = 'Org/b1475f65-236c-58b8-96e1-e1778b43beb7=warehouse.items.rw,zaikio.organization.r';

function parseGrants(text: string): SimulatorGrant[] {
  return text
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq < 0)
        throw new RangeError(`HUB_SIM_GRANTS: want <bearer>=<scope>,<scope>, got ${JSON.stringify(part)}`);
      return {
        bearer: part.slice(0, eq).trim(),
        scopes: part
          .slice(eq + 1)
          .split(',')
          .map((scope) => scope.trim())
          .filter((scope) => scope !== ''),
      };
    });
}

function integer(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value))
    throw new RangeError(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

const env = process.env;
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const clientId = env.HUB_SIM_CLIENT_ID ?? DEFAULT_APP.clientId;
const grants = parseGrants(env.HUB_SIM_GRANTS ?? DEMO_GRANTS);
const port = integer('HUB_SIM_PORT');
const tokenLifetimeSeconds = integer('HUB_SIM_TOKEN_LIFETIME');
const latencyMs = integer('HUB_SIM_LATENCY_MS');
const options: HubSimulatorOptions = {
  host: env.HUB_SIM_HOST ?? '127.0.0.1',
  apps: [{ clientId, clientSecret: env.HUB_SIM_CLIENT_SECRET ?? DEFAULT_APP.clientSecret }],
  grants,
  issueRefreshTokens: env.HUB_SIM_REFRESH_TOKENS !== 'false',
  log: say,
  ...(port === undefined ? {} : { port }),
  ...(tokenLifetimeSeconds === undefined ? {} : { tokenLifetimeSeconds }),
  ...(latencyMs === undefined ? {} : { latencyMs }),
};

const sim = await HubSimulator.start(options);
say(`hub-simulator listening: ${sim.url}/oauth/access_token (client_id ${clientId})`);
for (const grant of grants) say(`hub-simulator grant: ${grant.bearer} ${grant.scopes.join(',')}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void sim.stop().then(() => say('hub-simulator stopped'));
  });
}
