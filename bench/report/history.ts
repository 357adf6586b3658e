/** Headline figures of every full run (docs/bench-history.json), and the last few in docs/BENCHMARKS.md. */
import type { CompareResult } from '../compare/summary.js';
import type { FleetResult } from '../refresh-fleet/summary.js';
import type { Machine } from '../support/machine.js';
import { shortFleetLabel } from './fleet.js';
import { fixed, ms, table } from './format.js';

/** Headline figures of one full run, kept to show run-to-run noise. */
export interface HistoryEntry {
  readonly at: string;
  readonly loadAverage: string;
  readonly commit?: string;
  readonly totalSeconds?: number;
  readonly warmReadP50Us?: number;
  readonly coldReadRatio?: number;
  readonly hubOverMinimum?: number;
  readonly brokerP50Ms?: number;
  readonly brokerP99Ms?: number;
  readonly cachingP99Ms?: number;
  readonly fleet?: ReadonlyArray<{
    readonly label: string;
    readonly ratio: number;
    readonly perSecond: number;
  }>;
}

export function historySection(history: readonly HistoryEntry[]): string {
  if (history.length === 0) return '_no runs yet_';
  const recent = history.slice(-8);
  const fleetLabels = [...new Set(recent.flatMap((entry) => (entry.fleet ?? []).map((run) => run.label)))];
  return table(
    [
      'run',
      'commit',
      'load avg',
      'warm p50',
      'cold ratio',
      'Hub / min',
      'broker p50 / p99',
      'caching p99',
      ...fleetLabels.map((label) => `fleet ${label}`),
    ],
    ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', ...fleetLabels.map(() => 'r' as const)],
    recent.map((entry) => [
      entry.at,
      entry.commit ?? '–',
      entry.loadAverage,
      entry.warmReadP50Us === undefined ? '–' : `${fixed(entry.warmReadP50Us)} µs`,
      entry.coldReadRatio === undefined ? '–' : fixed(entry.coldReadRatio, 3),
      entry.hubOverMinimum === undefined ? '–' : fixed(entry.hubOverMinimum),
      entry.brokerP50Ms === undefined
        ? '–'
        : `${ms(entry.brokerP50Ms)} / ${ms(entry.brokerP99Ms ?? Number.NaN)}`,
      entry.cachingP99Ms === undefined ? '–' : ms(entry.cachingP99Ms),
      ...fleetLabels.map((label) => {
        const run = entry.fleet?.find((candidate) => candidate.label === label);
        return run === undefined ? '–' : `${fixed(run.ratio)} × (${fixed(run.perSecond, 0)}/s)`;
      }),
    ]),
  );
}

/** The entry for a run: `compare` and `fleet` are what it ran, not what was stored before. */
export function historyEntry(results: {
  readonly compare?: CompareResult;
  readonly fleet?: readonly FleetResult[];
  readonly ranAt?: string;
  readonly machine?: Machine;
  readonly totalSeconds?: number;
}): HistoryEntry {
  const compare = results.compare;
  const broker = compare?.approaches.find((approach) => approach.name === 'broker');
  const caching = compare?.approaches.find((approach) => approach.name === 'caching');
  return {
    at: results.ranAt ?? new Date().toISOString(),
    loadAverage: results.machine?.loadAverage ?? 'unknown',
    ...(results.machine?.commit === undefined ? {} : { commit: results.machine.commit }),
    ...(results.totalSeconds === undefined ? {} : { totalSeconds: results.totalSeconds }),
    ...(compare === undefined
      ? {}
      : {
          warmReadP50Us: compare.warmRead.p50Us,
          coldReadRatio: compare.coldRead.ratio,
          ...(broker === undefined
            ? {}
            : {
                hubOverMinimum: broker.hubRequests / compare.minimumHubRequests,
                brokerP50Ms: broker.latency.p50,
                brokerP99Ms: broker.latency.p99,
              }),
          ...(caching === undefined ? {} : { cachingP99Ms: caching.latency.p99 }),
        }),
    ...(results.fleet === undefined
      ? {}
      : {
          fleet: results.fleet.map((run) => ({
            label: shortFleetLabel(run),
            ratio: run.ratio,
            perSecond: run.achievedPerSecond,
          })),
        }),
  };
}
