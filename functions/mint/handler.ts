/**
 * Lambda adapter for get-or-mint: identify the caller by the alias it invoked, parse the payload,
 * check the caller's grant (functions/core/access.ts), call the token service, shape the answer.
 * Errors are thrown so Lambda reports them with errorType = the error's name. Every invocation logs
 * one audit line: the consumer, the key and the outcome, never a token.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { checkRequest, identifyCaller, NewKeyLedger } from '../core/access.js';
import { type Broker, createBroker } from '../core/broker.js';
import { loadConfig } from '../core/config.js';
import {
  AccessDeniedError,
  BrokerError,
  DependencyUnavailableError,
  HubUnavailableError,
  isCallerError,
  PUBLIC_ERROR_TYPES,
} from '../core/errors.js';
import { createLogger, describeError, type EventLogger } from '../core/logger.js';
import { METRIC, METRICS_NAMESPACE } from '../core/metrics.js';
import { describeKey, tokenKey } from '../core/store/key.js';
import { toWireError } from '../core/wire-error.js';
import { type MintResponse, mintResponse, parseMintRequest, type UseReportResponse } from './payload.js';

/** What the mint reads of Lambda's context: the ARN, with the alias IAM authorized the caller for. */
export interface MintContext {
  readonly invokedFunctionArn?: string;
}

export function createMintHandler(
  broker: () => Broker,
  logger: EventLogger = createLogger(),
  metrics?: Metrics,
): (event: unknown, context?: MintContext) => Promise<MintResponse | UseReportResponse> {
  // New keys per consumer in this container (the grant's newKeysPerHour).
  const ledger = new NewKeyLedger();
  return async (event, context) => {
    let built: Broker;
    try {
      built = broker();
    } catch (error) {
      // A broken environment is the broker's fault, never the caller's: alarmed, and typed as such.
      logger.error('broker configuration failed', describeError(error));
      metrics?.addMetric(METRIC.mintFailures, MetricUnit.Count, 1);
      metrics?.publishStoredMetrics();
      throw toWireError(
        new DependencyUnavailableError(
          'dependency_unavailable',
          'the broker cannot start: its configuration is broken (see its logs)',
          {},
          { cause: error },
        ),
      );
    }
    const { service, credentials, clock, config } = built;
    const startedAt = clock();
    let consumer: string | undefined;
    let key: string | undefined;
    try {
      // Before anything else: an unidentified caller learns nothing, not even whether its payload parses.
      const caller = identifyCaller(config.grants ?? {}, context?.invokedFunctionArn);
      if (caller instanceof BrokerError) throw caller;
      consumer = caller.consumer;
      const request = parseMintRequest(event);
      const client = credentials.resolveClient(request.client);
      key = describeKey(tokenKey(client, request.scopes));
      const refusal = checkRequest(caller, { client, scopes: request.scopes });
      if (refusal !== undefined) throw refusal;
      if (request.useReport === true) {
        // A consumer's use report: recorded or already known, never a mint, never a token in the answer.
        const recorded = await service.recordReportedUse(request);
        const outcome = recorded ? 'use-recorded' : 'use-known';
        logger.info('token request', { consumer, key, outcome, durationMs: clock() - startedAt });
        return { useRecorded: recorded };
      }
      const { token, outcome } = await service.getToken(request, {
        onNewKey: () => ledger.admit(caller, clock()),
      });
      logger.info('token request', { consumer, key, outcome, durationMs: clock() - startedAt });
      metrics?.addMetric(
        outcome === 'minted' ? METRIC.tokensMinted : METRIC.tokensServed,
        MetricUnit.Count,
        1,
      );
      metrics?.publishStoredMetrics();
      return mintResponse(token);
    } catch (error) {
      logger.warn('token request failed', {
        consumer,
        key,
        outcome: error instanceof AccessDeniedError ? 'denied' : 'failed',
        durationMs: clock() - startedAt,
        ...describeError(error),
      });
      const brokerError = publicError(error);
      // The caller's own mistakes are counted apart, so that only the broker's and the Hub's alarm.
      metrics?.addMetric(
        isCallerError(brokerError) ? METRIC.mintRefusals : METRIC.mintFailures,
        MetricUnit.Count,
        1,
      );
      metrics?.publishStoredMetrics();
      throw toWireError(brokerError);
    }
  };
}

const PUBLIC_TYPES: ReadonlySet<string> = new Set(PUBLIC_ERROR_TYPES);

/** Only documented error types cross the contract; anything else is named for what failed. */
function publicError(error: unknown): BrokerError {
  if (error instanceof BrokerError) {
    if (PUBLIC_TYPES.has(error.name)) return error;
    // An internal Hub answer that no path turned into a public one: still the Hub's.
    return new HubUnavailableError('hub_invalid_response', error.message, error.details, { cause: error });
  }
  // Not ours, so an AWS SDK call that failed (DynamoDB, the one the token service does unwrapped).
  const name = error instanceof Error ? error.name : 'unknown error';
  const aws = typeof error === 'object' && error !== null && '$metadata' in error;
  return new DependencyUnavailableError(
    aws ? 'store_unavailable' : 'dependency_unavailable',
    `the broker could not serve this request now (${name}); try again`,
    {},
    { cause: error },
  );
}

/**
 * Built once per container from the environment the stack sets: at module load, in Lambda's init
 * phase, so that the first invocation of a new container (a stampede's waiters are all new
 * containers) does not pay for building the config and the SDK clients. Nothing is opened here:
 * the clients connect, and the Hub client loads its pool, on first use. An environment that does not
 * load (tests, the local runtime, a broken deployment) leaves it to the first invocation, which
 * reports the failure as it always has.
 */
let broker: Broker | undefined = brokerAtInit();
function brokerAtInit(): Broker | undefined {
  try {
    return createBroker(loadConfig());
  } catch {
    return undefined;
  }
}
export const handler = createMintHandler(
  () => {
    broker ??= createBroker(loadConfig());
    return broker;
  },
  createLogger(),
  new Metrics({ namespace: METRICS_NAMESPACE }),
);
