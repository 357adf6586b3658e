/** The refresh fleet runs in docs/BENCHMARKS.md: one column per run. */
import type { FleetResult } from '../refresh-fleet/summary.js';
import { fixed, int, ms, table } from './format.js';

export function fleetLabel(run: FleetResult): string {
  return `${int(run.items)} items, R = ${int(run.rate)}/s, sweep every ${run.settings.scheduleIntervalMs / 1000} s`;
}

/** `10k @ 200/s, 5 s`: for the history table's column heads. */
export function shortFleetLabel(run: Pick<FleetResult, 'items' | 'rate' | 'settings'>): string {
  return `${run.items / 1000}k @ ${run.rate}/s, ${run.settings.scheduleIntervalMs / 1000} s`;
}

export function fleetSection(runs: readonly FleetResult[]): string {
  if (runs.length === 0) return '_not run yet_';
  const header = ['', ...runs.map(fleetLabel)];
  const cells = (pick: (run: FleetResult) => string) => runs.map(pick);
  const rows: string[][] = [
    [
      'workers × pacing',
      ...cells(
        (r) =>
          `${r.settings.refreshConcurrency} × ${r.settings.pacingMs} ms (batch ${r.settings.batchSize} message of ${r.settings.keysPerMessage} keys)`,
      ),
    ],
    ['ideal N/R', ...cells((r) => `${fixed(r.idealMs / 1000, 1)} s`)],
    [
      '**wall time**',
      ...cells((r) =>
        r.completed
          ? `**${fixed(r.wallMs / 1000, 1)} s = ${fixed(r.ratio)} × N/R**`
          : `**≈ ${fixed(r.wallMs / 1000, 0)} s = ${fixed(r.ratio)} × N/R, projected**: stopped after ${fixed(r.ranMs / 1000, 0)} s with ${int(r.renewed)} refreshed`,
      ),
    ],
    [
      'refreshed / rate',
      ...cells(
        (r) =>
          `${int(r.renewed)} at ${fixed(r.achievedPerSecond, 0)}/s (${fixed(r.steadyPerSecond, 0)}/s between 10 % and 90 %)`,
      ),
    ],
    [
      'Hub requests',
      ...cells(
        (r) =>
          `${int(r.hub.requests)} (${int(r.hub.refreshTokenGrants)} refresh_token, ${int(r.hub.rateLimited)} × 429)`,
      ),
    ],
    [
      'Hub peak, 1 s / 10 s window',
      ...cells((r) => `${int(r.hub.peakPerSecond)} / ${int(r.hub.peakPer10Seconds)}`),
    ],
    [
      'DynamoDB requests per refreshed token',
      ...cells(
        (r) =>
          `${fixed(r.perToken.total, 3)} (${Object.entries(r.perToken.requests)
            .map(([name, value]) => `${name} ${fixed(value, 3)}`)
            .join(', ')})`,
      ),
    ],
    [
      'capacity per refreshed token',
      ...cells(
        (r) =>
          `${fixed(r.perToken.writeUnits)} WRU + ${fixed(r.perToken.indexWriteUnits)} index WRU, ${fixed(r.perToken.readUnits, 3)} RRU`,
      ),
    ],
    ['due-index items read per refreshed token', ...cells((r) => fixed(r.perToken.dueIndexItemsRead))],
    [
      'UpdateItem latency p50 / p99 (client side)',
      ...cells((r) => {
        const latency = r.dynamo.latency?.UpdateItem;
        return latency === undefined ? 'n/a' : `${ms(latency.p50)} / ${ms(latency.p99)}`;
      }),
    ],
    [
      'worker invocation, median',
      ...cells((r) => (r.workers.medianMs === undefined ? 'n/a' : ms(r.workers.medianMs))),
    ],
    [
      'skipped: duplicate deliveries (or a write fenced out)',
      ...cells(
        (r) =>
          `${int(r.outcomes.skipped)} (${fixed((100 * r.outcomes.skipped) / Math.max(1, r.renewed), 1)} %)`,
      ),
    ],
    [
      'failed refreshes (by code) / fell back / crashed',
      ...cells(
        (r) =>
          `${int(r.outcomes.failed)}${
            Object.keys(r.failures ?? {}).length === 0
              ? ''
              : ` (${Object.entries(r.failures)
                  .map(([code, count]) => `${code} ${int(count)}`)
                  .join(', ')})`
          } / ${int(r.outcomes['fell-back'])} / ${int(r.crashes)}`,
      ),
    ],
    [
      'Secrets Manager reads per run',
      ...cells((r) => `${int(r.secretsManagerReads)} (one per worker container)`),
    ],
    ['sweeps (with backlog)', ...cells((r) => `${int(r.sweeps.runs)} (${int(r.sweeps.backlogRuns)})`)],
    ['items still due afterwards', ...cells((r) => int(r.stillDue))],
    [
      'CPU used (share of one core)',
      ...cells(
        (r) => `bench ${fixed(r.cpu.benchProcess * 100, 0)} %, dynalite ${fixed(r.cpu.dynalite * 100, 0)} %`,
      ),
    ],
    [
      'dynalite alone (64 clients)',
      ...cells(
        (r) =>
          `${int(r.dynaliteUpdatesPerSecond)} UpdateItem/s ≈ ${int(r.dynaliteUpdatesPerSecond / 2)} refreshes/s`,
      ),
    ],
    ['seeding', ...cells((r) => `${fixed(r.seedMs / 1000, 1)} s`)],
    ['command', ...cells((r) => `\`${r.command}\``)],
  ];
  return table(header, ['l', ...runs.map(() => 'r' as const)], rows);
}
