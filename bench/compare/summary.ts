/**
 * What the side-by-side benchmark reports (docs/bench-compare.json, read by bench/report/), and how
 * the raw measurements of ./fleet.ts and ./reads.ts become those numbers: percentiles, the fewest
 * token requests the lifetimes allow, and each approach's cost at list prices.
 */
import { MIN_VALIDITY_MS, type Source } from '../support/approaches.js';
import type { DynamoCounts } from '../support/dynamo-counter.js';
import type { PoolStats } from '../support/function-pool.js';
import type { Machine } from '../support/machine.js';
import { IDLE_POLLER_RECEIVES_PER_HOUR, MEMORY_GB, PRICES } from '../support/prices.js';
import type { SqsRequests } from '../support/sqs-queue.js';
import { median, type Summary, summarize } from '../support/stats.js';

/** The example consumer's memory (infra: ExampleConsumer, 256 MB): what a caller's waiting costs. */
export const CONSUMER_MEMORY_GB = 0.25;

export type ApproachName = 'naive' | 'caching' | 'broker';
export const APPROACH_NAMES: readonly ApproachName[] = ['naive', 'caching', 'broker'];
export const APPROACH_LABELS: Readonly<Record<ApproachName, string>> = {
  naive: '1. naive (secret + grant per call)',
  caching: '2. per-container caching (Powertools + oauth4webapi)',
  broker: '3. this broker',
};

/** A run's parameters, every default filled in. */
export interface CompareParameters {
  /** K: consumer containers. */
  readonly containers: number;
  /** Token keys in use: one scope set for each of this many organizations. */
  readonly organizations: number;
  /** M: consumer calls over the simulated hour. */
  readonly calls: number;
  readonly hubLatencyMs: number;
  readonly tokenLifetimeSeconds: number;
  readonly stampedeRequests: number;
  readonly stampedeContainers: number;
  readonly warmReads: number;
  readonly coldReads: number;
  /** Of the PRNG that draws each call's container and key. */
  readonly seed: number;
}

export interface CostBreakdown {
  /** USD for the simulated hour, by item. */
  readonly items: Readonly<Record<string, number>>;
  readonly total: number;
  readonly perMillionCalls: number;
}

export interface ApproachResult {
  readonly name: ApproachName;
  readonly label: string;
  readonly calls: number;
  readonly hubRequests: number;
  readonly secretsManagerReads: number;
  readonly dynamo: DynamoCounts;
  readonly lambda: LambdaStats;
  readonly lambdaInvokes: number;
  readonly sqs?: SqsRequests;
  /** Consumer latency, ms, real time per call. */
  readonly latency: Summary;
  readonly bySource: Readonly<Partial<Record<Source, { readonly count: number; readonly p50: number }>>>;
  readonly cost: CostBreakdown;
  readonly realSeconds: number;
}

export interface StampedeResult {
  readonly name: ApproachName;
  readonly requests: number;
  readonly containers: number;
  readonly hubRequests: number;
  readonly secretsManagerReads: number;
  readonly lambdaInvokes: number;
  readonly mintContainers: number;
  readonly dynamoRequests: number;
  readonly errors: number;
  readonly latency: Summary;
}

export interface WarmReadResult {
  readonly calls: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
}

export interface ColdReadResult {
  readonly samples: number;
  readonly consumerMedianMs: number;
  readonly bareGetItemMedianMs: number;
  readonly bareProjectedMedianMs: number;
  /** consumerMedianMs / bareGetItemMedianMs; the goal is at most 1.1. */
  readonly ratio: number;
}

export interface CompareResult {
  readonly options: CompareParameters;
  /** Σ over keys of the fewest tokens that cover its calls (each serves calls for lifetime − 60 s). */
  readonly minimumHubRequests: number;
  readonly approaches: readonly ApproachResult[];
  readonly stampede: readonly StampedeResult[];
  readonly warmRead: WarmReadResult;
  readonly coldRead: ColdReadResult;
  readonly prices: typeof PRICES & { readonly source: string; readonly consumerMemoryGb: number };
  readonly machine: Machine;
  readonly command: string;
}

export interface LambdaStats {
  readonly mint: PoolStats;
  readonly sweep: PoolStats;
  readonly refresh: PoolStats;
}

/** One consumer call: when, from which container, for which organization's key. */
export interface Call {
  readonly at: number;
  readonly container: number;
  readonly organization: number;
}

/** What one approach's simulated hour counted and timed. */
export interface HourMeasurement {
  readonly name: ApproachName;
  readonly calls: number;
  readonly hubRequests: number;
  readonly secretsManagerReads: number;
  readonly dynamo: DynamoCounts;
  readonly lambda: LambdaStats;
  readonly sqs?: SqsRequests;
  /** Each call in order: real ms, and where its token came from. */
  readonly answered: ReadonlyArray<{ readonly ms: number; readonly source: Source }>;
  readonly realSeconds: number;
}

/** What one approach's stampede counted and timed. */
export type StampedeMeasurement = Omit<StampedeResult, 'lambdaInvokes' | 'mintContainers' | 'latency'> & {
  readonly mint: PoolStats;
  /** Real ms of each request. */
  readonly latencies: readonly number[];
};

/** The fewest tokens an oracle would fetch: a token fetched at a call serves calls for lifetime − 60 s. */
export function minimumTokens(calls: readonly Call[], lifetimeMs: number): number {
  const coveredUntil = new Map<number, number>();
  let tokens = 0;
  for (const call of calls) {
    if ((coveredUntil.get(call.organization) ?? Number.NEGATIVE_INFINITY) >= call.at) continue;
    tokens += 1;
    coveredUntil.set(call.organization, call.at + lifetimeMs - MIN_VALIDITY_MS);
  }
  return tokens;
}

export function summarizeHour(hour: HourMeasurement): ApproachResult {
  const { lambda, dynamo, sqs } = hour;
  const latencies = hour.answered.map((call) => call.ms);
  const bySource = new Map<Source, number[]>();
  for (const { ms, source } of hour.answered) {
    const list = bySource.get(source) ?? [];
    list.push(ms);
    bySource.set(source, list);
  }
  return {
    name: hour.name,
    label: APPROACH_LABELS[hour.name],
    calls: hour.calls,
    hubRequests: hour.hubRequests,
    secretsManagerReads: hour.secretsManagerReads,
    dynamo,
    lambda,
    lambdaInvokes: lambda.mint.invocations + lambda.sweep.invocations + lambda.refresh.invocations,
    ...(sqs === undefined ? {} : { sqs }),
    latency: summarize(latencies),
    bySource: Object.fromEntries(
      [...bySource].map(([source, values]) => [source, { count: values.length, p50: median(values) }]),
    ),
    cost: costOf({
      calls: hour.calls,
      secretsManagerReads: hour.secretsManagerReads,
      lambda,
      dynamo,
      ...(sqs === undefined ? {} : { sqs }),
      sweeps: lambda.sweep.invocations,
      consumerWaitMs: latencies.reduce((sum, value) => sum + value, 0),
    }),
    realSeconds: hour.realSeconds,
  };
}

export function summarizeStampede(stampede: StampedeMeasurement): StampedeResult {
  return {
    name: stampede.name,
    requests: stampede.requests,
    containers: stampede.containers,
    hubRequests: stampede.hubRequests,
    secretsManagerReads: stampede.secretsManagerReads,
    lambdaInvokes: stampede.mint.invocations,
    mintContainers: stampede.mint.containers,
    dynamoRequests: stampede.dynamoRequests,
    errors: stampede.errors,
    latency: summarize(stampede.latencies),
  };
}

/** `timesMs`: each warm read timed alone; `meanUs`: the mean of an untimed loop, without the timer's cost. */
export function summarizeWarmRead(timesMs: ArrayLike<number>, meanUs: number): WarmReadResult {
  const summary = summarize(Array.from(timesMs, (ms) => ms * 1000));
  return { calls: timesMs.length, p50Us: summary.p50, p99Us: summary.p99, meanUs };
}

/** Each sample: a new consumer client's first read of a key, and bare GetItems of the same item. */
export function summarizeColdRead(
  samples: number,
  timesMs: {
    readonly consumer: readonly number[];
    readonly bare: readonly number[];
    readonly projected: readonly number[];
  },
): ColdReadResult {
  const consumerMedianMs = median(timesMs.consumer);
  const bareGetItemMedianMs = median(timesMs.bare);
  return {
    samples,
    consumerMedianMs,
    bareGetItemMedianMs,
    bareProjectedMedianMs: median(timesMs.projected),
    ratio: consumerMedianMs / bareGetItemMedianMs,
  };
}

function costOf(input: {
  readonly calls: number;
  readonly secretsManagerReads: number;
  readonly lambda: LambdaStats;
  readonly dynamo: DynamoCounts;
  readonly sqs?: SqsRequests;
  readonly sweeps: number;
  readonly consumerWaitMs: number;
}): CostBreakdown {
  const { lambda, dynamo, sqs } = input;
  const invocations = lambda.mint.invocations + lambda.sweep.invocations + lambda.refresh.invocations;
  const gbSeconds =
    (lambda.mint.billedMs * MEMORY_GB.mint +
      lambda.sweep.billedMs * MEMORY_GB.sweep +
      lambda.refresh.billedMs * MEMORY_GB.refresh) /
    1000;
  const writes =
    (dynamo.requests.UpdateItem ?? 0) + (dynamo.requests.PutItem ?? 0) - dynamo.conditionalFailures;
  // A failed conditional write is billed like a write of the item: charge the average successful one.
  const failedWriteUnits = writes > 0 ? (dynamo.conditionalFailures * dynamo.writeUnits) / writes : 0;
  const sqsRequests =
    sqs === undefined
      ? 0
      : sqs.getQueueAttributes +
        sqs.sendMessageBatch +
        sqs.receiveMessage +
        sqs.deleteMessageBatch +
        IDLE_POLLER_RECEIVES_PER_HOUR;
  const items: Record<string, number> = {
    'Secrets Manager': input.secretsManagerReads * PRICES.secretsManagerCall,
    'Lambda requests (broker)': invocations * PRICES.lambdaRequest,
    'Lambda compute (broker)': gbSeconds * PRICES.lambdaGbSecond,
    'DynamoDB reads': dynamo.readUnits * PRICES.dynamoReadUnit,
    'DynamoDB writes':
      (dynamo.writeUnits + dynamo.indexWriteUnits + failedWriteUnits) * PRICES.dynamoWriteUnit,
    SQS: sqsRequests * PRICES.sqsRequest,
    'EventBridge Scheduler': input.sweeps * PRICES.schedulerInvocation,
    'consumer time waiting for tokens':
      (input.consumerWaitMs / 1000) * CONSUMER_MEMORY_GB * PRICES.lambdaGbSecond,
  };
  const total = Object.values(items).reduce((sum, value) => sum + value, 0);
  return { items, total, perMillionCalls: (total / input.calls) * 1e6 };
}

/** Progress lines for the console, one per part. */
export const describe = {
  hour: (result: ApproachResult): string =>
    `  ${result.label}: Hub ${result.hubRequests}, SM ${result.secretsManagerReads}, DynamoDB ${result.dynamo.total}, ` +
    `invokes ${result.lambdaInvokes}, p50 ${result.latency.p50.toFixed(2)} ms, p99 ${result.latency.p99.toFixed(2)} ms, ` +
    `max ${result.latency.max.toFixed(1)} ms, $${result.cost.perMillionCalls.toFixed(2)}/M calls (${result.realSeconds.toFixed(0)} s)`,
  stampede: (result: StampedeResult): string =>
    `  stampede ${result.name}: Hub ${result.hubRequests}, SM ${result.secretsManagerReads}, invokes ` +
    `${result.lambdaInvokes}, errors ${result.errors}, p50 ${result.latency.p50.toFixed(1)} ms, max ` +
    `${result.latency.max.toFixed(1)} ms`,
  warmRead: (result: WarmReadResult): string =>
    `  warm read: p50 ${result.p50Us.toFixed(2)} µs, p99 ${result.p99Us.toFixed(2)} µs, mean ${result.meanUs.toFixed(2)} µs`,
  coldRead: (result: ColdReadResult): string =>
    `  cold read: consumer ${result.consumerMedianMs.toFixed(3)} ms vs bare GetItem ` +
    `${result.bareGetItemMedianMs.toFixed(3)} ms (${result.ratio.toFixed(3)} ×)`,
};
