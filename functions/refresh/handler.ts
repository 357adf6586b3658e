/**
 * SQS event source: refreshes the keys of each message. Hub failures are recorded on the items
 * (they become due again after a backoff), so a message fails only on unexpected errors, and only
 * that message is retried (partial batch response); after maxReceiveCount it goes to the DLQ.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { type Broker, createBroker } from '../core/broker.js';
import { loadConfig } from '../core/config.js';
import { refreshInFlight, refreshPacingMs } from '../core/lifecycle/refresh.js';
import { createLogger, describeError, type EventLogger } from '../core/logger.js';
import { METRIC, METRICS_NAMESPACE } from '../core/metrics.js';
import { parseRefreshBatch } from '../core/refresh/messages.js';
import { Pacer } from '../core/refresh/pacer.js';
import { noOutcomes, Refresher, type RefreshOutcome } from '../core/refresh/refresher.js';
import { describeKey } from '../core/store/key.js';

const OUTCOME_METRIC: Readonly<Record<RefreshOutcome, string>> = {
  refreshed: METRIC.refreshed,
  'fell-back': METRIC.fellBackToClientCredentials,
  revoked: METRIC.revoked,
  failed: METRIC.refreshFailures,
  skipped: METRIC.skipped,
  retired: METRIC.retired,
};

export interface RefreshDependencies {
  readonly broker: Broker;
  readonly refresher: Refresher;
  readonly metrics?: Metrics;
}

/** A refresher whose Hub requests are paced to this worker's share of the fleet's ceiling. */
export function createRefresher(broker: Broker): Refresher {
  const { settings } = broker.config;
  const pacer = new Pacer(refreshPacingMs(settings), broker.clock, broker.sleep);
  return new Refresher({
    store: broker.store,
    fetcher: broker.fetcher,
    settings,
    clock: broker.clock,
    random: broker.random,
    beforeHubRequest: () => pacer.next(),
  });
}

export function createRefreshHandler(
  dependencies: () => RefreshDependencies,
  logger: EventLogger = createLogger(),
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return async (event) => {
    const { broker, refresher, metrics } = dependencies();
    // Only as many keys at once as the pacer can send within their Hub deadline (at least one).
    const inFlight = Math.max(1, refreshInFlight(broker.config.settings));
    const counts = noOutcomes();
    const failedMessages: string[] = [];
    // A key twice in one batch (a duplicate delivery) is refreshed once: the second copy would only
    // cost a skipped write, or under a read claim a second Hub request.
    const seen = new Set<string>();
    const work = event.Records.flatMap((record) => {
      try {
        const { keys, sweptAt } = parseRefreshBatch(record.body);
        return keys.flatMap((key) => {
          const id = describeKey(key);
          if (seen.has(id)) return [];
          seen.add(id);
          return [{ key, sweptAt, messageId: record.messageId }];
        });
      } catch (error) {
        // A malformed message will never succeed: drop it (logged), do not loop it to the DLQ.
        logger.error('malformed refresh message', { messageId: record.messageId, ...describeError(error) });
        return [];
      }
    });
    // Keys in backoff are out of the sweeper's sight; their lateness is reported from here.
    let oldestOverdueMs: number | undefined;
    let next = 0;
    const worker = async () => {
      for (let item = work[next++]; item !== undefined; item = work[next++]) {
        try {
          const { outcome, error, overdueMs } = await refresher.refresh(
            item.key,
            item.sweptAt === undefined ? {} : { sweptAt: item.sweptAt },
          );
          counts[outcome] += 1;
          if (overdueMs !== undefined) oldestOverdueMs = Math.max(oldestOverdueMs ?? 0, overdueMs);
          if (outcome === 'failed' || outcome === 'revoked') {
            logger.warn('refresh', { key: describeKey(item.key), outcome, ...describeError(error) });
          } else if (outcome !== 'skipped') {
            // Per key only at DEBUG: the batch line below counts them, at a tenth of the log volume.
            logger.debug('refresh', { key: describeKey(item.key), outcome });
          }
        } catch (error) {
          logger.error('refresh crashed', { key: describeKey(item.key), ...describeError(error) });
          if (!failedMessages.includes(item.messageId)) failedMessages.push(item.messageId);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, work.length) }, worker));
    logger.info('refresh batch', { messages: event.Records.length, keys: work.length, ...counts });
    if (metrics !== undefined) {
      for (const [outcome, count] of Object.entries(counts)) {
        metrics.addMetric(OUTCOME_METRIC[outcome as RefreshOutcome], MetricUnit.Count, count);
      }
      if (oldestOverdueMs !== undefined) {
        const seconds = Math.round(oldestOverdueMs / 1000);
        metrics.addMetric(METRIC.oldestOverdueSeconds, MetricUnit.Seconds, seconds);
      }
      metrics.publishStoredMetrics();
    }
    return { batchItemFailures: failedMessages.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

let dependencies: RefreshDependencies | undefined;
export const handler = createRefreshHandler(() => {
  if (dependencies === undefined) {
    const broker = createBroker(loadConfig());
    dependencies = {
      broker,
      refresher: createRefresher(broker),
      metrics: new Metrics({ namespace: METRICS_NAMESPACE }),
    };
  }
  return dependencies;
});
