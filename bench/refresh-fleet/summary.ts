/**
 * What the refresh fleet benchmark reports (docs/bench-refresh-fleet.json, read by bench/report/),
 * and how a run's counts and samples become those numbers: wall time against the ideal N/R (projected
 * at the steady pace when the run was stopped early), the Hub's peaks, and DynamoDB per token.
 */
import type { BrokerSettings } from '../../functions/core/settings.js';
import type { RecordedRequest } from '../../local/hub-simulator/index.js';
import type { DynamoCounts } from '../support/dynamo-counter.js';
import type { PoolStats } from '../support/function-pool.js';
import { peakInWindow } from '../support/hub.js';
import type { HandlerLog, OutcomeCounts } from '../support/logs.js';
import type { Machine } from '../support/machine.js';
import type { SqsRequests } from '../support/sqs-queue.js';

/** The goal: all N refreshed within this many times the ideal N/R. */
const GOAL_RATIO = 1.1;

export type FleetSettings = Pick<
  BrokerSettings,
  | 'hubRequestsPerSecond'
  | 'refreshConcurrency'
  | 'scheduleIntervalMs'
  | 'refreshAheadMs'
  | 'keysPerMessage'
  | 'dueShards'
> & { readonly batchSize: number; readonly pacingMs: number };

export interface FleetResult {
  readonly items: number;
  readonly rate: number;
  readonly hubLatencyMs: number;
  readonly settings: FleetSettings;
  readonly completed: boolean;
  readonly renewed: number;
  /** Time to refresh all N, or, when stopped early, N at the steady pace reached (`projected`). */
  readonly wallMs: number;
  readonly projected: boolean;
  /** How long the run actually went. */
  readonly ranMs: number;
  readonly idealMs: number;
  /** wallMs / idealMs; the goal is at most 1.1. */
  readonly ratio: number;
  readonly goalMet: boolean;
  readonly achievedPerSecond: number;
  /** Renewals per second between 10 % and 90 % of the run: the fleet's pace once started. */
  readonly steadyPerSecond: number;
  readonly outcomes: OutcomeCounts;
  readonly failures: Readonly<Record<string, number>>;
  readonly crashes: number;
  readonly hub: {
    readonly requests: number;
    readonly refreshTokenGrants: number;
    readonly clientCredentialsGrants: number;
    readonly ok: number;
    readonly rateLimited: number;
    readonly peakPerSecond: number;
    readonly peakPer10Seconds: number;
    /** Hub requests in each second of the run, from its start. */
    readonly perSecond: readonly number[];
  };
  readonly dynamo: DynamoCounts;
  /** Per renewed token. */
  readonly perToken: {
    readonly requests: Readonly<Record<string, number>>;
    readonly total: number;
    readonly readUnits: number;
    readonly writeUnits: number;
    readonly indexWriteUnits: number;
    readonly dueIndexItemsRead: number;
  };
  readonly secretsManagerReads: number;
  readonly sweeps: { readonly runs: number; readonly backlogRuns: number; readonly keysEnqueued: number };
  readonly sqs: { readonly messagesSent: number; readonly requests: SqsRequests };
  readonly workers: { readonly invocations: number; readonly containers: number; readonly medianMs: number };
  /** Items still due after the run (should be 0). */
  readonly stillDue: number;
  readonly seedMs: number;
  readonly cpu: { readonly benchProcess: number; readonly dynalite: number };
  /** dynalite alone, before the run: conditional UpdateItems a second, 64 clients in parallel. */
  readonly dynaliteUpdatesPerSecond: number;
  readonly machine: Machine;
  readonly command: string;
}

/** What one run counted and sampled. */
export interface FleetMeasurement {
  readonly items: number;
  readonly rate: number;
  readonly hubLatencyMs: number;
  readonly settings: FleetSettings;
  readonly idealMs: number;
  /** From the first sweep to the last renewal, or to the timeout. */
  readonly ranMs: number;
  /** [ms since the start, renewed so far], every 100 ms. */
  readonly samples: ReadonlyArray<readonly [number, number]>;
  readonly log: HandlerLog;
  readonly hub: {
    /** Epoch ms of the first sweep: second 0 of `perSecond`. */
    readonly startEpoch: number;
    readonly requests: readonly RecordedRequest[];
    readonly refreshTokenGrants: number;
    readonly clientCredentialsGrants: number;
    readonly ok: number;
    readonly rateLimited: number;
  };
  readonly dynamo: DynamoCounts;
  readonly secretsManagerReads: number;
  readonly sqs: { readonly messagesSent: number; readonly requests: SqsRequests };
  readonly workers: PoolStats;
  /** CPU seconds used during the run. */
  readonly cpuSeconds: { readonly benchProcess: number; readonly dynalite: number };
  readonly stillDue: number;
  readonly seedMs: number;
  readonly dynaliteUpdatesPerSecond: number;
  readonly machine: Machine;
  readonly command: string;
}

export function summarizeFleet(run: FleetMeasurement): FleetResult {
  const { items, log, ranMs, dynamo } = run;
  const renewed = log.renewed();
  const steadyPerSecond = steadyPace(run.samples, items);
  const completed = renewed >= items;
  const wallMs = completed ? ranMs : ranMs + ((items - renewed) / steadyPerSecond) * 1000;
  const perRenewed = (value: number) => (renewed === 0 ? Number.NaN : value / renewed);
  const ranSeconds = ranMs / 1000;
  return {
    items,
    rate: run.rate,
    hubLatencyMs: run.hubLatencyMs,
    settings: run.settings,
    completed,
    renewed,
    wallMs,
    projected: !completed,
    ranMs,
    idealMs: run.idealMs,
    ratio: wallMs / run.idealMs,
    goalMet: completed && wallMs <= GOAL_RATIO * run.idealMs,
    achievedPerSecond: renewed / ranSeconds,
    steadyPerSecond,
    outcomes: { ...log.outcomes },
    failures: { ...log.failures },
    crashes: log.crashes,
    hub: {
      requests: run.hub.requests.length,
      refreshTokenGrants: run.hub.refreshTokenGrants,
      clientCredentialsGrants: run.hub.clientCredentialsGrants,
      ok: run.hub.ok,
      rateLimited: run.hub.rateLimited,
      peakPerSecond: peakInWindow(run.hub.requests, 1000),
      peakPer10Seconds: peakInWindow(run.hub.requests, 10_000),
      perSecond: perSecond(run.hub.requests, run.hub.startEpoch, wallMs),
    },
    dynamo,
    perToken: {
      requests: Object.fromEntries(
        Object.entries(dynamo.requests).map(([name, count]) => [name, perRenewed(count)]),
      ),
      total: perRenewed(dynamo.total),
      readUnits: perRenewed(dynamo.readUnits),
      writeUnits: perRenewed(dynamo.writeUnits),
      indexWriteUnits: perRenewed(dynamo.indexWriteUnits),
      dueIndexItemsRead: perRenewed(dynamo.queryItems),
    },
    secretsManagerReads: run.secretsManagerReads,
    sweeps: {
      runs: log.sweeps.length,
      backlogRuns: log.sweeps.filter((sweep) => sweep.backlog).length,
      keysEnqueued: log.sweeps.reduce((sum, sweep) => sum + sweep.enqueued, 0),
    },
    sqs: run.sqs,
    workers: {
      invocations: run.workers.invocations,
      containers: run.workers.containers,
      medianMs: run.workers.medianMs,
    },
    stillDue: run.stillDue,
    seedMs: run.seedMs,
    cpu: {
      benchProcess: run.cpuSeconds.benchProcess / ranSeconds,
      dynalite: run.cpuSeconds.dynalite / ranSeconds,
    },
    dynaliteUpdatesPerSecond: run.dynaliteUpdatesPerSecond,
    machine: run.machine,
    command: run.command,
  };
}

/** Renewals per second between 10 % and 90 % of the items; stopped early, from 10 % to the end. */
function steadyPace(samples: FleetMeasurement['samples'], items: number): number {
  const first = samples.find(([, count]) => count >= 0.1 * items);
  if (first === undefined) return Number.NaN;
  const paceTo = (end: readonly [number, number] | undefined) =>
    end !== undefined && end[0] > first[0] ? (end[1] - first[1]) / ((end[0] - first[0]) / 1000) : undefined;
  return (
    paceTo(samples.find(([, count]) => count >= 0.9 * items)) ??
    paceTo(samples[samples.length - 1]) ??
    Number.NaN
  );
}

/** Hub requests in each second from `startEpoch`, over the (projected) wall time. */
function perSecond(requests: readonly { at: number }[], startEpoch: number, wallMs: number): number[] {
  const seconds = new Array<number>(Math.ceil(wallMs / 1000) + 1).fill(0);
  for (const { at } of requests) {
    const second = Math.floor((at - startEpoch) / 1000);
    if (second >= 0 && second < seconds.length) seconds[second] = (seconds[second] ?? 0) + 1;
  }
  return seconds;
}

/** The run's one line for the console. */
export function describeFleet(result: FleetResult): string {
  const { completed, ranMs, renewed, items, wallMs, steadyPerSecond, cpu } = result;
  return (
    `  ${completed ? 'done' : `STOPPED after ${(ranMs / 1000).toFixed(0)} s, projected`}: ${renewed}/${items} in ` +
    `${(wallMs / 1000).toFixed(1)} s = ${result.ratio.toFixed(2)} × N/R (${result.achievedPerSecond.toFixed(0)}/s, steady ` +
    `${steadyPerSecond.toFixed(0)}/s); Hub ${result.hub.requests} requests (${result.hub.rateLimited} × 429, ` +
    `peak ${result.hub.peakPerSecond}/s); DynamoDB ${result.perToken.total.toFixed(2)} requests/token; ` +
    `SM reads ${result.secretsManagerReads}; CPU bench ${(cpu.benchProcess * 100).toFixed(0)} %, dynalite ` +
    `${(cpu.dynalite * 100).toFixed(0)} % of a core`
  );
}
