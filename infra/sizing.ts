/**
 * The broker settings the construct passes to the functions (BROKER_SETTINGS), and the timeouts and
 * concurrency derived from them, the sweep interval and the Hub rate limit. Pure functions, so the
 * rules are tested without synthesizing. docs/deploy.md ("Sizing") explains the formulas.
 */
import { refreshInFlight, refreshPacingMs } from '../functions/core/lifecycle/refresh.js';
import { type BrokerSettings, DEFAULT_SETTINGS, resolveSettings } from '../functions/core/settings.js';

/** Settings the construct derives from its own props; they cannot be set in `settings` as well. */
export const DERIVED_SETTINGS = {
  scheduleIntervalMs: 'sweepInterval',
  refreshAheadMs: 'refreshAhead',
  idleAfterMs: 'idleAfter',
  hubRequestsPerSecond: 'hubRateLimit and refreshShareOfRateLimit',
  refreshConcurrency: 'hubRateLimit and refreshShareOfRateLimit',
} as const;

/** The settings a user may still pass directly. */
export type TunableSettings = Omit<BrokerSettings, keyof typeof DERIVED_SETTINGS>;

export interface SizingInput {
  readonly settings?: Partial<TunableSettings>;
  readonly sweepIntervalMs: number;
  readonly refreshAheadMs?: number;
  readonly idleAfterMs?: number;
  /** Token requests the Hub allows per app in one window (`RateLimit-Rule`, e.g. 300reqs/60s). */
  readonly hubRateLimit: { readonly requests: number; readonly perMs: number };
  /** Part of the Hub rate limit the refresh worker may use; the rest is left for mints. */
  readonly refreshShareOfRateLimit: number;
  /** SQS messages per worker invocation (each carries up to `keysPerMessage` keys). */
  readonly refreshBatchSize: number;
}

export interface Sizing {
  /** What the functions get as BROKER_SETTINGS, every value resolved. */
  readonly settings: BrokerSettings;
  readonly mintTimeoutSeconds: number;
  readonly sweepTimeoutSeconds: number;
  readonly refreshTimeoutSeconds: number;
  readonly refreshVisibilityTimeoutSeconds: number;
  /** Keys one worker invocation may be handed: batch size × keys per message. */
  readonly refreshKeysPerInvocation: number;
  /** Least time between two Hub requests started by one worker invocation (the worker's pacer). */
  readonly refreshPacingMs: number;
  /** The mint function's default reserved concurrency: see mintConcurrencyFor. */
  readonly mintConcurrency: number;
}

/** The mint function's reserved concurrency never defaults lower than this. */
export const MIN_MINT_CONCURRENCY = 10;

/**
 * A ceiling on concurrent mints: the app's whole Hub rate limit with every request taking its full
 * deadline. More mints at once could only wait for a Hub that answers no faster, while each one
 * holds a share of the account's concurrency; a consumer flooding the mint is throttled here
 * instead of starving the account's other functions.
 */
export function mintConcurrencyFor(
  hubRateLimit: SizingInput['hubRateLimit'],
  settings: Pick<BrokerSettings, 'hubDeadlineMs'>,
): number {
  const requestsPerSecond = (hubRateLimit.requests * 1000) / hubRateLimit.perMs;
  return Math.max(MIN_MINT_CONCURRENCY, Math.ceil((requestsPerSecond * settings.hubDeadlineMs) / 1000));
}

/** One invocation starts at most this many Hub requests per second; more load means more invocations. */
export const MAX_REQUESTS_PER_SECOND_PER_INVOCATION = 5;
/** Time for what is not a Hub exchange in an invocation: start-up, secret, lease and token writes. */
export const OVERHEAD_SECONDS = 15;
const LAMBDA_MAX_TIMEOUT_SECONDS = 900;
const SQS_MAX_CONCURRENCY = 1000;
const MINUTE_MS = 60_000;

/**
 * Refresh workers for a Hub request budget: enough that none of them starts more than
 * MAX_REQUESTS_PER_SECOND_PER_INVOCATION requests a second, and at least the 2 an SQS event source needs.
 */
export function refreshConcurrencyFor(hubRequestsPerSecond: number): number {
  return Math.max(2, Math.ceil(hubRequestsPerSecond / MAX_REQUESTS_PER_SECOND_PER_INVOCATION));
}

export class SizingError extends Error {
  override readonly name = 'SizingError';
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new SizingError(`ZaikioTokenBroker: ${message}`);
}

const seconds = (ms: number): string => `${ms / 1000} s`;

export function computeSizing(input: SizingInput): Sizing {
  const { sweepIntervalMs, refreshBatchSize: batch, refreshShareOfRateLimit: share } = input;
  const { requests, perMs } = input.hubRateLimit;
  for (const [key, prop] of Object.entries(DERIVED_SETTINGS)) {
    check(
      !Object.hasOwn(input.settings ?? {}, key),
      `settings.${key} is derived from ${prop}; set that instead`,
    );
  }
  check(
    Number.isInteger(sweepIntervalMs / MINUTE_MS) && sweepIntervalMs >= MINUTE_MS,
    `sweepInterval must be a whole number of minutes, at least 1 (EventBridge Scheduler's finest rate), got ${seconds(sweepIntervalMs)}`,
  );
  check(
    Number.isInteger(requests) && requests >= 1,
    `hubRateLimit.requests must be a whole number >= 1, got ${requests}`,
  );
  check(perMs >= 1000, `hubRateLimit.per must be at least 1 second, got ${seconds(perMs)}`);
  check(share > 0 && share <= 1, `refreshShareOfRateLimit must be in (0, 1], got ${share}`);
  check(
    Number.isInteger(batch) && batch >= 1 && batch <= 10,
    `refreshBatchSize must be a whole number from 1 to 10, got ${batch}`,
  );

  // The worker fleet's share of the Hub rate limit, spread over enough invocations that none of
  // them starts more than MAX_REQUESTS_PER_SECOND_PER_INVOCATION requests a second.
  const hubRequestsPerSecond = (requests * share * 1000) / perMs;
  const refreshConcurrency = refreshConcurrencyFor(hubRequestsPerSecond);
  check(
    refreshConcurrency <= SQS_MAX_CONCURRENCY,
    `the Hub rate limit needs ${refreshConcurrency} concurrent workers, more than SQS allows (${SQS_MAX_CONCURRENCY})`,
  );
  const overrides: Partial<BrokerSettings> = {
    ...input.settings,
    scheduleIntervalMs: sweepIntervalMs,
    hubRequestsPerSecond,
    refreshConcurrency,
    ...(input.refreshAheadMs === undefined ? {} : { refreshAheadMs: input.refreshAheadMs }),
    ...(input.idleAfterMs === undefined ? {} : { idleAfterMs: input.idleAfterMs }),
  };
  const merged: BrokerSettings = { ...DEFAULT_SETTINGS, ...overrides };
  check(
    merged.refreshAheadMs >= 2 * sweepIntervalMs,
    `the refresh window (refreshAhead, ${seconds(merged.refreshAheadMs)}) must be at least two sweep intervals ` +
      `(2 × ${seconds(sweepIntervalMs)}): a token that becomes due just after a sweep waits one interval, and a ` +
      'failed refresh needs one more interval to be retried',
  );
  check(
    merged.refreshAheadMs >= sweepIntervalMs + merged.minValiditySeconds * 1000,
    `the refresh window (refreshAhead, ${seconds(merged.refreshAheadMs)}) must cover one sweep interval plus the ` +
      `minimum validity (${seconds(sweepIntervalMs)} + ${merged.minValiditySeconds} s), or a token picked up late ` +
      'can no longer be handed out',
  );
  check(
    merged.purgeAfterMs > merged.idleAfterMs,
    `settings.purgeAfterMs (${seconds(merged.purgeAfterMs)}) must exceed the idle period ` +
      `(idleAfter, ${seconds(merged.idleAfterMs)}): an item stops being refreshed before DynamoDB deletes it`,
  );
  let settings: BrokerSettings;
  try {
    settings = resolveSettings(overrides);
  } catch (error) {
    throw new SizingError(`ZaikioTokenBroker: ${(error as Error).message}`);
  }

  const pacingMs = refreshPacingMs(settings);
  const keys = batch * settings.keysPerMessage;
  // A mint may wait for another holder's lease to run out, then make its own Hub exchange.
  const mintTimeoutSeconds =
    Math.ceil((settings.leaseDurationMs + settings.hubDeadlineMs) / 1000) + OVERHEAD_SECONDS + 5;
  // Holds even if the worker refreshed its keys one after another, each taking the whole deadline.
  const refreshTimeoutSeconds =
    Math.ceil((keys * settings.hubDeadlineMs + (keys - 1) * pacingMs) / 1000) + OVERHEAD_SECONDS;
  // A sweep ends before the next one starts.
  const sweepTimeoutSeconds = Math.min(sweepIntervalMs / 1000, 120) - 10;

  check(
    mintTimeoutSeconds <= LAMBDA_MAX_TIMEOUT_SECONDS,
    `leaseDurationMs + hubDeadlineMs need a mint timeout of ${mintTimeoutSeconds} s, above Lambda's 900 s`,
  );
  check(
    refreshTimeoutSeconds <= LAMBDA_MAX_TIMEOUT_SECONDS,
    `${keys} keys per worker invocation (refreshBatchSize × settings.keysPerMessage), each up to hubDeadlineMs ` +
      `and ${pacingMs} ms apart (the pacing the Hub rate limit needs), take up to ${refreshTimeoutSeconds} s, ` +
      "above Lambda's 900 s; lower refreshBatchSize, settings.keysPerMessage or hubDeadlineMs, or raise hubRateLimit",
  );

  check(
    refreshInFlight(settings) >= 1,
    `the pacing the Hub rate limit needs (${pacingMs} ms between one worker's requests) leaves a ` +
      `key no time inside its Hub deadline (hubDeadlineMs, ${seconds(settings.hubDeadlineMs)}) for a retry or the ` +
      'fallback to client credentials, so keys would time out without being sent; raise hubRateLimit, ' +
      'refreshShareOfRateLimit or settings.hubDeadlineMs',
  );
  return {
    settings,
    mintTimeoutSeconds,
    sweepTimeoutSeconds,
    refreshTimeoutSeconds,
    // AWS: at least six times the function timeout, so a throttled batch is not received twice.
    refreshVisibilityTimeoutSeconds: 6 * refreshTimeoutSeconds,
    refreshKeysPerInvocation: keys,
    refreshPacingMs: pacingMs,
    mintConcurrency: mintConcurrencyFor(input.hubRateLimit, settings),
  };
}
