/**
 * Every tunable of the broker, with its default, in one place. Components take the resolved
 * settings; nothing else invents a default.
 */
import { InvalidRequestError } from './errors.js';
import { LEASE_WRITE_MARGIN_MS } from './lifecycle/lease.js';
import { DEFAULT_MIN_VALIDITY_SECONDS } from './token-request.js';

export interface BrokerSettings {
  /** A token is never handed out if it expires within this many seconds. */
  readonly minValiditySeconds: number;
  /**
   * How long a mint or refresh may hold a key. Longer than the Hub deadline, and every exchange's
   * deadline is cut to end before the lease does, so a live holder writes before losing it; short
   * enough that a crashed holder blocks others only briefly.
   */
  readonly leaseDurationMs: number;
  /** Total time for one Hub exchange, retries included. */
  readonly hubDeadlineMs: number;
  /** How long a recorded permanent refusal is answered from the item without asking the Hub again. */
  readonly negativeCacheMs: number;
  /** Refresh once the remaining lifetime falls under max(refreshAheadMs, refreshLifetimeFraction × lifetime). */
  readonly refreshAheadMs: number;
  readonly refreshLifetimeFraction: number;
  /** Up to this much earlier, at random, so a fleet minted together does not refresh together. */
  readonly refreshJitterMs: number;
  /** Partitions of the "due" index; the sweeper queries each. More shards spread a large fleet's writes. */
  readonly dueShards: number;
  /**
   * A key with no use recorded in this long stops being refreshed, whatever its token (a key in use
   * records a use per token; lifecycle/refresh.ts `isInDemand` stops refreshing unused ones sooner).
   */
  readonly idleAfterMs: number;
  /** DynamoDB deletes an item this long after its last recorded use (TTL). */
  readonly purgeAfterMs: number;
  /** Backoff after transient refresh failures: base × 2^(failures-1), capped, with full jitter. */
  readonly failureBackoffBaseMs: number;
  readonly failureBackoffMaxMs: number;
  /** How long Secrets Manager values are cached in a container. */
  readonly secretMaxAgeSeconds: number;
  /** How often the sweeper runs (the EventBridge Scheduler rate). */
  readonly scheduleIntervalMs: number;
  /**
   * Fleet-wide ceiling on refresh requests to the Hub. Zaikio limits each app (e.g. 300 requests
   * per 60 s); keep this below it, leaving room for on-demand mints.
   */
  readonly hubRequestsPerSecond: number;
  /** How many refresh workers may run at once (the SQS event source's maximum concurrency). */
  readonly refreshConcurrency: number;
  /** Keys per SQS message from the sweeper to the workers. */
  readonly keysPerMessage: number;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export const DEFAULT_SETTINGS: BrokerSettings = {
  minValiditySeconds: DEFAULT_MIN_VALIDITY_SECONDS,
  leaseDurationMs: 25_000,
  hubDeadlineMs: 15_000,
  negativeCacheMs: MINUTE,
  // Two schedule intervals: with a one-minute sweep a token is picked up at most a minute late and
  // still has a minute left, the default minimum validity. See docs/refresh.md.
  refreshAheadMs: 2 * MINUTE,
  refreshLifetimeFraction: 0.1,
  refreshJitterMs: 15_000,
  dueShards: 8,
  idleAfterMs: 7 * DAY,
  purgeAfterMs: 30 * DAY,
  failureBackoffBaseMs: 30_000,
  failureBackoffMaxMs: 15 * MINUTE,
  secretMaxAgeSeconds: 300,
  scheduleIntervalMs: MINUTE,
  hubRequestsPerSecond: 4,
  refreshConcurrency: 2,
  keysPerMessage: 10,
};

function check(condition: boolean, message: string): void {
  if (!condition) throw new InvalidRequestError('invalid_request', `invalid setting: ${message}`);
}

export function resolveSettings(overrides: Partial<BrokerSettings> = {}): BrokerSettings {
  const given = Object.entries(overrides).filter(([, value]) => value !== undefined);
  for (const [name] of given) check(Object.hasOwn(DEFAULT_SETTINGS, name), `unknown setting "${name}"`);
  const settings: BrokerSettings = { ...DEFAULT_SETTINGS, ...Object.fromEntries(given) };
  for (const [name, value] of Object.entries(settings)) {
    check(Number.isFinite(value) && value >= 0, `${name} must be a finite number >= 0`);
  }
  check(
    settings.leaseDurationMs >= settings.hubDeadlineMs + LEASE_WRITE_MARGIN_MS,
    `leaseDurationMs must exceed hubDeadlineMs by at least ${LEASE_WRITE_MARGIN_MS / 1000} s, to write the result`,
  );
  check(settings.refreshLifetimeFraction < 1, 'refreshLifetimeFraction must be below 1');
  check(Number.isInteger(settings.dueShards) && settings.dueShards >= 1, 'dueShards must be an integer >= 1');
  check(
    settings.refreshAheadMs >= 2 * settings.scheduleIntervalMs,
    `the refresh window (refreshAheadMs = ${settings.refreshAheadMs / 1000} s) must be at least two schedule ` +
      `intervals (2 × ${settings.scheduleIntervalMs / 1000} s), so that a failed refresh is retried before the ` +
      'token runs out; raise refreshAheadMs or run the schedule more often',
  );
  check(settings.hubRequestsPerSecond > 0, 'hubRequestsPerSecond must be above 0');
  check(
    Number.isInteger(settings.refreshConcurrency) && settings.refreshConcurrency >= 2,
    'refreshConcurrency must be an integer >= 2 (the minimum of an SQS event source)',
  );
  check(
    Number.isInteger(settings.keysPerMessage) &&
      settings.keysPerMessage >= 1 &&
      settings.keysPerMessage <= 100,
    'keysPerMessage must be an integer from 1 to 100',
  );
  return settings;
}
