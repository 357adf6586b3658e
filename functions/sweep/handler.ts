/**
 * EventBridge Scheduler target: one sweep of the due index per run. The event carries nothing we
 * need; the time budget comes from the Lambda context.
 *
 * The sweeper reads the due index and writes to the queue, nothing else: it is wired here from the
 * store alone, not from the whole broker, so its bundle holds neither the Hub client (and undici) nor
 * Secrets Manager, and it starts faster (test/unit/bundles.test.ts keeps it so).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type Clock, systemClock } from '../core/clock.js';
import { ENV, loadConfig } from '../core/config.js';
import { createLogger, type EventLogger } from '../core/logger.js';
import { METRIC, METRICS_NAMESPACE } from '../core/metrics.js';
import { type RefreshQueue, Sweeper, type SweepResult } from '../core/refresh/sweeper.js';
import type { BrokerSettings } from '../core/settings.js';
import type { DueIndex } from '../core/store/repository.js';
import { TokenStore } from '../core/store/token-store.js';
import { SqsRefreshQueue } from './sqs-queue.js';

/** Stop paging this long (at most a fifth of the run) before the timeout, to send and publish. */
const SAFETY_MARGIN_MS = 5_000;

/** What a sweep reads: the due index, the settings and the clock. A whole Broker has them too. */
export interface SweepSource {
  readonly store: DueIndex;
  readonly config: { readonly settings: BrokerSettings };
  readonly clock: Clock;
}

export interface SweepDependencies {
  readonly broker: SweepSource;
  /** SQS in Lambda; an in-process queue in the local runtime. */
  readonly queue: RefreshQueue;
  readonly metrics?: Metrics;
}

/**
 * The time EventBridge Scheduler meant this run for (`{"scheduledTime": "<aws.scheduler.scheduled-time>"}`,
 * the input infra/refresh-pipeline.ts gives the target); undefined for any other event.
 */
export function scheduledTimeOf(event: unknown): number | undefined {
  const value = typeof event === 'object' && event !== null ? Reflect.get(event, 'scheduledTime') : undefined;
  const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isFinite(time) ? time : undefined;
}

export function createSweepHandler(
  dependencies: () => SweepDependencies,
  logger: EventLogger = createLogger(),
): (event: unknown, context?: { getRemainingTimeInMillis(): number }) => Promise<SweepResult> {
  return async (event, context) => {
    const { broker, queue, metrics } = dependencies();
    const { settings } = broker.config;
    const sweeper = new Sweeper({ store: broker.store, queue, settings, clock: broker.clock });
    const remaining = context?.getRemainingTimeInMillis() ?? settings.scheduleIntervalMs;
    const result = await sweeper.sweep(
      broker.clock() + remaining - Math.min(SAFETY_MARGIN_MS, remaining / 5),
      scheduledTimeOf(event),
    );
    logger.info('sweep', { ...result });
    if (metrics !== undefined) {
      metrics.addMetric(METRIC.due, MetricUnit.Count, result.due);
      metrics.addMetric(
        METRIC.oldestOverdueSeconds,
        MetricUnit.Seconds,
        // Whole seconds down: a key 59.9 s late has not yet waited a whole interval.
        Math.floor(result.oldestOverdueMs / 1000),
      );
      metrics.publishStoredMetrics();
    }
    return result;
  };
}

let dependencies: SweepDependencies | undefined;
export const handler = createSweepHandler(() => {
  const queueUrl = process.env[ENV.refreshQueueUrl];
  if (queueUrl === undefined) throw new Error(`environment variable ${ENV.refreshQueueUrl} is not set`);
  if (dependencies === undefined) {
    const config = loadConfig();
    const { settings } = config;
    const store = new TokenStore({
      dynamodb: new DynamoDBClient({}),
      tableName: config.tableName,
      dueShards: settings.dueShards,
    });
    dependencies = {
      broker: { store, config, clock: systemClock },
      queue: new SqsRefreshQueue(new SQSClient({}), queueUrl, settings.keysPerMessage),
      metrics: new Metrics({ namespace: METRICS_NAMESPACE }),
    };
  }
  return dependencies;
});
