/**
 * The world every part of the side-by-side benchmark runs in: dynalite in its own process, the Hub
 * simulator, Secrets Manager mocked, and one simulated clock (epoch ms) that drives the simulator,
 * the broker, the consumer client and the caching approach's caches. Latencies are real
 * (performance.now), and so is the Hub's latency.
 */
import { randomUUID } from 'node:crypto';
import { HubSimulator } from '../../local/hub-simulator/index.js';
import { SCOPE } from '../support/approaches.js';
import { type DynamoProcess, startDynamoProcess } from '../support/dynamodb-process.js';
import { CLIENT_ID, CLIENT_SECRET, type MockedSecrets, mockSecretsManager } from '../support/secrets.js';

export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;
/** Where the simulated hour starts. */
export const START = Date.parse('2027-03-01T08:00:00Z');
export const TABLES = { hour: 'tokens-hour', stampede: 'tokens-stampede', reads: 'tokens-reads' };

export interface Environment {
  readonly dynamo: DynamoProcess;
  readonly hub: HubSimulator;
  readonly secrets: MockedSecrets;
  /** `fake`: the simulated clock reads `now`; otherwise it follows real time. */
  readonly clock: { fake: boolean; now: number };
  readonly simClock: () => number;
  /** The organizations the Hub grants the scope to: one token key each. */
  readonly organizations: readonly string[];
  stop(): Promise<void>;
}

export async function startEnvironment(options: {
  readonly organizations: number;
  readonly hubLatencyMs: number;
  readonly tokenLifetimeSeconds: number;
}): Promise<Environment> {
  const clock = { fake: true, now: START };
  const simClock = () => (clock.fake ? clock.now : Date.now());
  const organizations = Array.from({ length: options.organizations }, () => randomUUID());
  const dynamo = await startDynamoProcess(Object.values(TABLES));
  const secrets = mockSecretsManager();
  const hub = await HubSimulator.start({
    apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
    grants: organizations.map((id) => ({ bearer: `Org/${id}`, scopes: [SCOPE] })),
    latencyMs: options.hubLatencyMs,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds,
    clock: simClock,
  });
  return {
    dynamo,
    hub,
    secrets,
    clock,
    simClock,
    organizations,
    async stop() {
      secrets.restore();
      await hub.stop();
      await dynamo.stop();
    },
  };
}
