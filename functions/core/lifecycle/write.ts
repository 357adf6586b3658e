/**
 * What a finished mint or refresh writes: the token with its refresh time, the recorded use, or the
 * failure with its next attempt.
 */
import { type BrokerError, InvalidRequestError, RateLimitedError, ScopeNotGrantedError } from '../errors.js';
import type { HubToken } from '../hub/token.js';
import type { BrokerSettings } from '../settings.js';
import type { TokenRecord } from '../store/record.js';
import type { FailureWrite, TokenWrite, UseWrite } from '../store/repository.js';
import { REFRESH_TOKEN_TRUST_MS } from './lease.js';
import { useCheckAt } from './serve.js';

type Lifetime = { readonly issuedAt: number; readonly expiresAt: number };

/** What to store for a token from the Hub: the token, its refresh token's trust, its refresh time. */
export function tokenWrite(
  token: HubToken,
  now: number,
  settings: BrokerSettings,
  random: () => number,
  options: { readonly requested: boolean },
): TokenWrite {
  const { accessToken, tokenType, grantedScopes, issuedAt, expiresAt, refreshToken } = token;
  return {
    token: { accessToken, tokenType, grantedScopes, issuedAt, expiresAt },
    refreshToken:
      refreshToken === undefined
        ? undefined
        : { value: refreshToken, trustedUntil: issuedAt + REFRESH_TOKEN_TRUST_MS },
    dueAt: refreshDueAt(token, settings, random),
    use: options.requested ? { at: now, purgeAt: purgeAt(now, settings) } : undefined,
  };
}

/**
 * When a token should next be refreshed: computed once, at write time, as an absolute time.
 * `random` is in [0, 1).
 */
export function refreshDueAt(token: Lifetime, settings: BrokerSettings, random: () => number): number {
  const lifetime = Math.max(0, token.expiresAt - token.issuedAt);
  const window = Math.max(settings.refreshAheadMs, settings.refreshLifetimeFraction * lifetime);
  const jitter = random() * Math.min(settings.refreshJitterMs, lifetime / 10);
  return Math.max(token.issuedAt, Math.floor(token.expiresAt - window - jitter));
}

/**
 * A use at `now` of the token a record served: the item lives purgeAfterMs longer. Written only when
 * no use since the token's check point is stored (serve.ts `isUseNews`), so a busy key costs one write
 * per token, and only while the item still holds that token (its `version`). A key the worker retired
 * just before the use came in goes back into the due index, at the token's refresh time without
 * jitter, so the use is not lost (refresh.ts `isInDemand` then holds).
 */
export function useWrite(
  served: { readonly token: Lifetime; readonly version: number },
  now: number,
  settings: BrokerSettings,
): UseWrite {
  const { token, version } = served;
  return {
    at: now,
    purgeAt: purgeAt(now, settings),
    staleBefore: useCheckAt(token) - 1,
    dueAt: refreshDueAt(token, settings, () => 0),
    version,
  };
}

/** Epoch seconds (the table's TTL attribute): DynamoDB deletes an abandoned item after it. */
export function purgeAt(now: number, settings: BrokerSettings): number {
  return Math.floor((now + settings.purgeAfterMs) / 1000);
}

/** Exponential backoff with full jitter for the n-th consecutive failure (n >= 1). */
export function failureBackoffMs(failures: number, settings: BrokerSettings, random: () => number): number {
  const ceiling = Math.min(settings.failureBackoffMaxMs, settings.failureBackoffBaseMs * 2 ** (failures - 1));
  return Math.floor(random() * ceiling);
}

/**
 * What a failed mint or refresh records. A refusal revokes the key (out of the due index). A
 * transient failure backs off, never before a rate limit's reset. A refresh that fails on the
 * request itself (an app no longer configured) leaves the due index: retrying would not help; the
 * mint path keeps the backoff so that its callers are answered from the item meanwhile.
 *
 * `failureCount` counts consecutive failures of one kind: refusals (which double the negative cache)
 * or other failures (which double the backoff). A failure of the other kind starts over at one, so an
 * outage never lengthens the wait of an organization that has just granted the scopes again.
 */
export function failureWrite(
  error: BrokerError,
  previous: Pick<TokenRecord, 'failureCount' | 'status'>,
  now: number,
  settings: BrokerSettings,
  random: () => number,
  path: 'mint' | 'refresh',
): FailureWrite {
  const refusal = error instanceof ScopeNotGrantedError;
  const sameKind = previous.status === (refusal ? 'revoked' : 'failing');
  const failureCount = sameKind ? previous.failureCount + 1 : 1;
  // A caller asked (the mint path): that is a use, so the retry is for someone (refresh.ts isInDemand).
  const use = path === 'mint' ? { use: { at: now, purgeAt: purgeAt(now, settings) } } : {};
  if (refusal) return { error, at: now, status: 'revoked', failureCount, ...use };
  if (path === 'refresh' && error instanceof InvalidRequestError)
    return { error, at: now, status: 'failing', failureCount };
  let nextAttemptAt = now + failureBackoffMs(failureCount, settings, random);
  if (error instanceof RateLimitedError) nextAttemptAt = Math.max(nextAttemptAt, error.retryAt.getTime());
  return { error, at: now, status: 'failing', failureCount, nextAttemptAt, ...use };
}
