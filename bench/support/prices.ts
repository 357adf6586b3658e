/**
 * Public AWS list prices, us-east-1, without the free tier: the same ones docs/deploy.md ("What it
 * costs") uses, so the benchmark's costs and the deployment's cost table agree.
 */
export const PRICES = {
  /** Lambda arm64, per GB-second. */
  lambdaGbSecond: 0.0000133334,
  /** Lambda, per request. */
  lambdaRequest: 0.2 / 1e6,
  /** DynamoDB on-demand, per write request unit. */
  dynamoWriteUnit: 0.625 / 1e6,
  /** DynamoDB on-demand, per read request unit. */
  dynamoReadUnit: 0.125 / 1e6,
  /** SQS standard, per request. */
  sqsRequest: 0.4 / 1e6,
  /** EventBridge Scheduler, per invocation. */
  schedulerInvocation: 1 / 1e6,
  /** Secrets Manager, per API call ($0.05 per 10,000). */
  secretsManagerCall: 0.05 / 10_000,
} as const;

/** Memory of the broker's functions, as the construct deploys them (docs/deploy.md, "Memory"). */
export const MEMORY_GB = { mint: 0.5, sweep: 0.25, refresh: 0.25 } as const;

/**
 * Lambda's SQS pollers long-poll the refresh queue even when it is idle: about 0.65 million receives a
 * month (docs/deploy.md's estimate), i.e. per hour of a 730-hour month.
 */
export const IDLE_POLLER_RECEIVES_PER_HOUR = 650_000 / 730;

export const PRICE_SOURCE = 'docs/deploy.md ("What it costs"): us-east-1 list prices, no free tier';

/**
 * Monthly prices of what does not scale with requests, and of logs and storage (us-east-1, no free
 * tier, as docs/deploy.md lists them): kept apart from PRICES, whose values the compare benchmark
 * stores with its results.
 */
export const MONTHLY_PRICES = {
  /** Secrets Manager, per secret and month. */
  secretMonth: 0.4,
  /** CloudWatch, per alarm metric and month (a metric-math alarm is billed per metric it reads). */
  alarmMetricMonth: 0.1,
  /** CloudWatch, per dashboard and month. */
  dashboardMonth: 3,
  /** CloudWatch, per custom metric and month. */
  customMetricMonth: 0.3,
  /** CloudWatch Logs, per GB ingested. */
  logsIngestedGb: 0.5,
  /** CloudWatch Logs, per GB stored and month. */
  logsStoredGbMonth: 0.03,
  /** DynamoDB, per GB stored and month. */
  dynamoStorageGbMonth: 0.25,
  /** DynamoDB point-in-time recovery, per GB and month. */
  dynamoPitrGbMonth: 0.2,
} as const;
