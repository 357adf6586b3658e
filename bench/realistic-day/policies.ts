/**
 * The two refresh policies, each with the consumer client of its release, decided by the product's
 * own pure functions (functions/core/lifecycle/) on a simulated table of one item per key:
 *
 * - eager (the previous release): every due key is refreshed unless idle (no use recorded for
 *   `idleAfterMs`); the consumer serves from memory until the token is within its minimum validity,
 *   then reads the item, and goes through the mint function when the item's recorded use is an hour
 *   old, so that the mint records one (the mint serves the stored token, no Hub request);
 * - demand-driven (this release): a due key is refreshed only while its token was used after its
 *   check point (`refreshClaim`, `refreshStep`), else retired and left to expire; the consumer also
 *   re-reads the item at the token's check point and reports a use when none is recorded since
 *   (`useCheckAt`, `isUseNews`).
 *
 * The previous release's hourly rule is no longer in the product; it is restated here.
 */
import {
  isIdle,
  isServable,
  isUseNews,
  lasts,
  refreshClaim,
  refreshDueAt,
  refreshStep,
  useCheckAt,
} from '../../functions/core/lifecycle/index.js';
import { type BrokerSettings, DEFAULT_SETTINGS } from '../../functions/core/settings.js';
import type { StoredToken, TokenRecord } from '../../functions/core/store/record.js';
import { HOUR, MINUTE } from './population.js';

export const SETTINGS: BrokerSettings = DEFAULT_SETTINGS;
/** Zaikio's access tokens live 10 minutes. */
export const TOKEN_LIFETIME_MS = 10 * MINUTE;
const MIN_VALIDITY_MS = SETTINGS.minValiditySeconds * 1000;
/**
 * A use this long after the previous one is a use after idle: the product's own measure of a key no
 * longer in demand (a token not used after half its life, `useCheckAt`, is left to expire).
 */
export const IDLE_GAP_MS = TOKEN_LIFETIME_MS / 2;
/** The previous release's consumer sent a call through the mint once the recorded use was this old. */
const PREVIOUS_USE_RECORD_INTERVAL_MS = HOUR;

/** Where a consumer call was answered, and what it cost besides. */
export const MEMORY = 0;
export const TABLE = 1;
/** A GetItem and a use report (an Event Invoke of the mint, which records it). */
export const TABLE_REPORT = 2;
/** A GetItem, then the mint with a Hub request. */
export const MINT_HUB = 3;
/** A GetItem, then the mint serving the stored token and recording its use. */
export const MINT_SERVED = 4;
/** Answered from memory past the token's check point, with a GetItem behind it. */
export const MEMORY_CHECK = 5;
/** As MEMORY_CHECK, and a use report behind it. */
export const MEMORY_CHECK_REPORT = 6;
export type CallOutcome = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** What the worker does with a due key. */
export const REFRESH_READ = 0;
export const REFRESH_LEASE = 1;
export const RETIRE = 2;
export const SKIP = 3;
export type DueOutcome = 0 | 1 | 2 | 3;

/** The simulated table (one item per key) and each key's consumer container's memory. NaN: none. */
export class KeyState {
  readonly issuedAt: Float64Array;
  readonly expiresAt: Float64Array;
  readonly dueAt: Float64Array;
  readonly lastRequestedAt: Float64Array;
  /** The consumer's remembered token's expiry, and when it re-reads the item (demand-driven only). */
  readonly heldExpiresAt: Float64Array;
  readonly checkAt: Float64Array;

  constructor(
    keys: number,
    /** Writes a new token from the Hub and files the key under its refresh time. */
    readonly onIssue: (key: number, dueAt: number) => void,
    readonly random: () => number,
  ) {
    const none = () => new Float64Array(keys).fill(Number.NaN);
    this.issuedAt = none();
    this.expiresAt = none();
    this.dueAt = none();
    this.lastRequestedAt = new Float64Array(keys).fill(Number.NEGATIVE_INFINITY);
    this.heldExpiresAt = none();
    this.checkAt = none();
  }

  /** A token from the Hub at `now`; a mint (`requested`) records the use with it. */
  issue(key: number, now: number, requested: boolean): void {
    stored.issuedAt = now;
    stored.expiresAt = now + TOKEN_LIFETIME_MS;
    const dueAt = refreshDueAt(stored, SETTINGS, this.random);
    this.issuedAt[key] = now;
    this.expiresAt[key] = stored.expiresAt;
    this.dueAt[key] = dueAt;
    if (requested) this.lastRequestedAt[key] = now;
    this.onIssue(key, dueAt);
  }
}

export interface Policy {
  readonly name: 'eager' | 'demand';
  readonly label: string;
  call(state: KeyState, key: number, now: number): CallOutcome;
  due(state: KeyState, key: number, now: number): DueOutcome;
}

// Scratch objects the product's functions read, reused for every call: the simulation makes millions.
const stored = { accessToken: '', tokenType: 'Bearer', grantedScopes: [], issuedAt: 0, expiresAt: 0 } as {
  -readonly [K in keyof StoredToken]: StoredToken[K];
};
const held = { expiresAt: 0 };
const item: { status: string; token: StoredToken | undefined } = { status: 'active', token: stored };
const record = {
  key: { pk: '', sk: '' },
  client: 'default',
  bearer: '',
  scopes: [],
  version: 1,
  status: 'active',
  failureCount: 0,
} as { -readonly [K in keyof TokenRecord]: TokenRecord[K] };

function readItem(state: KeyState, key: number): void {
  stored.issuedAt = state.issuedAt[key] as number;
  stored.expiresAt = state.expiresAt[key] as number;
  item.token = Number.isNaN(stored.expiresAt) ? undefined : stored;
}

function readRecord(state: KeyState, key: number): TokenRecord {
  readItem(state, key);
  const lastRequestedAt = state.lastRequestedAt[key] as number;
  record.token = item.token;
  record.dueAt = state.dueAt[key] as number;
  record.lastRequestedAt = lastRequestedAt === Number.NEGATIVE_INFINITY ? undefined : lastRequestedAt;
  return record;
}

function remembers(state: KeyState, key: number, now: number): boolean {
  held.expiresAt = state.heldExpiresAt[key] as number;
  return lasts(held, now, MIN_VALIDITY_MS);
}

const usedAt = (state: KeyState, key: number): number | undefined => {
  const at = state.lastRequestedAt[key] as number;
  return at === Number.NEGATIVE_INFINITY ? undefined : at;
};

export const EAGER: Policy = {
  name: 'eager',
  label: 'eager (previous release)',
  call(state, key, now) {
    if (remembers(state, key, now)) return MEMORY;
    readItem(state, key);
    if (isServable(item, now, MIN_VALIDITY_MS)) {
      state.heldExpiresAt[key] = stored.expiresAt;
      if ((usedAt(state, key) ?? Number.NEGATIVE_INFINITY) > now - PREVIOUS_USE_RECORD_INTERVAL_MS)
        return TABLE;
      state.lastRequestedAt[key] = now;
      return MINT_SERVED;
    }
    state.issue(key, now, true);
    state.heldExpiresAt[key] = state.expiresAt[key] as number;
    return MINT_HUB;
  },
  due(state, key, now) {
    return isIdle(readRecord(state, key), now, SETTINGS) ? RETIRE : REFRESH_READ;
  },
};

/** The consumer's next re-read of the item: the token's check point, if still ahead. */
function nextCheck(now: number): number {
  const checkAt = useCheckAt(stored);
  return now < checkAt ? checkAt : Number.NaN;
}

export const DEMAND: Policy = {
  name: 'demand',
  label: 'demand-driven (this release)',
  call(state, key, now) {
    const remembered = remembers(state, key, now);
    if (remembered && !((state.checkAt[key] as number) <= now)) return MEMORY;
    readItem(state, key);
    if (isServable(item, now, MIN_VALIDITY_MS)) {
      // Past the check point with a token in memory, the read and the report run behind the call.
      if (!remembered) state.heldExpiresAt[key] = stored.expiresAt;
      state.checkAt[key] = nextCheck(now);
      const news = isUseNews(usedAt(state, key), stored, now);
      if (news) state.lastRequestedAt[key] = now;
      if (remembered) return news ? MEMORY_CHECK_REPORT : MEMORY_CHECK;
      return news ? TABLE_REPORT : TABLE;
    }
    if (remembered) {
      // A background check that finds nothing servable changes nothing: memory still answers.
      state.checkAt[key] = Number.NaN;
      return MEMORY_CHECK;
    }
    state.issue(key, now, true);
    state.heldExpiresAt[key] = stored.expiresAt;
    state.checkAt[key] = nextCheck(now);
    return MINT_HUB;
  },
  due(state, key, now) {
    const current = readRecord(state, key);
    // The worker reads the key as soon as the sweep hands it out.
    const claim = refreshClaim(current, now, now, SETTINGS);
    if (claim === 'skip') return SKIP;
    const step = refreshStep(current, now, SETTINGS);
    if (step === 'retire') return RETIRE;
    if (step === 'skip') return SKIP;
    return claim === 'read' ? REFRESH_READ : REFRESH_LEASE;
  },
};
