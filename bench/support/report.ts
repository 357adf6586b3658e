/**
 * docs/BENCHMARKS.md: the generated parts (between `<!-- BEGIN GENERATED: name -->` and
 * `<!-- END GENERATED: name -->`) are rewritten from the results; everything else in the file is
 * hand-written and kept.
 */

import type { ColdStartResult } from '../cold-start.js';
import type { ApproachResult, CompareResult, StampedeResult } from '../compare.js';
import type { FleetResult } from '../refresh-fleet.js';
import type { Machine } from './machine.js';

export interface BenchResults {
  readonly compare?: CompareResult;
  readonly coldStart?: ColdStartResult;
  readonly fleet?: readonly FleetResult[];
  readonly history?: readonly HistoryEntry[];
  readonly ranAt?: string;
  readonly machine?: Machine;
  readonly totalSeconds?: number;
}

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

const fixed = (value: number, digits = 2): string =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';
const int = (value: number): string =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
const usd = (value: number): string => (value >= 0.1 ? `$${fixed(value, 2)}` : `$${value.toPrecision(2)}`);
const ms = (value: number): string =>
  value < 0.1 ? `${fixed(value * 1000, 1)} µs` : `${fixed(value, value < 10 ? 2 : 1)} ms`;

function table(
  header: readonly string[],
  align: readonly ('l' | 'r')[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(header),
    line(align.map((side) => (side === 'r' ? '---:' : '---'))),
    ...rows.map((row) => line(row)),
  ].join('\n');
}

export function fleetLabel(run: FleetResult): string {
  return `${int(run.items)} items, R = ${int(run.rate)}/s, sweep every ${run.settings.scheduleIntervalMs / 1000} s`;
}

/** `10k @ 200/s, 5 s`: for the history table's column heads. */
export function shortFleetLabel(run: Pick<FleetResult, 'items' | 'rate' | 'settings'>): string {
  return `${run.items / 1000}k @ ${run.rate}/s, ${run.settings.scheduleIntervalMs / 1000} s`;
}

function goals(results: BenchResults): string {
  const rows: string[][] = [];
  const compare = results.compare;
  if (compare !== undefined) {
    const broker = compare.approaches.find((approach) => approach.name === 'broker');
    rows.push([
      'warm consumer read p50 ≤ 5 µs',
      `${fixed(compare.warmRead.p50Us)} µs (p99 ${fixed(compare.warmRead.p99Us)} µs)`,
      compare.warmRead.p50Us <= 5 ? 'met' : '**missed**',
    ]);
    rows.push([
      'cold consumer read ≤ 1.1 × a bare GetItem',
      `${fixed(compare.coldRead.ratio, 3)} × (${ms(compare.coldRead.consumerMedianMs)} vs ${ms(compare.coldRead.bareGetItemMedianMs)}, medians)`,
      compare.coldRead.ratio <= 1.1 ? 'met' : '**missed**',
    ]);
    if (broker !== undefined) {
      const over = broker.hubRequests / compare.minimumHubRequests;
      rows.push([
        'Hub token requests ≤ 1.2 × the minimum the lifetimes require',
        `${fixed(over)} × (${int(broker.hubRequests)} vs ${int(compare.minimumHubRequests)})`,
        over <= 1.2 ? 'met' : '**missed**',
      ]);
    }
    const stampede = compare.stampede.find((entry) => entry.name === 'broker');
    if (stampede !== undefined) {
      rows.push([
        `stampede: ${int(stampede.requests)} cold requests across ${stampede.containers} containers → 1 token request`,
        `${int(stampede.hubRequests)} token request(s), ${stampede.errors} errors`,
        stampede.hubRequests === 1 && stampede.errors === 0 ? 'met' : '**missed**',
      ]);
    }
  }
  for (const run of results.fleet ?? []) {
    const measured = run.completed
      ? `${fixed(run.ratio)} × (${fixed(run.wallMs / 1000, 1)} s vs ${fixed(run.idealMs / 1000, 1)} s)`
      : `≈ ${fixed(run.ratio)} × projected (${int(run.renewed)} of ${int(run.items)} in ${fixed(run.ranMs / 1000, 0)} s, ${fixed(run.steadyPerSecond, 0)}/s)`;
    rows.push([
      `${int(run.items)} due items refreshed within 1.1 × N/R (R = ${int(run.rate)}/s, sweep every ${run.settings.scheduleIntervalMs / 1000} s)`,
      measured,
      run.goalMet ? 'met' : '**missed**',
    ]);
  }
  return table(['goal', 'measured', ''], ['l', 'l', 'l'], rows);
}

function machine(results: BenchResults): string {
  const m = results.machine ?? results.compare?.machine ?? results.fleet?.[0]?.machine;
  if (m === undefined) return '_not run yet_';
  return [
    `- CPU: ${m.cpuModel}, \`nproc\` = ${m.nproc}; memory: ${m.memory}; ${m.platform}; Node.js ${m.node}`,
    `- code: commit ${m.commit ?? 'unknown'}`,
    `- load average when the run ended: ${m.loadAverage}${results.ranAt === undefined ? '' : `; run at ${results.ranAt}`}` +
      (results.totalSeconds === undefined ? '' : `, ${fixed(results.totalSeconds / 60, 1)} minutes in all`),
    '- reproduce: `npm run bench` (all of it, ~15 minutes; `npm run bench -- --quick` for a smaller smoke run that writes nothing)',
    '- parts: `npx tsx bench/compare.ts`, `npx tsx bench/cold-start.ts`, `npx tsx bench/refresh-fleet.ts --items=10000 --rate=200`',
  ].join('\n');
}

function approachRows(approaches: readonly ApproachResult[], minimum: number): string {
  const cell = (pick: (a: ApproachResult) => string) => approaches.map(pick);
  const rows: string[][] = [
    [
      'token requests reaching the Hub',
      ...cell((a) => `${int(a.hubRequests)} (${fixed(a.hubRequests / minimum)} × min)`),
    ],
    ['Secrets Manager reads', ...cell((a) => int(a.secretsManagerReads))],
    [
      'DynamoDB requests',
      ...cell((a) =>
        a.dynamo.total === 0
          ? '0'
          : `${int(a.dynamo.total)} (${Object.entries(a.dynamo.requests)
              .map(([name, count]) => `${name} ${int(count)}`)
              .join(', ')})`,
      ),
    ],
    [
      'Lambda invokes (besides the consumers)',
      ...cell((a) =>
        a.lambdaInvokes === 0
          ? '0'
          : `${int(a.lambdaInvokes)} (mint ${a.lambda.mint.invocations}, sweep ${a.lambda.sweep.invocations}, refresh ${a.lambda.refresh.invocations})`,
      ),
    ],
    ['consumer latency p50', ...cell((a) => ms(a.latency.p50))],
    ['consumer latency p99', ...cell((a) => ms(a.latency.p99))],
    ['consumer latency max', ...cell((a) => ms(a.latency.max))],
    [
      'where calls were answered',
      ...cell((a) =>
        Object.entries(a.bySource)
          .map(
            ([source, entry]) => `${source} ${int(entry?.count ?? 0)} (p50 ${ms(entry?.p50 ?? Number.NaN)})`,
          )
          .join(', '),
      ),
    ],
    ['**USD per million consumer calls**', ...cell((a) => `**${usd(a.cost.perMillionCalls)}**`)],
  ];
  return table(['', ...approaches.map((a) => a.label)], ['l', ...approaches.map(() => 'r' as const)], rows);
}

function costRows(approaches: readonly ApproachResult[]): string {
  const names = Object.keys(approaches[0]?.cost.items ?? {});
  const rows = names.map((name) => [
    name,
    ...approaches.map((a) => {
      const value = ((a.cost.items[name] ?? 0) / a.calls) * 1e6;
      return value === 0 ? '–' : usd(value);
    }),
  ]);
  rows.push(['**total**', ...approaches.map((a) => `**${usd(a.cost.perMillionCalls)}**`)]);
  return table(
    ['USD per million consumer calls', ...approaches.map((a) => a.label)],
    ['l', ...approaches.map(() => 'r' as const)],
    rows,
  );
}

function stampedeRows(stampede: readonly StampedeResult[]): string {
  const labels: Record<string, string> = { naive: '1. naive', caching: '2. caching', broker: '3. broker' };
  return table(
    [
      'approach',
      'Hub token requests',
      'Secrets Manager reads',
      'mint invokes (containers)',
      'DynamoDB requests',
      'p50',
      'p99',
      'max',
      'errors',
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    stampede.map((s) => [
      labels[s.name] ?? s.name,
      int(s.hubRequests),
      int(s.secretsManagerReads),
      s.lambdaInvokes === 0 ? '–' : `${int(s.lambdaInvokes)} (${s.mintContainers})`,
      int(s.dynamoRequests),
      ms(s.latency.p50),
      ms(s.latency.p99),
      ms(s.latency.max),
      String(s.errors),
    ]),
  );
}

function compareSection(compare: CompareResult): string {
  const o = compare.options;
  const p = compare.prices;
  return [
    `K = ${o.containers} consumer containers, ${o.organizations} token keys (one scope set for each of ${o.organizations} organizations), ` +
      `M = ${int(o.calls)} calls evenly spread over one simulated hour (container and key drawn at random, seed ${o.seed}, ` +
      `the same sequence for every approach), Hub latency ${o.hubLatencyMs} ms, ${o.tokenLifetimeSeconds / 60}-minute tokens. ` +
      `The minimum the token lifetimes require for these calls: **${int(compare.minimumHubRequests)}** token requests ` +
      '(for each key, the fewest tokens such that every call finds one valid for at least 60 s more).',
    '',
    approachRows(compare.approaches, compare.minimumHubRequests),
    '',
    '![Hub token requests, Secrets Manager reads, p99 latency and cost per approach](benchmarks.svg)',
    '',
    `Costs, from the counts above (${p.source}; Lambda $${p.lambdaGbSecond} per GB-s arm64 and $0.20 per million requests, ` +
      'DynamoDB $0.125 per million RRU and $0.625 per million WRU as computed by dynalite, plus 2 WRU per move of a due-index ' +
      "entry, SQS $0.40 per million requests plus Lambda's idle long polls (~890 an hour, docs/deploy.md), EventBridge " +
      `Scheduler $1 per million, Secrets Manager $0.05 per 10,000 calls; the consumers' time spent waiting for a token at ` +
      `${p.consumerMemoryGb * 1024} MB). Monthly fixed costs (the secret, the broker's alarms and dashboard) are left out.`,
    '',
    costRows(compare.approaches),
    '',
    `**Stampede**: ${int(compare.stampede[0]?.requests ?? 0)} concurrent requests for one key nobody has asked for yet, spread ` +
      `over ${compare.stampede[0]?.containers ?? 0} fresh containers, real time:`,
    '',
    stampedeRows(compare.stampede),
    '',
    `**Consumer client reads.** Warm (memory) read, ${int(compare.warmRead.calls)} calls in a tight loop, each timed: ` +
      `p50 **${fixed(compare.warmRead.p50Us)} µs**, p99 ${fixed(compare.warmRead.p99Us)} µs, mean ${fixed(compare.warmRead.meanUs)} µs. ` +
      `Cold read (a new client, the key in the table), median of ${int(compare.coldRead.samples)}: ` +
      `**${ms(compare.coldRead.consumerMedianMs)}** against a bare \`GetItem\` of the same item on the same client ` +
      `${ms(compare.coldRead.bareGetItemMedianMs)} (**${fixed(compare.coldRead.ratio, 3)} ×**) and a bare \`GetItem\` with the ` +
      `consumer's projection ${ms(compare.coldRead.bareProjectedMedianMs)}.`,
    '',
    `Command: \`${compare.command}\``,
  ].join('\n');
}

function coldStartSection(result: ColdStartResult): string {
  const kib = (bytes: number) => `${fixed(bytes / 1024, 0)} KiB`;
  return [
    table(
      [
        'function',
        'bundle (gzip)',
        'bare bundle',
        'init: import',
        'import + first set-up',
        'bare handler: import',
      ],
      ['l', 'r', 'r', 'r', 'r', 'r'],
      result.rows.map((row) => [
        row.name,
        `${kib(row.bytes)} (${kib(row.gzipBytes)})`,
        kib(row.bareBytes),
        ms(row.importMs),
        Number.isFinite(row.importAndSetupMs) ? ms(row.importAndSetupMs) : 'n/a (needs I/O)',
        ms(row.bareImportMs),
      ]),
    ),
    '',
    `Medians of ${result.processes} fresh \`node\` processes each, real and bare interleaved. Command: \`${result.command}\``,
  ].join('\n');
}

function fleetSection(runs: readonly FleetResult[]): string {
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

function historySection(history: readonly HistoryEntry[]): string {
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

export function historyEntry(results: BenchResults): HistoryEntry {
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

export function generatedSections(results: BenchResults): Record<string, string> {
  return {
    goals: goals(results),
    machine: machine(results),
    compare: results.compare === undefined ? '_not run yet_' : compareSection(results.compare),
    'cold-start': results.coldStart === undefined ? '_not run yet_' : coldStartSection(results.coldStart),
    'refresh-fleet': fleetSection(results.fleet ?? []),
    history: historySection(results.history ?? []),
  };
}

/** Replaces each generated section of `document`; a section whose markers are missing is appended. */
export function updateDocument(document: string, sections: Readonly<Record<string, string>>): string {
  let text = document;
  for (const [name, body] of Object.entries(sections)) {
    const begin = `<!-- BEGIN GENERATED: ${name} -->`;
    const end = `<!-- END GENERATED: ${name} -->`;
    const block = `${begin}\n${body}\n${end}`;
    const start = text.indexOf(begin);
    const stop = text.indexOf(end);
    if (start >= 0 && stop > start) {
      text = `${text.slice(0, start)}${block}${text.slice(stop + end.length)}`;
    } else {
      text = `${text.trimEnd()}\n\n${block}\n`;
    }
  }
  return text;
}
