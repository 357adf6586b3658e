/**
 * Get-or-mint: serve, refuse from the record, wait on another holder's lease, or mint.
 */
import { type BrokerError, HubUnavailableError, InvalidRequestError, reviveError } from '../errors.js';
import type { BrokerSettings } from '../settings.js';
import type { LastError, StoredToken, TokenRecord } from '../store/record.js';
import { tokenSha256 } from '../token-hash.js';
import { leaseIsLive } from './lease.js';
import { isServable, lasts } from './serve.js';

/** Recorded refusals are answered from the item for negativeCacheMs, doubling per consecutive refusal up to this. */
export const NEGATIVE_CACHE_MAX_MS = 3600_000;
/**
 * How long a mint is expected to hold its lease before this container has seen one of its own: the
 * first poll of a held lease comes this long after the lease was taken.
 */
export const LEASE_POLL_FIRST_MS = 50;
/** Polls right after the expected end of a mint are this far apart: its write is due any moment. */
export const LEASE_POLL_STEP_MS = 15;
export const LEASE_POLL_MAX_MS = 500;
/**
 * A forced refresh that does not name the token it rejects (`forceRefresh: true`) replaces only a
 * token at least this old: a younger one was just minted, most likely by another forced request
 * for the same rejection, so repeating the request cannot make the Hub mint again and again.
 */
export const UNNAMED_FORCE_MIN_AGE_MS = 30_000;

/**
 * No force; force naming the rejected token by its SHA-256 (token-hash.ts; not by its expiry, which
 * two tokens minted in the same second share); or the older unnamed form.
 */
export type ForceRefresh = boolean | { readonly accessTokenSha256: string };

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
  request: { readonly minValidityMs: number; readonly forceRefresh: ForceRefresh },
  now: number,
  settings: BrokerSettings,
): MintAttempt {
  const rejectedVersion = rejectedVersionOf(record, request.forceRefresh, now);
  return {
    minValidityMs: request.minValidityMs,
    forceRefresh: rejectedVersion !== undefined,
    rejectedVersion,
    failuresAtStart: record?.failureCount ?? 0,
    waitUntil: now + settings.leaseDurationMs + LEASE_POLL_MAX_MS,
  };
}

/**
 * The stored version a forced refresh rejects, if any. A named token that is no longer the stored
 * one was already replaced: the stored token is served without asking the Hub.
 */
export function rejectedVersionOf(
  record: TokenRecord | undefined,
  force: ForceRefresh,
  now: number,
): number | undefined {
  if (force === false) return undefined;
  const token = record?.token;
  if (token === undefined) return record?.version ?? -1;
  if (force === true) return now - token.issuedAt >= UNNAMED_FORCE_MIN_AGE_MS ? record?.version : undefined;
  return tokenSha256(token.accessToken) === force.accessTokenSha256 ? record?.version : undefined;
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

/**
 * How long to sleep before reading a held lease again. The holder's token is written about one Hub
 * exchange after it took the lease (`expectedMs`: the median this container has observed, or
 * LEASE_POLL_FIRST_MS before it has observed any), so the first poll comes then, not a fixed step
 * after the waiter happened to look. Past that moment polls come every LEASE_POLL_STEP_MS, then,
 * the later the mint runs, half as far apart as it is late, up to the ceiling: a slow or failing Hub
 * is not read for every few ms of a lease that can last seconds.
 */
export function nextPollMs(elapsedMs: number, expectedMs: number | undefined): number {
  const expected = expectedMs ?? LEASE_POLL_FIRST_MS;
  const late = Math.max(0, elapsedMs) - expected;
  if (late < -LEASE_POLL_STEP_MS) return Math.min(LEASE_POLL_MAX_MS, -late);
  return Math.min(LEASE_POLL_MAX_MS, Math.max(LEASE_POLL_STEP_MS, late / 2));
}

/** The median of some observed durations, or undefined when there are none. */
export function medianMs(durations: readonly number[]): number | undefined {
  if (durations.length === 0) return undefined;
  const sorted = [...durations].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/**
 * Answers from the item instead of asking the Hub again: a failure that happened while we waited,
 * a rate limit still in force, and, unless the caller forces, a recent refusal or a transient
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
  // Another container's attempt failed while we waited on its lease: share its answer. The count
  // starts over when the kind of failure changes, so any change, not only a rise, is a new failure.
  if (record.failureCount !== attempt.failuresAtStart) return revive(lastError);
  // Not even a forced refresh asks the Hub before the time it gave.
  if (lastError.retryAt !== undefined && lastError.retryAt > now) return revive(lastError);
  if (attempt.forceRefresh) return undefined;
  if (record.status === 'revoked') {
    return now - lastError.at < negativeCacheMs(record.failureCount, settings)
      ? revive(lastError)
      : undefined;
  }
  const backoffEnd = Math.min(record.nextAttemptAt ?? 0, lastError.at + settings.failureBackoffBaseMs);
  if (record.status === 'failing' && now < backoffEnd) return revive(lastError);
  return undefined;
}

/**
 * How long the n-th consecutive refusal is answered from the item: doubling, up to an hour. The
 * count is of refusals in a row only (failureWrite): a success or another failure starts it over.
 */
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
