/**
 * The realistic-day benchmark: calibrate the per-operation request units on dynalite, simulate a day
 * of each population under both policies, and turn each day into a month of AWS usage and its cost
 * (../support/cost-model.ts). Scenarios: the realistic mix (1 % hot, 10 % warm, the rest cold) and
 * every key always in use (all hot), at each scale.
 */
import type { CompareResult } from '../compare/summary.js';
import {
  constructSizing,
  DAYS_PER_MONTH,
  hubLimitFor,
  logsGb,
  type MonthlyCost,
  type MonthlyUsage,
  mintUsage,
  monthlyCost,
  sqsRequests,
  sweepUsage,
  workerUsage,
} from '../support/cost-model.js';
import { describeMachine, type Machine } from '../support/machine.js';
import { calibrate } from './calibrate.js';
import { type LatencyModel, latencyModel } from './latency.js';
import { DEMAND, EAGER, type Policy, SETTINGS } from './policies.js';
import { ALL_HOT, buildPopulation, HOUR, type KeyClass, type Mix, REALISTIC } from './population.js';
import { type DayCounts, simulateDay } from './simulate.js';
import type { Calibration } from './units.js';

export const FULL_SCALES: readonly number[] = [10, 1_000, 100_000];
export const QUICK_SCALES: readonly number[] = [10, 1_000];
export const DEFAULT_SEED = 7;
/** Long enough for every key's token, use and consumer memory to reach the policy's steady state. */
const WARM_UP_MS = 2 * HOUR;
/**
 * DynamoDB bills a Query that returns nothing 0.5 read units (eventually consistent); dynalite reports
 * 0 for it, so an empty sweep is billed at this per shard.
 */
const EMPTY_QUERY_READ_UNITS = 0.5;

export interface SizingSummary {
  /** The Hub rate limit (requests a minute) the busiest minute needs; the default is 300. */
  readonly hubLimitPerMinute: number;
  readonly refreshConcurrency: number;
  readonly pacingMs: number;
  readonly keysPerInvocation: number;
  /** Keys a sweep may hand out (what the workers can refresh before the next sweep). */
  readonly sweepBudget: number;
}

export interface PolicyRun {
  readonly policy: Policy['name'];
  readonly label: string;
  readonly day: DayCounts;
  readonly month: MonthlyUsage;
  readonly cost: MonthlyCost;
  readonly sizing: SizingSummary;
}

export interface ScenarioRun {
  readonly mix: Mix['name'];
  readonly keys: number;
  readonly counts: Readonly<Record<KeyClass, number>>;
  readonly eager: PolicyRun;
  readonly demand: PolicyRun;
  readonly simulatedSeconds: number;
}

export interface RealisticDayResult {
  readonly seed: number;
  readonly scales: readonly number[];
  readonly calibration: Calibration;
  readonly latency: LatencyModel;
  /** Mean billed duration of a mint that asked the Hub, from docs/bench-compare.json. */
  readonly mintWithHubMs: number;
  readonly scenarios: readonly ScenarioRun[];
  readonly totalSeconds: number;
  readonly command: string;
  readonly machine: Machine;
}

export interface RealisticDayOptions {
  readonly compare: CompareResult;
  readonly scales?: readonly number[];
  readonly seed?: number;
  readonly calibration?: Calibration;
  readonly log?: (line: string) => void;
}

export async function runRealisticDay(options: RealisticDayOptions): Promise<RealisticDayResult> {
  const startedAt = performance.now();
  const { compare, scales = FULL_SCALES, seed = DEFAULT_SEED, log = () => undefined } = options;
  const calibration = options.calibration ?? (await calibrate());
  log(
    `calibration: ${calibration.source}${calibration.error === undefined ? '' : ` (${calibration.error})`}`,
  );
  const latency = latencyModel(compare);
  const brokerMint = compare.approaches.find((approach) => approach.name === 'broker')?.lambda.mint;
  if (brokerMint === undefined || brokerMint.invocations === 0) {
    throw new Error('docs/bench-compare.json has no mint invocations; run the compare benchmark');
  }
  const mintWithHubMs = brokerMint.billedMs / brokerMint.invocations;
  const scenarios: ScenarioRun[] = [];
  for (const mix of [REALISTIC, ALL_HOT]) {
    for (const keys of scales) {
      const began = performance.now();
      const population = buildPopulation(keys, mix, seed, WARM_UP_MS);
      // Latencies are reported for the realistic mix only; drawing them for 144 million calls a day buys nothing.
      const simulation = { seed, ...(mix === REALISTIC ? { latency } : {}) };
      const [eager, demand] = [EAGER, DEMAND].map((policy) => {
        const day = simulateDay(population, policy, simulation);
        return {
          policy: policy.name,
          label: policy.label,
          day,
          ...month(day, keys, calibration, mintWithHubMs, policy.name === 'eager'),
        };
      }) as [PolicyRun, PolicyRun];
      const simulatedSeconds = (performance.now() - began) / 1000;
      log(`${mix.name} day, ${keys} keys: ${simulatedSeconds.toFixed(1)} s`);
      scenarios.push({ mix: mix.name, keys, counts: population.counts, eager, demand, simulatedSeconds });
    }
  }
  return {
    seed,
    scales,
    calibration,
    latency,
    mintWithHubMs,
    scenarios,
    totalSeconds: (performance.now() - startedAt) / 1000,
    command: `npx tsx bench/realistic-day.ts --keys=${scales.join(',')} --seed=${seed}${options.calibration === undefined ? '' : ' --skip-calibration'}`,
    machine: describeMachine(),
  };
}

/** A simulated day, times the days of a month, as AWS bills it. */
export function month(
  day: DayCounts,
  keys: number,
  calibration: Calibration,
  mintWithHubMs: number,
  /** The previous release logged a line per key a worker handled; this one does so at DEBUG only. */
  perKeyLogLines: boolean,
): { month: MonthlyUsage; cost: MonthlyCost; sizing: SizingSummary } {
  const x = (count: number) => count * DAYS_PER_MONTH;
  const units = calibration.units;
  const sizing = constructSizing(day.peak);
  const readClaims = day.refreshes - day.leaseRefreshes;
  const sweepReadUnits =
    day.sweeps * Math.max(units.sweepEmpty.readUnits, SETTINGS.dueShards * EMPTY_QUERY_READ_UNITS) +
    day.dueKeys * units.sweepPerDueKey.readUnits;
  // Steady state: a key minted on demand has an item already (retired keys stay until purged), so
  // its mint costs what a mint of an expired key does.
  const brokerUnits = (pick: 'readUnits' | 'writeUnits') =>
    x(
      readClaims * units.refreshRead[pick] +
        day.leaseRefreshes * units.refreshLease[pick] +
        day.retires * units.retire[pick] +
        day.mintsWithHub * units.mintExpired[pick] +
        day.mintsServed * units.mintServed[pick],
    );
  const lambda = {
    mint: mintUsage(x(day.mintsWithHub), x(day.mintsServed), mintWithHubMs),
    sweep: sweepUsage(x(day.sweeps), x(day.sendBatches)),
    refresh: workerUsage(
      { messages: x(day.messages), refreshed: x(day.refreshes), retired: x(day.retires) },
      sizing,
    ),
  };
  const usage: MonthlyUsage = {
    hubRequests: x(day.hubRequests),
    lambda,
    broker: {
      readUnits: brokerUnits('readUnits') + x(sweepReadUnits),
      writeUnits: brokerUnits('writeUnits'),
    },
    consumers: {
      readUnits: x(day.consumerReads * units.consumerRead.readUnits),
      // Consumers write nothing: their use reports are the mint's writes (mintsServed).
      writeUnits: 0,
    },
    sqsRequests: sqsRequests({
      sweeps: x(day.sweeps),
      sendBatches: x(day.sendBatches),
      messages: x(day.messages),
    }),
    schedulerInvocations: x(day.sweeps),
    logsGb: logsGb({
      invocations: lambda.mint.invocations + lambda.sweep.invocations + lambda.refresh.invocations,
      workerKeys: perKeyLogLines ? x(day.dueKeys) : 0,
      useRecords: x(day.mintsServed),
    }),
    storedKeys: keys,
  };
  return {
    month: usage,
    cost: monthlyCost(usage),
    sizing: {
      hubLimitPerMinute: hubLimitFor(day.peak),
      refreshConcurrency: sizing.settings.refreshConcurrency,
      pacingMs: sizing.refreshPacingMs,
      keysPerInvocation: sizing.refreshKeysPerInvocation,
      // docs/refresh.md: a sweep hands out what the workers can do before the next one.
      sweepBudget: Math.ceil(
        (sizing.settings.hubRequestsPerSecond * sizing.settings.scheduleIntervalMs) / 1000,
      ),
    },
  };
}
