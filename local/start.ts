/**
 * `npm start`: the broker on this machine with embedded defaults. No AWS account, no Zaikio
 * credentials, no Docker. See README "Run it locally" for every variable.
 */
import { existsSync } from 'node:fs';
import { createReadableLogger } from './readable-logger.js';
import { readHubConfig, startLocalRuntime } from './runtime.js';

if (existsSync('.env')) process.loadEnvFile('.env');
const env = process.env;
const say = (line: string) => process.stdout.write(`${line}\n`);

function port(name: string, fallback: number): number {
  const value = Number(env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0 || value > 65_535)
    throw new Error(`${name} must be a port number`);
  return value;
}

function settingsFromEnv(): Record<string, number> {
  if (env.BROKER_SETTINGS === undefined) return {};
  const parsed: unknown = JSON.parse(env.BROKER_SETTINGS);
  if (typeof parsed !== 'object' || parsed === null) throw new Error('BROKER_SETTINGS must be a JSON object');
  return parsed as Record<string, number>;
}

const realHub =
  env.ZAIKIO_CLIENT_ID && env.ZAIKIO_CLIENT_SECRET
    ? {
        hub: env.ZAIKIO_HUB ?? 'sandbox',
        clientId: env.ZAIKIO_CLIENT_ID,
        clientSecret: env.ZAIKIO_CLIENT_SECRET,
      }
    : undefined;
const hubConfig = readHubConfig(env.HUB_CONFIG ?? 'local/hub-simulator.json');
const lifetime = env.HUB_TOKEN_LIFETIME_SECONDS;

const runtime = await startLocalRuntime({
  dynamodbPort: port('DYNAMODB_PORT', 8000),
  lambdaPort: port('LAMBDA_PORT', 3001),
  hubPort: port('HUB_PORT', 8090),
  dataDir: env.LOCAL_DATA_DIR ?? '.local-data',
  reset: process.argv.includes('--reset'),
  ...(realHub === undefined ? {} : { realHub }),
  hubConfig: lifetime === undefined ? hubConfig : { ...hubConfig, tokenLifetimeSeconds: Number(lifetime) },
  settings: settingsFromEnv(),
  logger: createReadableLogger(say),
});

const grant = hubConfig.grants[0];
const example = grant === undefined ? 'Org/<uuid>.warehouse.items.r' : `${grant.bearer}.${grant.scopes[0]}`;
say('Zaikio token broker running locally');
say(`  DynamoDB (dynalite)   ${runtime.dynamodbEndpoint}   table zaikio-tokens`);
say(`  Lambda Invoke API     ${runtime.lambdaEndpoint}   function "mint"`);
say(
  runtime.simulated
    ? `  Zaikio Hub simulator  ${runtime.hubUrl}   grants from ${env.HUB_CONFIG ?? 'local/hub-simulator.json'}`
    : `  Zaikio Hub           ${runtime.hubUrl}   (real Hub, client ${realHub?.clientId})`,
);
say(`  refresh sweep every ${runtime.settings.scheduleIntervalMs / 1000} s`);
say('Get a token:');
say(
  `  curl -s -X POST ${runtime.lambdaEndpoint}/2015-03-31/functions/mint/invocations -d '{"scope":"${example}"}'`,
);
say('List tokens:  npm run tokens -- list');
say('ready');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    runtime
      .stop()
      .then(() => {
        say('stopped; stored tokens are kept (npm start -- --reset wipes them)');
        process.exit(0);
      })
      .catch((error: unknown) => {
        say(`stop failed: ${String(error)}`);
        process.exit(1);
      });
  });
}
