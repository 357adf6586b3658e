/**
 * What `npm start` checks before it starts anything, and what it tells a developer once it runs.
 * A wrong variable, a broken simulator config or a busy port is a `StartupError`: one line that
 * names the variable or file to fix, printed without a stack trace, because the stack would only
 * point into this file and bury the one line that matters.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { settingsOverrides } from '../functions/core/config.js';
import { BrokerError } from '../functions/core/errors.js';
import { resolveHubBaseUrl } from '../functions/core/hub/environments.js';
import { type BrokerSettings, resolveSettings } from '../functions/core/settings.js';
import { parseBearer, parseScope } from './hub-simulator/scopes.js';
import type { HubConfigFile } from './runtime.js';

export class StartupError extends Error {
  override readonly name = 'StartupError';
}

type Env = Readonly<Record<string, string | undefined>>;

/** The variable that moves each listener, in the order the runtime binds them. */
export const PORT_VARIABLES = ['DYNAMODB_PORT', 'LAMBDA_PORT', 'HUB_PORT'] as const;
export type PortVariable = (typeof PORT_VARIABLES)[number];
export const DEFAULT_PORTS: Readonly<Record<PortVariable, number>> = {
  DYNAMODB_PORT: 8000,
  LAMBDA_PORT: 3001,
  HUB_PORT: 8090,
};

/** What the local runtime's own SDK clients use: dynalite and the Invoke endpoint check neither. */
export const LOCAL_REGION = 'local';
export const LOCAL_ACCESS_KEY = 'local';
/** The name the local Lambda endpoint serves the mint function under (local/runtime.ts). */
export const LOCAL_MINT_FUNCTION = 'mint';

export function parsePorts(env: Env): Record<PortVariable, number> {
  const ports = { ...DEFAULT_PORTS };
  for (const name of PORT_VARIABLES) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    const value = Number(text);
    // 0 lets the system pick a free port; the printed endpoints then show the one it picked.
    if (!/^\d+$/.test(text.trim()) || !Number.isInteger(value) || value > 65_535) {
      throw new StartupError(`${name} must be a port number from 0 to 65535, got ${JSON.stringify(text)}`);
    }
    ports[name] = value;
  }
  return ports;
}

/** HUB_TOKEN_LIFETIME_SECONDS: whole seconds above 0, or undefined for the config's lifetime. */
export function parseTokenLifetime(env: Env): number | undefined {
  const text = env.HUB_TOKEN_LIFETIME_SECONDS;
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new StartupError(
      `HUB_TOKEN_LIFETIME_SECONDS must be a whole number of seconds above 0, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/**
 * BROKER_SETTINGS through the broker's own parser and resolver, so `npm start` accepts exactly what
 * a deployed function accepts. Returns the overrides (the runtime resolves them again) after
 * checking that they resolve.
 */
export function parseSettings(env: Env): Partial<BrokerSettings> {
  try {
    const overrides = settingsOverrides(env);
    resolveSettings(overrides);
    return overrides;
  } catch (error) {
    if (!(error instanceof BrokerError)) throw error;
    // The broker's messages name the variable or say "invalid setting:"; here both would repeat.
    const message = error.message.replace(/^environment variable /, '').replace(/^invalid setting: /, '');
    throw new StartupError(message.startsWith('BROKER_SETTINGS') ? message : `BROKER_SETTINGS: ${message}`);
  }
}

/** ZAIKIO_HUB for a real Hub, checked by the resolver the functions use. */
export function checkHub(hub: string): void {
  try {
    resolveHubBaseUrl(hub);
  } catch (error) {
    if (!(error instanceof BrokerError)) throw error;
    throw new StartupError(`ZAIKIO_HUB: ${error.message}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The simulator's config file, checked with the simulator's own scope grammar, so a typo is one line
 * naming the file and the entry instead of a RangeError from inside the simulator.
 */
export function loadHubConfig(path: string): HubConfigFile {
  const bad = (what: string) => new StartupError(`HUB_CONFIG ${path}: ${what}`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw bad(code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? String(error)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw bad(`is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isObject(parsed)) throw bad('must be a JSON object with "apps" and "grants"');
  const { apps, grants, tokenLifetimeSeconds } = parsed;
  if (!Array.isArray(apps) || apps.length === 0) {
    throw bad('"apps" must be a non-empty array of {"clientId", "clientSecret"}');
  }
  apps.forEach((app: unknown, index) => {
    if (
      !isObject(app) ||
      typeof app.clientId !== 'string' ||
      app.clientId === '' ||
      typeof app.clientSecret !== 'string' ||
      app.clientSecret === ''
    ) {
      throw bad(`apps[${index}] needs a non-empty "clientId" and "clientSecret"`);
    }
  });
  if (!Array.isArray(grants)) throw bad('"grants" must be an array of {"bearer", "scopes"}');
  grants.forEach((grant: unknown, index) => {
    if (!isObject(grant)) throw bad(`grants[${index}] must be an object with "bearer" and "scopes"`);
    if (typeof grant.bearer !== 'string' || parseBearer(grant.bearer) === undefined) {
      throw bad(`grants[${index}].bearer must be "Org/<id>" or "Per/<id>" with a lowercase id`);
    }
    if (!Array.isArray(grant.scopes) || grant.scopes.length === 0) {
      throw bad(`grants[${index}].scopes must be a non-empty array like ["warehouse.items.r"]`);
    }
    for (const scope of grant.scopes) {
      if (typeof scope !== 'string' || parseScope(scope) === undefined) {
        throw bad(
          `grants[${index}].scopes: ${JSON.stringify(scope)} is not app.scope.permission (r, w or rw)`,
        );
      }
    }
  });
  if (
    tokenLifetimeSeconds !== undefined &&
    (typeof tokenLifetimeSeconds !== 'number' ||
      !Number.isSafeInteger(tokenLifetimeSeconds) ||
      tokenLifetimeSeconds < 1)
  ) {
    throw bad('"tokenLifetimeSeconds" must be a whole number above 0');
  }
  return parsed as unknown as HubConfigFile;
}

function portProblem(code: string | undefined, port: number, variable: string): StartupError | undefined {
  if (code === 'EADDRINUSE')
    return new StartupError(`port ${port} is in use; set ${variable} to another port`);
  if (code === 'EACCES') {
    return new StartupError(`port ${port} needs privileges; set ${variable} to a port above 1023`);
  }
  return undefined;
}

/**
 * Binds and releases each port first, so a busy one is reported before anything has started
 * (a half-started runtime would leave dynalite listening while the process exits).
 */
export async function assertPortsFree(ports: Readonly<Record<PortVariable, number>>): Promise<void> {
  for (const variable of PORT_VARIABLES) {
    const port = ports[variable];
    if (port === 0) continue;
    await new Promise<void>((resolve, reject) => {
      const server = createServer();
      server.once('error', (error: NodeJS.ErrnoException) => {
        reject(portProblem(error.code, port, variable) ?? error);
      });
      // The runtime listens on loopback; on Linux a port held on any address is busy here too.
      server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
    });
  }
  const seen = new Map<number, PortVariable>();
  for (const variable of PORT_VARIABLES) {
    const port = ports[variable];
    const other = seen.get(port);
    if (port !== 0 && other !== undefined) {
      throw new StartupError(`${other} and ${variable} are both ${port}; set ${variable} to another port`);
    }
    seen.set(port, variable);
  }
}

/**
 * A failure while the runtime starts, as one line when it is one a developer can fix: a port taken
 * between the check and the start, or a setting the broker refused (e.g. a real Hub's ZAIKIO_HUB).
 */
export function describeStartFailure(
  error: unknown,
  ports: Readonly<Record<PortVariable, number>> | undefined,
): string | undefined {
  if (error instanceof StartupError || error instanceof BrokerError) return error.message;
  const { code, port } = (error ?? {}) as { code?: string; port?: number };
  const variable = PORT_VARIABLES.find((name) => ports?.[name] === port);
  if (port !== undefined && variable !== undefined) return portProblem(code, port, variable)?.message;
  return undefined;
}

export interface ConsumerSetup {
  readonly dynamodbEndpoint: string;
  readonly lambdaEndpoint: string;
  readonly tableName: string;
  /** The first grant of the simulator's config (undefined with a real Hub or no grants). */
  readonly grant?: { readonly bearer: string; readonly scope: string } | undefined;
  /** The consumer to call as: the mint is invoked as `mint:<consumer>`, its alias in AWS. */
  readonly consumer?: string | undefined;
}

/** The mint function as a consumer invokes it: qualified by the consumer's alias. */
export function mintFunctionFor(setup: Pick<ConsumerSetup, 'consumer'>): string {
  return setup.consumer === undefined ? LOCAL_MINT_FUNCTION : `${LOCAL_MINT_FUNCTION}:${setup.consumer}`;
}

/** The environment a consumer (TypeScript client, boto3, AWS CLI) needs for this local broker. */
export function consumerEnvironment(setup: ConsumerSetup): Record<string, string> {
  return {
    // Both names: the JavaScript SDK reads AWS_REGION, boto3 before 1.28 only AWS_DEFAULT_REGION.
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: LOCAL_ACCESS_KEY,
    AWS_ENDPOINT_URL_DYNAMODB: setup.dynamodbEndpoint,
    AWS_ENDPOINT_URL_LAMBDA: setup.lambdaEndpoint,
    TOKENS_TABLE_NAME: setup.tableName,
    MINT_FUNCTION_NAME: mintFunctionFor(setup),
  };
}

/** The mint request for the first granted scope, in the organizationId/personId form. */
export function examplePayload(grant: ConsumerSetup['grant']): string {
  if (grant === undefined) return JSON.stringify({ organizationId: '<uuid>', scopes: ['warehouse.items.r'] });
  const [prefix, id] = grant.bearer.split('/');
  const field = prefix === 'Per' ? 'personId' : 'organizationId';
  return JSON.stringify({ [field]: id, scopes: [grant.scope] });
}

/** The block `npm start` prints: the environment, then commands that use it. Never a token. */
export function consumerInstructions(setup: ConsumerSetup): string[] {
  const environment = consumerEnvironment(setup);
  const payload = examplePayload(setup.grant);
  return [
    'Environment for a consumer (TypeScript client, Python, AWS CLI); paste it into another shell.',
    'The credentials are dummies: nothing local checks them.',
    ...Object.entries(environment).map(([name, value]) => `export ${name}=${value}`),
    '',
    'Get a token in that shell (AWS CLI v2; v1 without --cli-binary-format).',
    'The answer holds the token, so it goes to a file that is shown without it:',
    `aws lambda invoke --endpoint-url ${setup.lambdaEndpoint} --function-name ${mintFunctionFor(setup)} \\`,
    `  --cli-binary-format raw-in-base64-out --payload '${payload}' /tmp/token.json`,
    `jq 'del(.accessToken)' /tmp/token.json && rm /tmp/token.json`,
    'Without the AWS CLI:',
    `curl -s -X POST ${setup.lambdaEndpoint}/2015-03-31/functions/${mintFunctionFor(setup)}/invocations \\`,
    `  -d '${payload}' -o /tmp/token.json`,
  ];
}
