/**
 * `npm start`: the broker on this machine with embedded defaults. No AWS account, no Zaikio
 * credentials, no Docker. See README "Run it locally" for every variable.
 */
import { existsSync } from 'node:fs';
import { DEFAULT_CONSUMERS_CONFIG, type LocalConsumers, readConsumers } from './consumers.js';
import { createReadableLogger } from './readable-logger.js';
import { LOCAL_TABLE, type LocalRuntime, startLocalRuntime } from './runtime.js';
import {
  assertPortsFree,
  checkHub,
  consumerInstructions,
  describeStartFailure,
  LOCAL_MINT_FUNCTION,
  loadHubConfig,
  parsePorts,
  parseSettings,
  parseTokenLifetime,
} from './startup.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

/** A problem the developer can fix: one line on stderr and exit code 1, no stack trace. */
function fail(message: string): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

if (existsSync('.env')) process.loadEnvFile('.env');
const env = process.env;
const hubConfigPath = env.HUB_CONFIG ?? 'local/hub-simulator.json';
const consumersPath = env.CONSUMERS_CONFIG ?? DEFAULT_CONSUMERS_CONFIG;

let ports: ReturnType<typeof parsePorts> | undefined;
let runtime: LocalRuntime;
let hubConfig: ReturnType<typeof loadHubConfig>;
let consumers: LocalConsumers;
const realHub =
  env.ZAIKIO_CLIENT_ID && env.ZAIKIO_CLIENT_SECRET
    ? {
        hub: env.ZAIKIO_HUB ?? 'sandbox',
        clientId: env.ZAIKIO_CLIENT_ID,
        clientSecret: env.ZAIKIO_CLIENT_SECRET,
      }
    : undefined;
try {
  // Every variable and the config file are checked before anything listens.
  ports = parsePorts(env);
  const settings = parseSettings(env);
  const lifetime = parseTokenLifetime(env);
  hubConfig = loadHubConfig(hubConfigPath);
  consumers = readConsumers(consumersPath);
  if (realHub !== undefined) checkHub(realHub.hub);
  await assertPortsFree(ports);
  runtime = await startLocalRuntime({
    dynamodbPort: ports.DYNAMODB_PORT,
    lambdaPort: ports.LAMBDA_PORT,
    hubPort: ports.HUB_PORT,
    dataDir: env.LOCAL_DATA_DIR ?? '.local-data',
    reset: process.argv.includes('--reset'),
    ...(realHub === undefined ? {} : { realHub }),
    hubConfig: lifetime === undefined ? hubConfig : { ...hubConfig, tokenLifetimeSeconds: lifetime },
    settings,
    consumers,
    logger: createReadableLogger(say),
  });
} catch (error) {
  const message = describeStartFailure(error, ports);
  if (message !== undefined) fail(message);
  // Anything else is a bug here, not a setting: its stack is what a fix needs.
  throw error;
}

const grant = realHub === undefined ? hubConfig.grants[0] : undefined;
say('Zaikio token broker running locally');
say(`  DynamoDB (dynalite)   ${runtime.dynamodbEndpoint}   table ${LOCAL_TABLE}`);
say(`  Lambda Invoke API     ${runtime.lambdaEndpoint}   function "${LOCAL_MINT_FUNCTION}"`);
say(
  runtime.simulated
    ? `  Zaikio Hub simulator  ${runtime.hubUrl}   grants from ${hubConfigPath}`
    : `  Zaikio Hub           ${runtime.hubUrl}   (real Hub, client ${realHub?.clientId})`,
);
say(`  refresh sweep every ${runtime.settings.scheduleIntervalMs / 1000} s`);
// Each consumer calls the mint as mint:<name>, its alias in AWS; an unqualified call is refused.
say(
  `  consumers             ${runtime.consumers.map((name) => `${LOCAL_MINT_FUNCTION}:${name}`).join(', ')}   ` +
    `grants from ${consumersPath}; the environment below calls as ${runtime.consumers[0] ?? 'none'}`,
);
say('');
for (const line of consumerInstructions({
  dynamodbEndpoint: runtime.dynamodbEndpoint,
  lambdaEndpoint: runtime.lambdaEndpoint,
  tableName: LOCAL_TABLE,
  grant: grant === undefined ? undefined : { bearer: grant.bearer, scope: grant.scopes[0] ?? '' },
  consumer: runtime.consumers[0],
})) {
  say(line);
}
say('');
say('List tokens:  npm run tokens -- list');
// Last, so whoever waits for this line (a developer, a test) has the whole block above it.
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
