/**
 * `npm run bench`: every benchmark, then docs/BENCHMARKS.md (its generated sections), the chart
 * docs/benchmarks.svg and the raw results docs/bench-*.json. Not part of `npm test`; the flags
 * (a quick smoke run, one part, the report alone) are in USAGE below and `npm run bench -- --help`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompareResult } from './compare/summary.js';
import type { RealisticDayResult } from './realistic-day/experiment.js';
import type { FleetOptions } from './refresh-fleet/experiment.js';
import type { FleetResult } from './refresh-fleet/summary.js';
import { compareChart } from './report/compare.js';
import { deployCostTable } from './report/cost-table.js';
import { type BenchResults, generatedSections, updateDocument } from './report/document.js';
import { type HistoryEntry, historyEntry } from './report/history.js';
import { parseCommandLine, UsageError } from './support/cli.js';
import { describeMachine } from './support/machine.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const DOCS = resolve(ROOT, 'docs');
const FILES = {
  compare: resolve(DOCS, 'bench-compare.json'),
  coldStart: resolve(DOCS, 'bench-cold-start.json'),
  fleet: resolve(DOCS, 'bench-refresh-fleet.json'),
  realisticDay: resolve(DOCS, 'bench-realistic-day.json'),
  history: resolve(DOCS, 'bench-history.json'),
  chart: resolve(DOCS, 'benchmarks.svg'),
  document: resolve(DOCS, 'BENCHMARKS.md'),
  /** Only its generated cost table ("What it costs") is rewritten. */
  deploy: resolve(DOCS, 'deploy.md'),
};

const PARTS = ['compare', 'cold-start', 'fleet', 'realistic-day'] as const;
type Part = (typeof PARTS)[number];

const FULL_FLEET: readonly FleetOptions[] = [
  { items: 10_000, rate: 200, scheduleIntervalMs: 5000 },
  // The production interval: how much of the 5 s run's overhead is the shortened schedule.
  { items: 10_000, rate: 200, scheduleIntervalMs: 60_000 },
  // Beyond what this machine can do (see docs/BENCHMARKS.md): stopped after 4 minutes, the rest projected.
  { items: 100_000, rate: 1000, scheduleIntervalMs: 5000, timeoutMs: 240_000 },
];
const QUICK_FLEET: readonly FleetOptions[] = [{ items: 2000, rate: 200, scheduleIntervalMs: 5000 }];
const QUICK_COMPARE = {
  calls: 300,
  containers: 5,
  organizations: 5,
  stampedeRequests: 200,
  stampedeContainers: 20,
  warmReads: 50_000,
  coldReads: 100,
} as const;

const USAGE = `
Usage: npm run bench -- [--quick] [--only=PART,…] [--fleet=ITEMS@RATE[@INTERVAL_MS[@TIMEOUT_S]],…] [--report-only]

Runs the benchmarks, then writes docs/BENCHMARKS.md (its generated sections), docs/benchmarks.svg,
the raw results docs/bench-*.json and the cost table in docs/deploy.md. All of it takes ~15 minutes
on 2 cores; realistic-day alone well under a minute (it reads compare's latencies).

  --quick            a small smoke run of every part; writes nothing
  --only=PART,…      only these parts (${PARTS.join(', ')}); the others' last results are kept
  --fleet=RUNS       the refresh fleet runs instead of the usual ones, e.g. --fleet=100000@250@5000;
                     stored runs with other parameters are kept
  --report-only      regenerate the document from the stored results; runs nothing
  -h, --help         this text
`;

/** `--fleet=ITEMS@RATE[@INTERVAL_MS[@TIMEOUT_S]],…`, e.g. `--fleet=100000@250@5000`. */
function parseFleetRuns(text: string): FleetOptions[] {
  return text.split(',').map((run) => {
    const [items, rate, interval, timeout] = run.split('@').map(Number);
    if (items === undefined || rate === undefined || !(items > 0) || !(rate > 0)) {
      throw new UsageError(`--fleet: "${run}" is not ITEMS@RATE[@INTERVAL_MS[@TIMEOUT_S]]`);
    }
    return {
      items,
      rate,
      ...(interval === undefined ? {} : { scheduleIntervalMs: interval }),
      ...(timeout === undefined ? {} : { timeoutMs: timeout * 1000 }),
    };
  });
}

/** Stored runs, with those of the same parameters replaced by the new ones; ordered by size. */
function mergeFleet(stored: readonly FleetResult[], fresh: readonly FleetResult[]): FleetResult[] {
  const key = (run: FleetResult) => `${run.items}@${run.rate}@${run.settings.scheduleIntervalMs}`;
  const freshKeys = new Set(fresh.map(key));
  return [...stored.filter((run) => !freshKeys.has(key(run))), ...fresh].sort(
    (a, b) =>
      a.items - b.items || a.rate - b.rate || a.settings.scheduleIntervalMs - b.settings.scheduleIntervalMs,
  );
}

async function readJson<T>(path: string): Promise<T | undefined> {
  if (!existsSync(path)) return undefined;
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

async function report(results: BenchResults): Promise<void> {
  if (results.compare !== undefined) await writeFile(FILES.chart, compareChart(results.compare));
  const document = existsSync(FILES.document)
    ? await readFile(FILES.document, 'utf8')
    : '# Benchmarks\n\nGenerated sections are rewritten by `npm run bench`; the rest is hand-written.\n';
  await writeFile(FILES.document, updateDocument(document, generatedSections(results)));
  if (results.realisticDay !== undefined) await writeDeployCosts(results.realisticDay);
  formatWritten();
}

/**
 * docs/deploy.md's cost table, between its `cost` markers only: the rest of that file is not the
 * benchmark's, so nothing is appended when the markers are missing, and the file is not reformatted.
 */
async function writeDeployCosts(result: RealisticDayResult): Promise<void> {
  const text = await readFile(FILES.deploy, 'utf8');
  if (!text.includes('<!-- BEGIN GENERATED: cost -->')) {
    console.warn(`${FILES.deploy} has no GENERATED cost markers; its cost table was not written`);
    return;
  }
  await writeFile(FILES.deploy, updateDocument(text, { cost: deployCostTable(result) }));
}

/** The project's formatter (Biome pads Markdown tables, lays out JSON), so `npm run lint` stays clean. */
function formatWritten(): void {
  const files = [
    FILES.document,
    FILES.compare,
    FILES.coldStart,
    FILES.fleet,
    FILES.realisticDay,
    FILES.history,
  ].filter((file) => existsSync(file));
  try {
    execFileSync(resolve(ROOT, 'node_modules/.bin/biome'), ['format', '--write', ...files], {
      cwd: ROOT,
      stdio: 'ignore',
    });
  } catch {
    console.warn('could not run biome format on the written files; run `npx biome format --write docs`');
  }
}

interface Invocation {
  readonly quick: boolean;
  readonly reportOnly: boolean;
  readonly only: readonly Part[];
  /** From --fleet; otherwise the usual runs. */
  readonly fleet: readonly FleetOptions[];
}

function parseInvocation(): Invocation {
  return parseCommandLine(
    USAGE,
    {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      fleet: { type: 'string' },
      'report-only': { type: 'boolean' },
    },
    (values) => {
      const quick = values.quick === true;
      const only = values.only === undefined ? [...PARTS] : values.only.split(',');
      for (const part of only) {
        if (!(PARTS as readonly string[]).includes(part))
          throw new UsageError(`--only: unknown part ${part}; one of ${PARTS.join(', ')}`);
      }
      return {
        quick,
        reportOnly: values['report-only'] === true,
        only: only as Part[],
        fleet: values.fleet === undefined ? (quick ? QUICK_FLEET : FULL_FLEET) : parseFleetRuns(values.fleet),
      };
    },
  );
}

// The parts are imported when they run: --help, a usage mistake and --report-only load none of
// the broker's code.
async function main(): Promise<void> {
  const { quick, reportOnly, only, fleet } = parseInvocation();
  const stored = {
    compare: await readJson<CompareResult>(FILES.compare),
    coldStart: await readJson<BenchResults['coldStart']>(FILES.coldStart),
    fleet: await readJson<FleetResult[]>(FILES.fleet),
    realisticDay: await readJson<RealisticDayResult>(FILES.realisticDay),
    history: (await readJson<HistoryEntry[]>(FILES.history)) ?? [],
  };
  if (reportOnly) {
    const lastFull = [...stored.history].reverse().find((entry) => entry.warmReadP50Us !== undefined);
    const machine = stored.compare?.machine ?? stored.fleet?.[0]?.machine;
    await report({
      ...stored,
      ...(machine === undefined
        ? {}
        : { machine: lastFull === undefined ? machine : { ...machine, loadAverage: lastFull.loadAverage } }),
      ...(lastFull === undefined ? {} : { ranAt: lastFull.at }),
      ...(lastFull?.totalSeconds === undefined ? {} : { totalSeconds: lastFull.totalSeconds }),
    });
    console.log(`regenerated ${FILES.document}`);
    return;
  }

  const startedAt = performance.now();
  const ran: {
    compare?: CompareResult;
    coldStart?: BenchResults['coldStart'];
    fleet?: FleetResult[];
    realisticDay?: RealisticDayResult;
  } = {};
  if (only.includes('compare')) {
    const { runCompare } = await import('./compare/experiment.js');
    ran.compare = await runCompare(quick ? QUICK_COMPARE : {});
    if (!quick) await writeJson(FILES.compare, ran.compare);
  }
  if (only.includes('cold-start')) {
    const { runColdStart } = await import('./cold-start.js');
    ran.coldStart = await runColdStart({ processes: quick ? 5 : 20 });
    if (!quick) await writeJson(FILES.coldStart, ran.coldStart);
  }
  if (only.includes('fleet')) {
    const { runRefreshFleet } = await import('./refresh-fleet/experiment.js');
    ran.fleet = [];
    for (const options of fleet) {
      ran.fleet.push(await runRefreshFleet(options));
      // Runs with other parameters (e.g. one made with --fleet) are kept.
      if (!quick) await writeJson(FILES.fleet, mergeFleet(stored.fleet ?? [], ran.fleet));
    }
  }
  if (only.includes('realistic-day')) {
    // The day's consumer latencies are drawn from the compare run's measurements.
    const compare = ran.compare ?? stored.compare;
    if (compare === undefined)
      throw new Error('realistic-day needs docs/bench-compare.json: run the compare part first');
    const { QUICK_SCALES, runRealisticDay } = await import('./realistic-day/experiment.js');
    ran.realisticDay = await runRealisticDay({
      compare,
      ...(quick ? { scales: QUICK_SCALES } : {}),
      log: (line) => console.log(`realistic-day: ${line}`),
    });
    if (!quick) await writeJson(FILES.realisticDay, ran.realisticDay);
  }
  const totalSeconds = (performance.now() - startedAt) / 1000;
  console.log(`benchmarks done in ${(totalSeconds / 60).toFixed(1)} minutes`);
  if (quick) {
    console.log('--quick: nothing written');
    return;
  }
  const results: BenchResults = {
    compare: ran.compare ?? stored.compare,
    coldStart: ran.coldStart ?? stored.coldStart,
    fleet: ran.fleet === undefined ? stored.fleet : mergeFleet(stored.fleet ?? [], ran.fleet),
    realisticDay: ran.realisticDay ?? stored.realisticDay,
    ranAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: describeMachine(),
    totalSeconds,
  };
  const history = [
    ...stored.history,
    historyEntry({ ...ran, ranAt: results.ranAt, machine: results.machine, totalSeconds }),
  ];
  await writeJson(FILES.history, history);
  await report({ ...results, history });
  console.log(`wrote ${FILES.document}, ${FILES.chart} and docs/bench-*.json`);
}

await main();
