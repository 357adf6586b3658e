/**
 * Leases and the Hub exchange under one: how long a lease holds, the exchange's deadline, and
 * which refresh token is still trusted.
 */
import { BrokerError, RateLimitedError } from '../errors.js';
import type { BrokerSettings } from '../settings.js';
import type { TokenRecord } from '../store/record.js';
import type { LeaseTerms } from '../store/repository.js';

/**
 * Time a lease holder keeps after its Hub exchange to write the result: every exchange's deadline
 * ends this long before the lease does.
 */
export const LEASE_WRITE_MARGIN_MS = 2_000;
/** Zaikio refresh tokens live 7 days; we stop trusting one an hour early. */
export const REFRESH_TOKEN_TRUST_MS = 7 * 24 * 3600_000 - 3600_000;

export function leaseTerms(owner: string, now: number, settings: BrokerSettings): LeaseTerms {
  return { owner, takenAt: now, expiresAt: now + settings.leaseDurationMs };
}

/**
 * The deadline for a Hub exchange under a lease: the configured Hub deadline, but never so late
 * that the lease could run out first (a paced worker may start its request late).
 */
export function hubDeadline(
  leaseExpiresAt: number | undefined,
  now: number,
  settings: BrokerSettings,
): number {
  const leaseEnd = (leaseExpiresAt ?? now + settings.leaseDurationMs) - LEASE_WRITE_MARGIN_MS;
  return Math.min(now + settings.hubDeadlineMs, leaseEnd);
}

/** The stored refresh token while it is trusted; otherwise the client_credentials grant is used. */
export function trustedRefreshToken(record: TokenRecord, now: number): string | undefined {
  return record.refreshToken !== undefined && (record.refreshTokenExpiresAt ?? 0) > now
    ? record.refreshToken
    : undefined;
}

/**
 * The Hub refused the refresh grant for good: any 4xx but a timeout or a rate limit (`invalid_grant`,
 * `unauthorized_client`, `invalid_request`, `unsupported_grant_type`, a 401, or one we do not know).
 * Zaikio is withdrawing refresh tokens from client credentials apps, so the refresh token is dropped
 * and client credentials are asked in the same exchange; only their refusal is the caller's answer.
 */
export function refusesRefreshToken(error: unknown): boolean {
  if (!(error instanceof BrokerError) || error instanceof RateLimitedError) return false;
  const status = error.details.hubStatus;
  return (
    error.code === 'invalid_grant' ||
    (status !== undefined && status >= 400 && status < 500 && status !== 408)
  );
}

/**
 * After the Hub refused an app's credentials and a fresh read of its secret found nothing newer, the
 * app's other keys in this container are answered from that refusal for this long, instead of each
 * sending its own request the Hub will refuse and reading the secret again.
 */
export const CLIENT_REFUSAL_HOLD_MS = 30_000;

/** A remembered refusal of an app's credentials answers the next exchange while it holds. */
export function refusalHolds(refusedAt: number, now: number): boolean {
  return now - refusedAt < CLIENT_REFUSAL_HOLD_MS;
}

/** Someone else holds the key and their lease has not run out. */
export function leaseIsLive(record: TokenRecord | undefined, now: number): boolean {
  return record?.leaseOwner !== undefined && (record.leaseExpiresAt ?? 0) >= now;
}
