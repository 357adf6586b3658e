/**
 * The realistic-day benchmark on its own (bench/realistic-day/): the result printed as JSON, nothing
 * written. `npm run bench -- --only=realistic-day` runs it and writes docs/bench-realistic-day.json,
 * docs/BENCHMARKS.md and the cost table in docs/deploy.md.
 */
import { readFile } from 'node:fs/promises';
import type { CompareResult } from './compare/summary.js';
import { DEFAULT_SEED, FULL_SCALES, runRealisticDay } from './realistic-day/experiment.js';
import { FALLBACK_UNITS } from './realistic-day/units.js';
import { numberFlag, parseCommandLine, UsageError } from './support/cli.js';

const USAGE = `
Usage: npx tsx bench/realistic-day.ts [--keys=N,…] [--seed=S] [--skip-calibration]

A simulated day of token keys of skewed popularity (1 % used every minute, 10 % hourly, the rest a few
times a day), and a day of every key always in use, under the previous (eager) and the current
(demand-driven) refresh policy; counts, consumer latency and the monthly cost of each. Reads the
latencies of docs/bench-compare.json; prints the result as JSON.

  --keys=N,…          populations to simulate (default ${FULL_SCALES.join(',')})
  --seed=S            seed of the population, refresh jitter and latency draws (default ${DEFAULT_SEED})
  --skip-calibration  use the request units test/integration/refresh-writes.test.ts asserts instead
                      of measuring them on dynalite
  -h, --help          this text
`;

const options = parseCommandLine(
  USAGE,
  { keys: { type: 'string' }, seed: { type: 'string' }, 'skip-calibration': { type: 'boolean' } },
  (values) => {
    const scales =
      values.keys === undefined
        ? FULL_SCALES
        : values.keys
            .split(',')
            .map((text) => numberFlag('keys', text, { integer: true, min: 1, max: 1_000_000 }) ?? 0);
    if (scales.length === 0) throw new UsageError('--keys needs at least one population');
    return {
      scales,
      seed: numberFlag('seed', values.seed, { integer: true, min: 0 }) ?? DEFAULT_SEED,
      skipCalibration: values['skip-calibration'] === true,
    };
  },
);
const compare = JSON.parse(
  await readFile(new URL('../docs/bench-compare.json', import.meta.url), 'utf8'),
) as CompareResult;
const result = await runRealisticDay({
  compare,
  scales: options.scales,
  seed: options.seed,
  ...(options.skipCalibration ? { calibration: { source: 'fallback', units: FALLBACK_UNITS } } : {}),
  log: (line) => console.error(line),
});
console.log(JSON.stringify(result, null, 2));
