/**
 * What the broker costs a month, from what it does in that month. Small pure functions: what the
 * broker does (refreshes, retires, mints, sweeps, messages) becomes what AWS bills (Lambda requests
 * and GB-seconds, DynamoDB request units, SQS requests, …), and that becomes USD at the list prices
 * of ./prices.ts. The Hub's token requests are free; they are carried along because the Hub's rate
 * limit, not money, is what they spend.
 *
 * The sizing (workers, pacing, keys per invocation) is what the construct derives (infra/sizing.ts,
 * called here with the construct's default props); the per-operation request units come from the
 * caller (bench/realistic-day/calibrate.ts measures them); everything else that is assumed is a
 * named constant below, with where it comes from.
 */
import { computeSizing, type Sizing } from '../../infra/sizing.js';
import { IDLE_POLLER_RECEIVES_PER_HOUR, MEMORY_GB, MONTHLY_PRICES, PRICES } from './prices.js';

/** docs/deploy.md's month: 30 days, 43,200 one-minute sweeps. */
export const DAYS_PER_MONTH = 30;
const HOURS_PER_MONTH = DAYS_PER_MONTH * 24;

/** The construct's default props (infra/broker-props.ts) that the sizing depends on. */
export const CONSTRUCT_DEFAULTS = {
  sweepIntervalMs: 60_000,
  hubRateLimit: { requests: 300, perMs: 60_000 },
  refreshShareOfRateLimit: 0.8,
  refreshBatchSize: 1,
} as const;

/** What the construct deploys that is billed by the month (docs/deploy.md, "Alarms and dashboard"). */
export const DEPLOYED = {
  secrets: 1,
  /** 16 alarms; the metric-math ones are billed per metric they read. */
  alarmMetrics: 21,
  dashboards: 1,
  customMetrics: 12,
} as const;

/**
 * Assumptions that no benchmark here measures, from docs/deploy.md unless said otherwise. AWS's own
 * latencies are higher than loopback's, so durations are not taken from the local runs.
 */
export const ASSUMED = {
  /** ~3 warm mint and worker containers reading the secret every 5 minutes. */
  secretCallsPerMonth: 26_000,
  /** A token item with a few scopes. */
  itemKb: 1.8,
  /** A sweep run without due keys: 8 Queries and a GetQueueAttributes. */
  sweepRunMs: 100,
  /** Each SendMessageBatch a sweep makes (an SQS round trip in a region). */
  sweepSendBatchMs: 20,
  /** A worker's DynamoDB work per key: a consistent GetItem and a conditional UpdateItem, ~5 ms each. */
  workerPerKeyMs: 10,
  /** A mint that serves the stored token and records its use: no Hub exchange. */
  mintServedMs: 50,
  /**
   * Log volume: every invocation's start/end/report lines, a line per key a worker handles (the
   * previous release at INFO; now only at DEBUG), a use record.
   */
  logKbPerInvocation: 1.5,
  logKbPerWorkerKey: 0.4,
  logKbPerUseRecord: 1,
} as const;

/** The busiest minute: what the Hub's rate limit must allow, and what one sweep must hand out. */
export interface PeakRate {
  readonly refreshesPerMinute: number;
  readonly hubRequestsPerMinute: number;
  /** Due keys one sweep finds, retired ones included: they take a share of its budget too. */
  readonly keysPerSweep: number;
}

/**
 * The Hub rate limit (requests a minute) a deployment needs for `peak`: the construct's default, or
 * more (as `hubRateLimit`, asked of Zaikio) when the refreshes do not fit in the workers' share of it,
 * all token requests together not in the limit itself, or the due keys not in what one sweep may
 * hand out (the workers' share of a minute: docs/refresh.md, "The Hub's rate limit").
 */
export function hubLimitFor(peak: PeakRate): number {
  const { hubRateLimit, refreshShareOfRateLimit } = CONSTRUCT_DEFAULTS;
  return Math.max(
    (hubRateLimit.requests * 60_000) / hubRateLimit.perMs,
    Math.ceil(Math.max(peak.refreshesPerMinute, peak.keysPerSweep) / refreshShareOfRateLimit),
    Math.ceil(peak.hubRequestsPerMinute),
  );
}

/** The construct's sizing for its default props, with the Hub rate limit `peak` needs (hubLimitFor). */
export function constructSizing(
  peak: PeakRate = { refreshesPerMinute: 0, hubRequestsPerMinute: 0, keysPerSweep: 0 },
): Sizing {
  const { sweepIntervalMs, refreshShareOfRateLimit, refreshBatchSize } = CONSTRUCT_DEFAULTS;
  return computeSizing({
    sweepIntervalMs,
    hubRateLimit: { requests: hubLimitFor(peak), perMs: 60_000 },
    refreshShareOfRateLimit,
    refreshBatchSize,
  });
}

export interface FunctionUsage {
  readonly invocations: number;
  readonly gbSeconds: number;
}

export function functionUsage(invocations: number, meanMs: number, memoryGb: number): FunctionUsage {
  return { invocations, gbSeconds: (invocations * meanMs * memoryGb) / 1000 };
}

/** Mint invocations: those that asked the Hub (measured duration) and those that served the stored token. */
export function mintUsage(withHub: number, served: number, withHubMs: number): FunctionUsage {
  const hub = functionUsage(withHub, withHubMs, MEMORY_GB.mint);
  const stored = functionUsage(served, ASSUMED.mintServedMs, MEMORY_GB.mint);
  return { invocations: hub.invocations + stored.invocations, gbSeconds: hub.gbSeconds + stored.gbSeconds };
}

/** Sweeper runs, each with its share of SendMessageBatch round trips. */
export function sweepUsage(runs: number, sendBatches: number): FunctionUsage {
  const ms = runs * ASSUMED.sweepRunMs + sendBatches * ASSUMED.sweepSendBatchMs;
  return { invocations: runs, gbSeconds: (ms * MEMORY_GB.sweep) / 1000 };
}

/**
 * Refresh workers: one invocation per batch of messages (the sizing's keys per invocation over the
 * keys per message). An invocation lasts as long as its pacer spaces its Hub requests, plus the
 * DynamoDB work of every key it handles; a retired key asks nothing of the Hub.
 */
export function workerUsage(
  work: { readonly messages: number; readonly refreshed: number; readonly retired: number },
  sizing: Sizing,
): FunctionUsage {
  const messagesPerInvocation = sizing.refreshKeysPerInvocation / sizing.settings.keysPerMessage;
  const ms =
    work.refreshed * sizing.refreshPacingMs + (work.refreshed + work.retired) * ASSUMED.workerPerKeyMs;
  return {
    invocations: Math.ceil(work.messages / messagesPerInvocation),
    gbSeconds: (ms * MEMORY_GB.refresh) / 1000,
  };
}

/**
 * SQS requests: per sweep a GetQueueAttributes and its SendMessageBatch calls, per message a receive
 * and a delete by Lambda's pollers, and the pollers' empty long polls of an idle queue.
 */
export function sqsRequests(work: {
  readonly sweeps: number;
  readonly sendBatches: number;
  readonly messages: number;
}): number {
  return work.sweeps + work.sendBatches + 2 * work.messages + IDLE_POLLER_RECEIVES_PER_HOUR * HOURS_PER_MONTH;
}

/** GB of logs a month. */
export function logsGb(work: {
  readonly invocations: number;
  readonly workerKeys: number;
  readonly useRecords: number;
}): number {
  const kb =
    work.invocations * ASSUMED.logKbPerInvocation +
    work.workerKeys * ASSUMED.logKbPerWorkerKey +
    work.useRecords * ASSUMED.logKbPerUseRecord;
  return kb / 1024 / 1024;
}

/** Everything billed in a month. */
export interface MonthlyUsage {
  /** Free, but limited by the Hub. */
  readonly hubRequests: number;
  readonly lambda: {
    readonly mint: FunctionUsage;
    readonly sweep: FunctionUsage;
    readonly refresh: FunctionUsage;
  };
  /** The broker's own request units (mint, sweeper, worker), table and index. */
  readonly broker: { readonly readUnits: number; readonly writeUnits: number };
  /** The consumers' GetItems: billed to the table's account all the same (their use reports are the mint's). */
  readonly consumers: { readonly readUnits: number; readonly writeUnits: number };
  readonly sqsRequests: number;
  readonly schedulerInvocations: number;
  readonly logsGb: number;
  readonly storedKeys: number;
}

export const COST_LINES = [
  'Lambda (worker, mint, sweeper)',
  'DynamoDB requests (broker)',
  "DynamoDB requests (consumers' reads)",
  'DynamoDB storage + PITR',
  'SQS',
  'EventBridge Scheduler',
  'Secrets Manager (1 secret)',
  'CloudWatch alarms, dashboard, metrics',
  'CloudWatch Logs',
] as const;
export type CostLine = (typeof COST_LINES)[number];

export interface MonthlyCost {
  readonly lines: Readonly<Record<CostLine, number>>;
  readonly total: number;
}

export function lambdaCost(usage: FunctionUsage): number {
  return usage.invocations * PRICES.lambdaRequest + usage.gbSeconds * PRICES.lambdaGbSecond;
}

export function dynamoRequestCost(units: {
  readonly readUnits: number;
  readonly writeUnits: number;
}): number {
  return units.readUnits * PRICES.dynamoReadUnit + units.writeUnits * PRICES.dynamoWriteUnit;
}

export function storageCost(keys: number): number {
  const gb = (keys * ASSUMED.itemKb) / 1024 / 1024;
  return gb * (MONTHLY_PRICES.dynamoStorageGbMonth + MONTHLY_PRICES.dynamoPitrGbMonth);
}

/** Alarms, the dashboard and the custom metrics: the same at any scale. */
export function monitoringCost(): number {
  return (
    DEPLOYED.alarmMetrics * MONTHLY_PRICES.alarmMetricMonth +
    DEPLOYED.dashboards * MONTHLY_PRICES.dashboardMonth +
    DEPLOYED.customMetrics * MONTHLY_PRICES.customMetricMonth
  );
}

export function secretsCost(): number {
  return (
    DEPLOYED.secrets * MONTHLY_PRICES.secretMonth + ASSUMED.secretCallsPerMonth * PRICES.secretsManagerCall
  );
}

/** Logs kept for the 30-day retention: a month's ingestion is what is stored. */
export function logsCost(gb: number): number {
  return gb * (MONTHLY_PRICES.logsIngestedGb + MONTHLY_PRICES.logsStoredGbMonth);
}

export function monthlyCost(usage: MonthlyUsage): MonthlyCost {
  const { mint, sweep, refresh } = usage.lambda;
  const lines: Record<CostLine, number> = {
    'Lambda (worker, mint, sweeper)': lambdaCost(mint) + lambdaCost(sweep) + lambdaCost(refresh),
    'DynamoDB requests (broker)': dynamoRequestCost(usage.broker),
    "DynamoDB requests (consumers' reads)": dynamoRequestCost(usage.consumers),
    'DynamoDB storage + PITR': storageCost(usage.storedKeys),
    SQS: usage.sqsRequests * PRICES.sqsRequest,
    'EventBridge Scheduler': usage.schedulerInvocations * PRICES.schedulerInvocation,
    'Secrets Manager (1 secret)': secretsCost(),
    'CloudWatch alarms, dashboard, metrics': monitoringCost(),
    'CloudWatch Logs': logsCost(usage.logsGb),
  };
  return { lines, total: Object.values(lines).reduce((sum, value) => sum + value, 0) };
}
