/**
 * docs/BENCHMARKS.md: the generated parts (between `<!-- BEGIN GENERATED: name -->` and
 * `<!-- END GENERATED: name -->`) are rewritten from the results; everything else in the file is
 * hand-written and kept.
 */
import type { ColdStartResult } from '../cold-start.js';
import type { CompareResult } from '../compare/summary.js';
import type { RealisticDayResult } from '../realistic-day/experiment.js';
import type { FleetResult } from '../refresh-fleet/summary.js';
import type { Machine } from '../support/machine.js';
import { compareSection } from './compare.js';
import { fleetSection } from './fleet.js';
import { fixed, int, ms, table } from './format.js';
import { type HistoryEntry, historySection } from './history.js';
import { realisticDayGoals, realisticDaySection } from './realistic-day.js';

export interface BenchResults {
  readonly compare?: CompareResult;
  readonly coldStart?: ColdStartResult;
  readonly fleet?: readonly FleetResult[];
  readonly realisticDay?: RealisticDayResult;
  readonly history?: readonly HistoryEntry[];
  readonly ranAt?: string;
  readonly machine?: Machine;
  readonly totalSeconds?: number;
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
  if (results.realisticDay !== undefined) rows.push(...realisticDayGoals(results.realisticDay));
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
    '- parts: `npx tsx bench/compare.ts`, `npx tsx bench/cold-start.ts`, `npx tsx bench/refresh-fleet.ts --items=10000 --rate=200`, `npx tsx bench/realistic-day.ts`',
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

export function generatedSections(results: BenchResults): Record<string, string> {
  return {
    goals: goals(results),
    machine: machine(results),
    compare: results.compare === undefined ? '_not run yet_' : compareSection(results.compare),
    'cold-start': results.coldStart === undefined ? '_not run yet_' : coldStartSection(results.coldStart),
    'refresh-fleet': fleetSection(results.fleet ?? []),
    'realistic-day':
      results.realisticDay === undefined ? '_not run yet_' : realisticDaySection(results.realisticDay),
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
