/**
 * What the refresher does with a due key it holds.
 */
import type { BrokerSettings } from '../settings.js';
import type { TokenRecord } from '../store/record.js';
import { LEASE_WRITE_MARGIN_MS, leaseIsLive } from './lease.js';
import { useCheckAt } from './serve.js';

/** A key nobody asked for in `idleAfterMs` stops being refreshed, whatever its token. */
export function isIdle(record: TokenRecord, now: number, settings: BrokerSettings): boolean {
  return (record.lastRequestedAt ?? 0) < now - settings.idleAfterMs;
}

/**
 * Whether a due key is expected to be used before its next token would expire: its current token
 * was used after its check point (serve.ts `useCheckAt`, half way through its life), as the mint
 * records it: for a caller's request, or for a consumer's report of a token it keeps in memory. A
 * key whose token nobody used since is left to expire; its next user mints on demand, once. The
 * reasoning is in docs/refresh.md ("Refresh what is used").
 *
 * Two cases are refreshed without that evidence: a key without a token (a failed mint's retry:
 * someone asked and got nothing yet), and a token too short-lived for its check point to lie a
 * whole sweep before the worker sees it (a consumer could not have said so in time); `isIdle` still
 * bounds those.
 */
export function isInDemand(record: TokenRecord, now: number, settings: BrokerSettings): boolean {
  const { token } = record;
  if (token === undefined) return true;
  const checkAt = useCheckAt(token);
  if ((record.lastRequestedAt ?? Number.NEGATIVE_INFINITY) >= checkAt) return true;
  return checkAt > now - settings.scheduleIntervalMs;
}

/**
 * What the refresher does with a due key: a revoked key only leaves the due index (callers see the
 * refusal from the item), an idle key or one nobody uses is retired (left to expire), every other
 * one is refreshed.
 */
export function refreshStep(
  record: TokenRecord,
  now: number,
  settings: BrokerSettings,
): 'skip' | 'retire' | 'refresh' {
  if (record.status === 'revoked') return 'skip';
  if (isIdle(record, now, settings) || !isInDemand(record, now, settings)) return 'retire';
  return 'refresh';
}

/**
 * How the worker claims a due key it has just read (consistently), given when the sweep that handed
 * it out ran (`sweptAt`):
 * - `skip`: not due any more (refreshed meanwhile: a late or duplicate message) or someone holds its
 *   lease; nothing is written;
 * - `read`: refresh it on the strength of the read, without a lease write of its own (its token write
 *   is fenced on the read instead, store/repository.ts ReadClaim). Only when no other sweep can have
 *   handed the key out: this sweep is the first to find it due (the previous one ran a schedule
 *   interval earlier, before `dueAt`), and the token is written, the whole Hub deadline spent, before
 *   the next sweep runs, so that sweep finds the key refreshed and does not hand it out again. So a
 *   key is refreshed by one worker at a time, as under a lease (short of SQS's or the Scheduler's own
 *   duplicate deliveries, which cost a Hub request, never a newer token), with one write of the item
 *   instead of two;
 * - `lease`: anything else (an overdue key an earlier sweep may have handed out too, a message taken
 *   late, a revoked key in the index): take the lease first, as the mint path does.
 *
 * A key to retire is always claimed by the read: retiring asks nothing of the Hub and its one write
 * is fenced on the read and on no use recorded since (store/expressions.ts `noUseSince`).
 */
export function refreshClaim(
  record: TokenRecord | undefined,
  sweptAt: number,
  now: number,
  settings: BrokerSettings,
): 'skip' | 'read' | 'lease' {
  if (record?.dueAt === undefined || record.dueAt > now) return 'skip';
  if (leaseIsLive(record, now)) return 'skip';
  const step = refreshStep(record, now, settings);
  if (step === 'retire') return 'read';
  if (step === 'skip') return 'lease';
  const interval = settings.scheduleIntervalMs;
  const firstSweep = record.dueAt > sweptAt - interval;
  const beforeNextSweep = now + settings.hubDeadlineMs + LEASE_WRITE_MARGIN_MS <= sweptAt + interval;
  return firstSweep && beforeNextSweep ? 'read' : 'lease';
}

/** Keys one worker invocation refreshes at once, at most. */
export const MAX_REFRESH_IN_FLIGHT = 8;

/** Least time between two Hub requests one worker starts: its share of the fleet's ceiling. */
export function refreshPacingMs(
  settings: Pick<BrokerSettings, 'hubRequestsPerSecond' | 'refreshConcurrency'>,
): number {
  return (1000 * settings.refreshConcurrency) / settings.hubRequestsPerSecond;
}

/**
 * Keys a worker refreshes at once. Each takes its lease, and with it its Hub deadline, before it
 * waits for a pacing slot; so no more are in flight than the pacer can start within half the
 * deadline, which leaves the other half for the request, a retry or the fallback to client
 * credentials. More would time out without ever being sent. 0 means the pacing itself starves a
 * key: the construct rejects such a configuration (infra/sizing.ts).
 */
export function refreshInFlight(
  settings: Pick<BrokerSettings, 'hubDeadlineMs' | 'hubRequestsPerSecond' | 'refreshConcurrency'>,
): number {
  const fits = Math.floor(settings.hubDeadlineMs / 2 / refreshPacingMs(settings));
  return Math.min(MAX_REFRESH_IN_FLIGHT, fits);
}

/**
 * How far past its refresh time a key's token is (ms), measured from the token itself: its expiry
 * less the refresh window, without jitter. The due index moves a failing key to its next attempt,
 * so the worker reports this for the keys it failed: a key in backoff still counts as overdue.
 * Undefined when there is no token to lose.
 */
export function overdueMs(
  token: { readonly issuedAt: number; readonly expiresAt: number } | undefined,
  now: number,
  settings: Pick<BrokerSettings, 'refreshAheadMs' | 'refreshLifetimeFraction'>,
): number | undefined {
  if (token === undefined) return undefined;
  const lifetime = Math.max(0, token.expiresAt - token.issuedAt);
  const window = Math.max(settings.refreshAheadMs, settings.refreshLifetimeFraction * lifetime);
  return Math.max(0, now - (token.expiresAt - window));
}
