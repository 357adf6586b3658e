/**
 * Lambda adapter for get-or-mint: parse the payload, call the token service, shape the answer.
 * Errors are thrown so Lambda reports them with errorType = the error's name.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type Broker, createBroker } from '../core/broker.js';
import { loadConfig } from '../core/config.js';
import { BrokerError, HubUnavailableError } from '../core/errors.js';
import { createLogger, describeError, type EventLogger } from '../core/logger.js';
import { METRIC, METRICS_NAMESPACE } from '../core/metrics.js';
import { describeKey, tokenKey } from '../core/store/key.js';
import { toWireError } from '../core/wire-error.js';
import { type MintResponse, mintResponse, parseMintRequest } from './payload.js';

export function createMintHandler(
  broker: () => Broker,
  logger: EventLogger = createLogger(),
  metrics?: Metrics,
): (event: unknown) => Promise<MintResponse> {
  return async (event) => {
    const { service, credentials, clock } = broker();
    const startedAt = clock();
    let key: string | undefined;
    try {
      const request = parseMintRequest(event);
      key = describeKey(tokenKey(credentials.resolveClient(request.client), request.scopes));
      const { token, outcome } = await service.getToken(request);
      logger.info('token request', { key, outcome, durationMs: clock() - startedAt });
      metrics?.addMetric(
        outcome === 'minted' ? METRIC.tokensMinted : METRIC.tokensServed,
        MetricUnit.Count,
        1,
      );
      metrics?.publishStoredMetrics();
      return mintResponse(token);
    } catch (error) {
      logger.warn('token request failed', { key, durationMs: clock() - startedAt, ...describeError(error) });
      metrics?.addMetric(METRIC.mintFailures, MetricUnit.Count, 1);
      metrics?.publishStoredMetrics();
      // DynamoDB or another dependency failed: still one of the documented error types.
      const brokerError =
        error instanceof BrokerError
          ? error
          : new HubUnavailableError(
              'store_unavailable',
              'the broker could not serve this request now; try again',
              {},
              {
                cause: error,
              },
            );
      throw toWireError(brokerError);
    }
  };
}

let broker: Broker | undefined;
/** Built once per container, on the first invocation, from the environment the stack sets. */
export const handler = createMintHandler(
  () => {
    broker ??= createBroker(loadConfig());
    return broker;
  },
  createLogger(),
  new Metrics({ namespace: METRICS_NAMESPACE }),
);
