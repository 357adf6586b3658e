/**
 * What a consumer call costs in latency, by where it was answered, drawn from what the compare
 * benchmark measured (docs/bench-compare.json): the warm read loop for memory, the cold read for the
 * table, the simulated hour's mints for the mint. That file keeps medians and a few upper
 * percentiles, not samples, so each source is a log-normal through its median and one measured
 * upper point; `LATENCY_INPUTS` says which.
 */
import type { CompareResult } from '../compare/summary.js';

export type Source = 'memory' | 'table' | 'mint' | 'mintServed';
export const SOURCES: readonly Source[] = ['memory', 'table', 'mint', 'mintServed'];

export interface LogNormal {
  readonly medianMs: number;
  /** Standard deviation of ln(latency). */
  readonly sigma: number;
  /** Which measurements it was fitted to. */
  readonly from: string;
}

export type LatencyModel = Readonly<Record<Source, LogNormal>>;

/** The standard normal's quantile function (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [
    -39.6968302866538, 220.946098424521, -275.928510446969, 138.357751867269, -30.6647980661472,
    2.50662827745924,
  ];
  const b = [-54.4760987982241, 161.585836858041, -155.698979859887, 66.8013118877197, -13.2806815528857];
  const c = [
    -0.00778489400243029, -0.322396458041136, -2.40075827716184, -2.54973253934373, 4.37466414146497,
    2.93816398269878,
  ];
  const d = [0.00778469570904146, 0.32246712907004, 2.445134137143, 3.75440866190742];
  const poly = (k: readonly number[], x: number) => k.reduce((sum, coefficient) => sum * x + coefficient, 0);
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - 0.02425) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/** A log-normal through a median and the value at quantile `q`. */
function logNormalThrough(medianMs: number, upperMs: number, q: number, from: string): LogNormal {
  return { medianMs, sigma: Math.max(0, Math.log(upperMs / medianMs) / normalQuantile(q)), from };
}

export function latencyModel(compare: CompareResult): LatencyModel {
  const broker = compare.approaches.find((approach) => approach.name === 'broker');
  const mint = broker?.bySource.mint;
  const table = broker?.bySource.table;
  if (broker === undefined || mint === undefined || table === undefined) {
    throw new Error('docs/bench-compare.json has no broker latencies by source; run the compare benchmark');
  }
  const { warmRead, coldRead } = compare;
  // The simulated hour's p99 lies among its table reads: the calls above it are every mint (the
  // slowest by far) and the slowest table reads, so it is the table reads' quantile below.
  const above = broker.latency.count - Math.ceil(0.99 * broker.latency.count);
  const tableQuantile = (table.count - Math.max(0, above - mint.count)) / table.count;
  const tableSigma = logNormalThrough(table.p50, broker.latency.p99, tableQuantile, '').sigma;
  // Its slowest call is a mint: the top of mint.count samples, about their n/(n + 1) quantile.
  const mintModel = logNormalThrough(mint.p50, broker.latency.max, mint.count / (mint.count + 1), '');
  const hub = compare.options.hubLatencyMs;
  return {
    memory: logNormalThrough(
      warmRead.p50Us / 1000,
      warmRead.p99Us / 1000,
      0.99,
      `warm read loop: p50 ${warmRead.p50Us.toFixed(2)} µs, p99 ${warmRead.p99Us.toFixed(2)} µs`,
    ),
    table: {
      medianMs: coldRead.consumerMedianMs,
      sigma: tableSigma,
      from: `cold read median ${coldRead.consumerMedianMs.toFixed(2)} ms; spread of the simulated hour's table reads (p50 ${table.p50.toFixed(2)} ms, p${(100 * tableQuantile).toFixed(1)} ${broker.latency.p99.toFixed(2)} ms)`,
    },
    mint: {
      ...mintModel,
      from: `simulated hour's single mints of new keys: p50 ${mint.p50.toFixed(1)} ms, slowest of ${mint.count} ${broker.latency.max.toFixed(1)} ms (Hub ${hub} ms)`,
    },
    mintServed: {
      medianMs: Math.max(mint.p50 - hub, table.p50),
      sigma: mintModel.sigma,
      from: `the mint without its Hub exchange: p50 ${mint.p50.toFixed(1)} − ${hub} ms, same spread`,
    },
  };
}

/** Latencies drawn per call: seeded, so a run replays. */
export function latencyDrawer(model: LatencyModel, random: () => number): (source: Source) => number {
  let spare: number | undefined;
  const gaussian = () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
  return (source) => {
    const { medianMs, sigma } = model[source];
    return medianMs * Math.exp(sigma * gaussian());
  };
}

/** From 0.1 µs to 100 s, 200 bins a decade (1.2 % wide): percentiles far finer than the inputs' noise. */
const BINS_PER_DECADE = 200;
const LOWEST_DECADE = -4;
const DECADES = 9;

/** Latencies counted in logarithmic bins: millions of calls in fixed memory. */
export class LatencyHistogram {
  readonly #bins = new Float64Array(BINS_PER_DECADE * DECADES);
  #count = 0;

  add(ms: number): void {
    const bin = Math.min(
      this.#bins.length - 1,
      Math.max(0, Math.floor((Math.log10(ms) - LOWEST_DECADE) * BINS_PER_DECADE)),
    );
    this.#bins[bin] = (this.#bins[bin] ?? 0) + 1;
    this.#count += 1;
  }

  get count(): number {
    return this.#count;
  }

  /** Nearest-rank percentile, the bin's geometric middle; NaN when empty. */
  percentile(p: number): number {
    if (this.#count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let bin = 0; bin < this.#bins.length; bin++) {
      seen += this.#bins[bin] as number;
      if (seen >= rank) return 10 ** ((bin + 0.5) / BINS_PER_DECADE + LOWEST_DECADE);
    }
    return Number.NaN;
  }
}
