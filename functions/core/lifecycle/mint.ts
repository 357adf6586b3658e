/**
 * Get-or-mint: serve, refuse from the record, wait on another holder's lease, or mint.
 */
import { type BrokerError, HubUnavailableError, InvalidRequestError, reviveError } from '../errors.js';
import type { BrokerSettings } from '../settings.js';
import type { LastError, StoredToken, TokenRecord } from '../store/record.js';
import { isServable, lasts } from './serve.js';

/** Recorded refusals are answered from the item for negativeCacheMs, doubling per repeat up to this. */
export const NEGATIVE_CACHE_MAX_MS = 3600_000;
/** The first poll of a held lease; polls slow down by half each time up to the ceiling. */
export const LEASE_POLL_FIRST_MS = 50;
export const LEASE_POLL_MAX_MS = 500;

/** One caller's get-or-mint, fixed when it starts. */
export interface MintAttempt {
  readonly minValidityMs: number;
  readonly forceRefresh: boolean;
  /** A forced refresh rejects the version the caller saw, not whatever another caller mints meanwhile. */
  readonly rejectedVersion: number | undefined;
  /** Failures recorded when the caller started: a higher count is a failure that happened meanwhile. */
  readonly failuresAtStart: number;
  /** Waiting on another holder's lease ends here (its lease, plus one poll). */
  readonly waitUntil: number;
}

export function startMintAttempt(
  record: TokenRecord | undefined,
  request: { readonly minValidityMs: number; readonly forceRefresh: boolean },
  now: number,
  settings: BrokerSettings,
): MintAttempt {
  return {
    minValidityMs: request.minValidityMs,
    forceRefresh: request.forceRefresh,
    rejectedVersion: request.forceRefresh ? (record?.version ?? -1) : undefined,
    failuresAtStart: record?.failureCount ?? 0,
    waitUntil: now + settings.leaseDurationMs + LEASE_POLL_MAX_MS,
  };
}

/** A record whose token may be handed out. */
export type ServableRecord = TokenRecord & { readonly token: StoredToken };

export type MintStep =
  | { readonly action: 'serve'; readonly record: ServableRecord }
  | { readonly action: 'refuse'; readonly error: BrokerError }
  | { readonly action: 'wait' }
  | { readonly action: 'mint' };

/** The stored token answers this attempt: servable, and not the version a forced refresh rejects. */
export function servesAttempt(
  record: TokenRecord | undefined,
  attempt: MintAttempt,
  now: number,
): record is ServableRecord {
  return isServable(record, now, attempt.minValidityMs) && record.version !== attempt.rejectedVersion;
}

/** Someone else holds the key and their lease has not run out. */
export function leaseIsLive(record: TokenRecord | undefined, now: number): boolean {
  return record?.leaseOwner !== undefined && (record.leaseExpiresAt ?? 0) >= now;
}

/**
 * Serve the stored token; else refuse from the record (a recorded failure, or tokens too short-lived
 * for the caller); else wait on another holder's lease (until the attempt's wait ends); else mint.
 */
export function nextMintStep(
  record: TokenRecord | undefined,
  attempt: MintAttempt,
  now: number,
  settings: BrokerSettings,
): MintStep {
  if (servesAttempt(record, attempt, now)) return { action: 'serve', record };
  const error =
    recordedFailure(record, attempt, now, settings) ??
    lifetimeShortfall(record?.token, attempt.minValidityMs);
  if (error !== undefined) return { action: 'refuse', error };
  if (!leaseIsLive(record, now)) return { action: 'mint' };
  if (now < attempt.waitUntil) return { action: 'wait' };
  return {
    action: 'refuse',
    error: new HubUnavailableError(
      'lease_wait_timeout',
      'another mint of this token did not finish in time; try again shortly',
    ),
  };
}

/** Polls of a held lease start fast and slow down by half each time, up to a ceiling. */
export function nextPollMs(previousMs: number | undefined): number {
  return previousMs === undefined ? LEASE_POLL_FIRST_MS : Math.min(LEASE_POLL_MAX_MS, previousMs * 1.5);
}

/**
 * Answers from the item instead of asking the Hub again: a failure that happened while we waited,
 * and, unless the caller forces, a recent refusal, a rate limit still in force, or a transient
 * failure still inside its backoff (capped at one base interval, so a recovered Hub is asked soon).
 */
export function recordedFailure(
  record: TokenRecord | undefined,
  attempt: MintAttempt,
  now: number,
  settings: BrokerSettings,
): BrokerError | undefined {
  const lastError = record?.lastError;
  if (record === undefined || lastError === undefined) return undefined;
  // Another container's attempt failed while we waited on its lease: share its answer.
  if (record.failureCount > attempt.failuresAtStart) return revive(lastError);
  if (attempt.forceRefresh) return undefined;
  if (record.status === 'revoked') {
    return now - lastError.at < negativeCacheMs(record.failureCount, settings)
      ? revive(lastError)
      : undefined;
  }
  if (lastError.retryAt !== undefined && lastError.retryAt > now) return revive(lastError);
  const backoffEnd = Math.min(record.nextAttemptAt ?? 0, lastError.at + settings.failureBackoffBaseMs);
  if (record.status === 'failing' && now < backoffEnd) return revive(lastError);
  return undefined;
}

/** How long the n-th consecutive refusal is answered from the item: doubling, up to an hour. */
export function negativeCacheMs(failureCount: number, settings: BrokerSettings): number {
  const repeats = Math.max(0, failureCount - 1);
  return Math.min(NEGATIVE_CACHE_MAX_MS, settings.negativeCacheMs * 2 ** repeats);
}

function revive(lastError: LastError): BrokerError {
  return reviveError({
    errorType: lastError.errorType,
    code: lastError.code,
    message: lastError.message,
    details: {
      ...(lastError.hubCodes === undefined ? {} : { hubCodes: lastError.hubCodes }),
      ...(lastError.missingScopes === undefined ? {} : { missingScopes: lastError.missingScopes }),
      ...(lastError.retryAt === undefined ? {} : { retryAt: new Date(lastError.retryAt).toISOString() }),
    },
  });
}

type Lifetime = { readonly issuedAt: number; readonly expiresAt: number };

function tooShortLived(token: Lifetime): InvalidRequestError {
  return new InvalidRequestError(
    'invalid_request',
    `the Zaikio Hub issues tokens valid for ${Math.round((token.expiresAt - token.issuedAt) / 1000)} s, ` +
      'less than the requested minValiditySeconds; ask for less',
  );
}

/** A caller asking for more validity than the Hub's tokens have would otherwise mint on every call. */
export function lifetimeShortfall(
  token: Lifetime | undefined,
  minValidityMs: number,
): BrokerError | undefined {
  return token === undefined || token.expiresAt - token.issuedAt >= minValidityMs
    ? undefined
    : tooShortLived(token);
}

/** A fresh token that still does not last long enough: the caller asks for more than the Hub gives. */
export function mintedShortfall(
  token: Lifetime,
  now: number,
  minValidityMs: number,
): BrokerError | undefined {
  return lasts(token, now, minValidityMs) ? undefined : tooShortLived(token);
}
