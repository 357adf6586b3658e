/**
 * The consumer client: what a Node.js Lambda imports to get a Zaikio token from the broker.
 *
 *   import { getAccessToken } from '<broker>/functions/consumer/index.js';
 *   const { accessToken } = await getAccessToken({ organizationId, scopes: ['warehouse.items.r'] });
 *
 * The contract behind it, for any language, is docs/consumers.md. This entry point must stay small:
 * it imports nothing of the Hub client, Secrets Manager or the logger (bench/consumer-bundle-size.ts).
 */
import type { AccessTokenRequest } from './request.js';
import { type AccessToken, createTokenClient, type TokenClient } from './token-client.js';

export {
  AccessDeniedError,
  BrokerError,
  type BrokerErrorCode,
  type BrokerErrorDetails,
  DependencyUnavailableError,
  HubUnavailableError,
  InvalidClientError,
  InvalidRequestError,
  RateLimitedError,
  ScopeNotGrantedError,
} from '../core/errors.js';
export { CONSUMER_ENV, type TokenClientOptions } from './options.js';
export type { AccessTokenRequest } from './request.js';
export {
  type AccessToken,
  createTokenClient,
  type ForceRefreshOptions,
  TokenClient,
} from './token-client.js';
export { createZaikioFetch, type Fetch, type TokenSource, type ZaikioFetchOptions } from './zaikio-fetch.js';

let shared: TokenClient | undefined;

/** The container-wide client, configured from the environment on first use. */
export function defaultTokenClient(): TokenClient {
  shared ??= createTokenClient();
  return shared;
}

/** `defaultTokenClient().getAccessToken(request)`: the one-line way. */
export function getAccessToken(request: AccessTokenRequest): Promise<AccessToken> {
  return defaultTokenClient().getAccessToken(request);
}
