/**
 * One simulated day of a policy on a population, on a simulated clock (nothing waits): a sweep at
 * every minute hands out the keys due by then (a key is found by the first sweep at or after its
 * refresh time) and the worker decides on each at once; then each consumer call of that minute is
 * answered from memory, the table or the mint. Counts what every part did during the day (the warm-up
 * before it counts nothing) and, optionally, each call's latency drawn by where it was answered.
 */
import { seededRandom } from '../support/random.js';
import { LatencyHistogram, type LatencyModel, latencyDrawer, type Source } from './latency.js';
import {
  type CallOutcome,
  IDLE_GAP_MS,
  KeyState,
  MEMORY,
  MEMORY_CHECK,
  MEMORY_CHECK_REPORT,
  MINT_HUB,
  MINT_SERVED,
  type Policy,
  REFRESH_LEASE,
  REFRESH_READ,
  RETIRE,
  SETTINGS,
  TABLE,
  TABLE_REPORT,
} from './policies.js';
import { CLASSES, DAY, type KeyClass, MINUTE, type Population } from './population.js';

/** The counted day starts here (a Monday); the warm-up runs before it. */
const DAY_START = Date.parse('2027-01-04T00:00:00Z');
/** SQS takes at most this many messages per SendMessageBatch. */
const SEND_BATCH = 10;

export interface ClassCounts {
  readonly keys: number;
  readonly calls: { memory: number; table: number; mint: number };
  /** Refreshes and mints of this class's keys. */
  hubRequests: number;
  mints: number;
  /** Calls whose key had not been used for longer than a remembered token serves (IDLE_GAP_MS). */
  usesAfterIdle: number;
  /** Mints on the other calls: the key was in use, yet its token was left to expire. */
  mintsInUse: number;
  latency?: { readonly p50Ms: number; readonly p99Ms: number };
}

export interface DayCounts {
  readonly policy: Policy['name'];
  hubRequests: number;
  refreshes: number;
  /** Refreshes whose key the worker had to lease first (0 when every key is found on time). */
  leaseRefreshes: number;
  retires: number;
  mintsWithHub: number;
  mintsServed: number;
  consumerReads: number;
  useReports: number;
  sweeps: number;
  dueKeys: number;
  messages: number;
  sendBatches: number;
  readonly peak: { refreshesPerMinute: number; hubRequestsPerMinute: number; keysPerSweep: number };
  readonly byClass: Record<KeyClass, ClassCounts>;
}

const SOURCE_OF: Readonly<Record<CallOutcome, Source>> = {
  [MEMORY]: 'memory',
  [TABLE]: 'table',
  [TABLE_REPORT]: 'table',
  [MINT_HUB]: 'mint',
  [MINT_SERVED]: 'mintServed',
  [MEMORY_CHECK]: 'memory',
  [MEMORY_CHECK_REPORT]: 'memory',
};

export interface SimulationOptions {
  readonly seed: number;
  /** Draw each counted call's latency; without it only counts are kept. */
  readonly latency?: LatencyModel;
}

export function simulateDay(population: Population, policy: Policy, options: SimulationOptions): DayCounts {
  const { keys, classOf, hotOffset, warmUpMs, minutes, first, callKey, callAt } = population;
  const start = DAY_START - warmUpMs;
  const buckets: Array<number[] | undefined> = new Array(minutes);
  const file = (key: number, dueAt: number) => {
    // Found by the first sweep at or after its refresh time.
    const minute = Math.ceil((dueAt - start) / MINUTE);
    if (minute >= minutes) return;
    const bucket = buckets[minute];
    if (bucket === undefined) buckets[minute] = [key];
    else bucket.push(key);
  };
  // The same refresh-time jitter for both policies; the population's own seed is separate.
  const state = new KeyState(keys, file, seededRandom(options.seed + 1));
  const random = seededRandom(options.seed + 2);
  // Before the warm-up every key has a token from a refresh at one of the last sweeps and a use some
  // time yesterday: the eager policy's steady state, which the demand-driven one then thins out.
  for (let key = 0; key < keys; key++) {
    const issuedAt = start - Math.floor(random() * 8) * MINUTE;
    state.issue(key, issuedAt, false);
    state.lastRequestedAt[key] = start - Math.floor(random() * DAY);
  }

  const byClass = Object.fromEntries(
    CLASSES.map((name) => [
      name,
      {
        keys: population.counts[name],
        calls: { memory: 0, table: 0, mint: 0 },
        hubRequests: 0,
        mints: 0,
        usesAfterIdle: 0,
        mintsInUse: 0,
      },
    ]),
  ) as Record<KeyClass, ClassCounts>;
  const counts: DayCounts = {
    policy: policy.name,
    hubRequests: 0,
    refreshes: 0,
    leaseRefreshes: 0,
    retires: 0,
    mintsWithHub: 0,
    mintsServed: 0,
    consumerReads: 0,
    useReports: 0,
    sweeps: 0,
    dueKeys: 0,
    messages: 0,
    sendBatches: 0,
    peak: { refreshesPerMinute: 0, hubRequestsPerMinute: 0, keysPerSweep: 0 },
    byClass,
  };
  const classCounts = CLASSES.map((name) => byClass[name]);
  const histograms = CLASSES.map(() => new LatencyHistogram());
  const draw =
    options.latency === undefined
      ? undefined
      : latencyDrawer(options.latency, seededRandom(options.seed + 3));
  const lastUse = new Float64Array(keys).fill(Number.NEGATIVE_INFINITY);
  let hubThisMinute = 0;

  const call = (key: number, now: number, counted: boolean) => {
    const outcome = policy.call(state, key, now);
    const previous = lastUse[key] as number;
    lastUse[key] = now;
    if (!counted) return;
    const cls = classOf[key] as number;
    const into = classCounts[cls] as ClassCounts;
    const afterIdle = now - previous > IDLE_GAP_MS;
    if (afterIdle) into.usesAfterIdle += 1;
    if (draw !== undefined) (histograms[cls] as LatencyHistogram).add(draw(SOURCE_OF[outcome]));
    if (outcome === MEMORY) {
      into.calls.memory += 1;
      return;
    }
    counts.consumerReads += 1;
    if (outcome === TABLE_REPORT || outcome === MEMORY_CHECK_REPORT) {
      // The report is an Event Invoke of the mint, which serves the stored token and records the use.
      counts.useReports += 1;
      counts.mintsServed += 1;
    }
    if (outcome === MEMORY_CHECK || outcome === MEMORY_CHECK_REPORT) {
      into.calls.memory += 1;
      return;
    }
    if (outcome === TABLE || outcome === TABLE_REPORT) {
      into.calls.table += 1;
      return;
    }
    into.calls.mint += 1;
    if (outcome === MINT_SERVED) {
      counts.mintsServed += 1;
      return;
    }
    counts.mintsWithHub += 1;
    counts.hubRequests += 1;
    into.hubRequests += 1;
    into.mints += 1;
    if (!afterIdle) into.mintsInUse += 1;
    hubThisMinute += 1;
  };

  const hot = population.counts.hot;
  for (let minute = 0; minute < minutes; minute++) {
    const sweptAt = start + minute * MINUTE;
    const counted = sweptAt >= DAY_START;
    if (counted) closeMinute(counts, hubThisMinute);
    hubThisMinute = 0;
    const bucket = buckets[minute];
    buckets[minute] = undefined;
    let found = 0;
    let refreshed = 0;
    for (const key of bucket ?? []) {
      // A stale filing: the key was refreshed, minted or retired since.
      if (!((state.dueAt[key] as number) <= sweptAt)) continue;
      const outcome = policy.due(state, key, sweptAt);
      found += 1;
      if (outcome === RETIRE) {
        state.dueAt[key] = Number.NaN;
        if (counted) counts.retires += 1;
      } else if (outcome === REFRESH_READ || outcome === REFRESH_LEASE) {
        state.issue(key, sweptAt, false);
        refreshed += 1;
        if (counted) {
          counts.refreshes += 1;
          if (outcome === REFRESH_LEASE) counts.leaseRefreshes += 1;
          (classCounts[classOf[key] as number] as ClassCounts).hubRequests += 1;
        }
      }
    }
    if (counted) {
      const messages = Math.ceil(found / SETTINGS.keysPerMessage);
      counts.sweeps += 1;
      counts.dueKeys += found;
      counts.messages += messages;
      counts.sendBatches += Math.ceil(messages / SEND_BATCH);
      counts.hubRequests += refreshed;
      counts.peak.refreshesPerMinute = Math.max(counts.peak.refreshesPerMinute, refreshed);
      counts.peak.keysPerSweep = Math.max(counts.peak.keysPerSweep, found);
      hubThisMinute = refreshed;
    }
    for (let key = 0; key < hot; key++) call(key, sweptAt + (hotOffset[key] as number), counted);
    for (let index = first[minute] as number; index < (first[minute + 1] as number); index++) {
      call(callKey[index] as number, DAY_START + (callAt[index] as number), counted);
    }
  }
  closeMinute(counts, hubThisMinute);
  if (draw !== undefined) {
    CLASSES.forEach((name, cls) => {
      const histogram = histograms[cls] as LatencyHistogram;
      if (histogram.count > 0)
        byClass[name].latency = { p50Ms: histogram.percentile(50), p99Ms: histogram.percentile(99) };
    });
  }
  return counts;
}

function closeMinute(counts: DayCounts, hubRequests: number): void {
  counts.peak.hubRequestsPerMinute = Math.max(counts.peak.hubRequestsPerMinute, hubRequests);
}
