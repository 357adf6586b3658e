/** docs/BENCHMARKS.md's realistic-day section and its goal rows, from docs/bench-realistic-day.json. */

import type { PolicyRun, RealisticDayResult, ScenarioRun } from '../realistic-day/experiment.js';
import { SOURCES } from '../realistic-day/latency.js';
import { IDLE_GAP_MS } from '../realistic-day/policies.js';
import { CLASSES, COLD_USES_PER_DAY } from '../realistic-day/population.js';
import { OPERATIONS, type Operation } from '../realistic-day/units.js';
import { dollars, scaleTable } from './cost-table.js';
import { fixed, int, ms, table } from './format.js';

/** Hot keys' p99 may move this much against eager's before it counts as worse (latency inputs' noise). */
const P99_NOISE = 1.1;

/** The realistic mix at its largest scale: the scenario the goals are about. */
export function headline(result: RealisticDayResult): ScenarioRun | undefined {
  return result.scenarios
    .filter((run) => run.mix === 'realistic')
    .reduce<ScenarioRun | undefined>(
      (best, run) => (best === undefined || run.keys > best.keys ? run : best),
      undefined,
    );
}

/** Eager over demand-driven; a dash where either did none of it. */
const ratio = (eager: number, demand: number): string =>
  eager > 0 && demand > 0 ? `${fixed(eager / demand)} ×` : '–';
const readUnits = (run: PolicyRun) => run.month.broker.readUnits + run.month.consumers.readUnits;
const writeUnits = (run: PolicyRun) => run.month.broker.writeUnits + run.month.consumers.writeUnits;
const invocations = (run: PolicyRun) =>
  run.month.lambda.mint.invocations +
  run.month.lambda.sweep.invocations +
  run.month.lambda.refresh.invocations;
const gbSeconds = (run: PolicyRun) =>
  run.month.lambda.mint.gbSeconds + run.month.lambda.sweep.gbSeconds + run.month.lambda.refresh.gbSeconds;

export function realisticDayGoals(result: RealisticDayResult): string[][] {
  const run = headline(result);
  if (run === undefined) return [];
  const { eager, demand } = run;
  const at = `realistic day, ${int(run.keys)} keys`;
  const hub = eager.day.hubRequests / demand.day.hubRequests;
  const cost = eager.cost.total / demand.cost.total;
  const rows = [
    [
      `${at}: ≥ 4 × fewer Hub token requests than the eager policy`,
      `${fixed(hub)} × (${int(eager.month.hubRequests)} vs ${int(demand.month.hubRequests)} a month)`,
      hub >= 4 ? 'met' : '**missed**',
    ],
    [
      `${at}: ≥ 4 × lower monthly cost than the eager policy`,
      `${fixed(cost)} × (${dollars(eager.cost.total)} vs ${dollars(demand.cost.total)})`,
      cost >= 4 ? 'met' : '**missed**',
    ],
  ];
  const hotEager = eager.day.byClass.hot.latency?.p99Ms;
  const hotDemand = demand.day.byClass.hot.latency?.p99Ms;
  if (hotEager !== undefined && hotDemand !== undefined) {
    rows.push([
      `${at}: hot keys' consumer p99 no worse than eager's (within 10 %)`,
      `${ms(hotDemand)} vs ${ms(hotEager)}`,
      hotDemand <= hotEager * P99_NOISE ? 'met' : '**missed**',
    ]);
  }
  const cold = demand.day.byClass.cold;
  rows.push([
    `${at}: cold keys pay at most one mint per use after idle`,
    `${fixed(cold.mints / cold.usesAfterIdle, 3)} mints per use after idle (${int(cold.mints)} mints, ${int(cold.usesAfterIdle)} uses ${IDLE_GAP_MS / 60_000} min or more after the key's previous use; ${int(cold.mintsInUse)} mints on other uses)`,
    cold.mints <= cold.usesAfterIdle ? 'met' : '**missed**',
  ]);
  return rows;
}

function headlineTable(run: ScenarioRun): string {
  const { eager, demand } = run;
  const row = (label: string, pick: (policy: PolicyRun) => number, format = int) => [
    label,
    format(pick(eager)),
    format(pick(demand)),
    ratio(pick(eager), pick(demand)),
  ];
  return table(
    ['', eager.label, demand.label, 'eager / demand'],
    ['l', 'r', 'r', 'r'],
    [
      row('Hub token requests a day', (policy) => policy.day.hubRequests),
      row('– scheduled refreshes', (policy) => policy.day.refreshes),
      row('– mints on demand', (policy) => policy.day.mintsWithHub),
      row('keys retired (left to expire) a day', (policy) => policy.day.retires),
      row('mints serving the stored token (use records) a day', (policy) => policy.day.mintsServed),
      row('consumer GetItems a day', (policy) => policy.day.consumerReads),
      row('consumer use reports a day', (policy) => policy.day.useReports),
      row('DynamoDB read units a month (broker + consumers)', readUnits),
      row('DynamoDB write units a month (broker + consumers)', writeUnits),
      row('Lambda invocations a month (mint, sweeper, worker)', invocations),
      row('Lambda GB-seconds a month', gbSeconds),
      row('SQS requests a month', (policy) => policy.month.sqsRequests),
      row('busiest minute: Hub token requests', (policy) => policy.day.peak.hubRequestsPerMinute),
      row(
        'busiest minute: keys one sweep hands out (retired ones included)',
        (policy) => policy.day.peak.keysPerSweep,
      ),
      row('Hub rate limit needed a minute (default 300)', (policy) => policy.sizing.hubLimitPerMinute),
      row('**cost a month**', (policy) => policy.cost.total, dollars),
    ],
  );
}

function callsTable(run: ScenarioRun): string {
  const rows: string[][] = [];
  for (const name of CLASSES) {
    for (const policy of [run.eager, run.demand]) {
      const counts = policy.day.byClass[name];
      const { memory, table: fromTable, mint } = counts.calls;
      const calls = memory + fromTable + mint;
      if (calls === 0) continue;
      const share = (count: number) => `${int(count)} (${fixed((100 * count) / calls, 1)} %)`;
      rows.push([
        name,
        int(counts.keys),
        policy.policy === 'eager' ? 'eager' : 'demand-driven',
        int(calls),
        share(memory),
        share(fromTable),
        share(mint),
        int(counts.hubRequests),
        counts.latency === undefined ? '–' : ms(counts.latency.p50Ms),
        counts.latency === undefined ? '–' : ms(counts.latency.p99Ms),
      ]);
    }
  }
  return table(
    ['keys', 'count', 'policy', 'calls a day', 'memory', 'table', 'mint', 'Hub requests a day', 'p50', 'p99'],
    ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows,
  );
}

function unitsTable(result: RealisticDayResult): string {
  const { units } = result.calibration;
  const number = (value: number) =>
    Number.isInteger(value) ? String(value) : fixed(value, value < 0.1 ? 4 : 2);
  return table(
    ['operation', 'read units', 'write units (index included)'],
    ['l', 'r', 'r'],
    (Object.keys(OPERATIONS) as Operation[]).map((operation) => [
      OPERATIONS[operation],
      number(units[operation].readUnits),
      number(units[operation].writeUnits),
    ]),
  );
}

function latencyTable(result: RealisticDayResult): string {
  const label = {
    memory: 'memory',
    table: 'table',
    mint: 'mint (Hub request)',
    mintServed: 'mint (stored token)',
  };
  return table(
    ['answered from', 'median', 'σ of ln', 'fitted to (docs/bench-compare.json)'],
    ['l', 'r', 'r', 'l'],
    SOURCES.map((source) => {
      const model = result.latency[source];
      return [label[source], ms(model.medianMs), fixed(model.sigma), model.from];
    }),
  );
}

export function realisticDaySection(result: RealisticDayResult): string {
  const run = headline(result);
  const { calibration } = result;
  const calibrated =
    calibration.source === 'measured'
      ? `measured on dynalite with the broker's own code on ${calibration.keys} keys whose items weigh ${int(calibration.itemBytes ?? Number.NaN)} bytes (four scopes)`
      : `**not measured** (${calibration.error ?? 'calibration skipped'}): the numbers test/integration/refresh-writes.test.ts asserts, the rest assumed`;
  const parts = [
    run === undefined
      ? '_no realistic-mix run_'
      : [
          `${int(run.keys)} keys: ${int(run.counts.hot)} hot (used every minute), ${int(run.counts.warm)} warm (once an hour at a random time), ${int(run.counts.cold)} cold (${COLD_USES_PER_DAY.min}–${COLD_USES_PER_DAY.max} uses a day at random times); each key used by one consumer container; 10-minute tokens, a sweep every minute, the construct's default settings; seed ${result.seed}, a 2-hour warm-up before the counted day. Monthly figures are the day × 30.`,
          '',
          headlineTable(run),
          '',
          'Consumer calls by where they were answered, and their latency (each call drawn from the distribution of its source, below):',
          '',
          callsTable(run),
        ].join('\n'),
    '',
    'Monthly cost at each scale (the realistic mix, and every key used every minute), both policies:',
    '',
    scaleTable(result),
    '',
    `Request units per operation, ${calibrated}:`,
    '',
    unitsTable(result),
    '',
    "dynalite reports no read units for a Query that finds nothing; DynamoDB bills it 0.5, so a sweep is counted at least 8 × 0.5. The Hub rate limit needed is the most of: the busiest minute's refreshes and its due keys (retired ones take a share of a sweep's budget too) within the workers' 80 % share, and all its token requests within the limit. The monthly costs assume a deployment with that limit (`hubRateLimit`).",
    '',
    `Latency by source (log-normal through each source's measured median and one measured upper point); a mint that asked the Hub is billed ${ms(result.mintWithHubMs)} (the compare run's mean):`,
    '',
    latencyTable(result),
    '',
    `Simulated in ${fixed(result.totalSeconds, 1)} s in all. Command: \`${result.command}\``,
  ];
  return parts.join('\n');
}
