/**
 * The side-by-side benchmark: a fleet of K consumer containers making M token requests over a
 * simulated hour, on dynalite and the Hub simulator (80 ms latency, 10-minute tokens), for three
 * approaches (naive, per-container caching with Powertools + oauth4webapi, this broker). Then the
 * stampede (1,000 concurrent cold requests across 50 containers) and the consumer client's warm and
 * cold reads. Cold starts are bench/cold-start.ts.
 */
import { describeMachine } from '../support/machine.js';
import { PRICE_SOURCE, PRICES } from '../support/prices.js';
import { startEnvironment } from './environment.js';
import { runHour, runStampede, schedule } from './fleet.js';
import { measureColdRead, measureWarmRead } from './reads.js';
import {
  APPROACH_NAMES,
  type ApproachResult,
  CONSUMER_MEMORY_GB,
  type CompareParameters,
  type CompareResult,
  describe,
  minimumTokens,
  type StampedeResult,
  summarizeHour,
  summarizeStampede,
} from './summary.js';

export const DEFAULT_PARAMETERS: CompareParameters = {
  containers: 10,
  organizations: 10,
  calls: 2000,
  hubLatencyMs: 80,
  tokenLifetimeSeconds: 600,
  stampedeRequests: 1000,
  stampedeContainers: 50,
  warmReads: 200_000,
  coldReads: 300,
  seed: 7,
};

export type CompareOptions = Partial<CompareParameters> & {
  readonly log?: (line: string) => void;
};

/** The command that repeats a run with these parameters, as recorded in its result. */
function compareCommand(parameters: CompareParameters): string {
  return `npx tsx bench/compare.ts --calls=${parameters.calls} --containers=${parameters.containers} --organizations=${parameters.organizations}`;
}

export async function runCompare(options: CompareOptions = {}): Promise<CompareResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const defaults = DEFAULT_PARAMETERS;
  const parameters: CompareParameters = {
    containers: options.containers ?? defaults.containers,
    organizations: options.organizations ?? defaults.organizations,
    calls: options.calls ?? defaults.calls,
    hubLatencyMs: options.hubLatencyMs ?? defaults.hubLatencyMs,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? defaults.tokenLifetimeSeconds,
    stampedeRequests: options.stampedeRequests ?? defaults.stampedeRequests,
    stampedeContainers: options.stampedeContainers ?? defaults.stampedeContainers,
    warmReads: options.warmReads ?? defaults.warmReads,
    coldReads: options.coldReads ?? defaults.coldReads,
    seed: options.seed ?? defaults.seed,
  };
  log(
    `compare: ${parameters.containers} containers, ${parameters.organizations} token keys, ${parameters.calls} calls ` +
      `over a simulated hour, Hub latency ${parameters.hubLatencyMs} ms, tokens ${parameters.tokenLifetimeSeconds} s`,
  );
  const env = await startEnvironment(parameters);
  try {
    const calls = schedule(
      parameters.calls,
      parameters.containers,
      parameters.organizations,
      parameters.seed,
    );
    const minimumHubRequests = minimumTokens(calls, parameters.tokenLifetimeSeconds * 1000);
    log(`  the token lifetimes require at least ${minimumHubRequests} Hub requests for these calls`);
    const approaches: ApproachResult[] = [];
    for (const name of APPROACH_NAMES) {
      const result = summarizeHour(await runHour(env, name, calls, parameters.containers));
      approaches.push(result);
      log(describe.hour(result));
    }
    const stampede: StampedeResult[] = [];
    for (const name of APPROACH_NAMES) {
      const result = summarizeStampede(
        await runStampede(env, name, parameters.stampedeRequests, parameters.stampedeContainers),
      );
      stampede.push(result);
      log(describe.stampede(result));
    }
    const warmRead = await measureWarmRead(env, parameters.warmReads);
    log(describe.warmRead(warmRead));
    const coldRead = await measureColdRead(env, parameters.coldReads);
    log(describe.coldRead(coldRead));
    return {
      options: parameters,
      minimumHubRequests,
      approaches,
      stampede,
      warmRead,
      coldRead,
      prices: { ...PRICES, source: PRICE_SOURCE, consumerMemoryGb: CONSUMER_MEMORY_GB },
      machine: describeMachine(),
      command: compareCommand(parameters),
    };
  } finally {
    await env.stop();
  }
}
