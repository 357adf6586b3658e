/**
 * The token's life, rule by rule, on plain numbers: no clock, no I/O. Every time below is epoch ms
 * relative to NOW.
 */
import { describe, expect, it } from 'vitest';
import {
  HubUnavailableError,
  InvalidRequestError,
  RateLimitedError,
  ScopeNotGrantedError,
} from '../../functions/core/errors.js';
import type { HubToken } from '../../functions/core/hub/token.js';
import {
  failureBackoffMs,
  failureWrite,
  hubDeadline,
  isIdle,
  isInDemand,
  isServable,
  isUseNews,
  LEASE_POLL_FIRST_MS,
  LEASE_POLL_MAX_MS,
  LEASE_POLL_STEP_MS,
  LEASE_WRITE_MARGIN_MS,
  lasts,
  leaseIsLive,
  leaseTerms,
  lifetimeShortfall,
  type MintAttempt,
  medianMs,
  mintedShortfall,
  NEGATIVE_CACHE_MAX_MS,
  negativeCacheMs,
  nextMintStep,
  nextPollMs,
  purgeAt,
  REFRESH_TOKEN_TRUST_MS,
  recordedFailure,
  refreshClaim,
  refreshDueAt,
  refreshStep,
  servesAttempt,
  startMintAttempt,
  tokenWrite,
  trustedRefreshToken,
  useCheckAt,
  useWrite,
} from '../../functions/core/lifecycle/index.js';
import { type BrokerSettings, DEFAULT_SETTINGS } from '../../functions/core/settings.js';
import type { LastError, TokenRecord } from '../../functions/core/store/record.js';

const MINUTE = 60_000;
/** Just below 1: the largest value `random()` may return, for jitter bounds. */
const ALMOST_ONE = 1 - Number.EPSILON;
/** Settings for the pure functions, independent of the defaults (which may be retuned). */
const settingsWith = (overrides: Partial<BrokerSettings>): BrokerSettings => ({
  ...DEFAULT_SETTINGS,
  ...overrides,
});
const S = settingsWith({ refreshAheadMs: 2 * MINUTE, refreshLifetimeFraction: 0.1, refreshJitterMs: 30_000 });
const token = (lifetimeMs: number, issuedAt = 1_700_000_000_000) => ({
  issuedAt,
  expiresAt: issuedAt + lifetimeMs,
});

describe('refreshDueAt', () => {
  it('uses refreshAheadMs when it exceeds the lifetime fraction', () => {
    // 10 minutes: 10 % is 1 minute, less than 2 minutes ahead.
    const t = token(10 * MINUTE);
    expect(refreshDueAt(t, S, () => 0)).toBe(t.expiresAt - 2 * MINUTE);
  });

  it('uses the lifetime fraction when it exceeds refreshAheadMs', () => {
    // 60 minutes: 10 % is 6 minutes.
    const t = token(60 * MINUTE);
    expect(refreshDueAt(t, S, () => 0)).toBe(t.expiresAt - 6 * MINUTE);
  });

  it('subtracts jitter of at most refreshJitterMs', () => {
    const t = token(60 * MINUTE);
    const base = t.expiresAt - 6 * MINUTE;
    expect(refreshDueAt(t, S, () => 0.5)).toBe(base - 15_000);
    const earliest = refreshDueAt(t, S, () => ALMOST_ONE);
    expect(earliest).toBeLessThanOrEqual(base);
    expect(earliest).toBeGreaterThanOrEqual(base - 30_000);
    expect(earliest).toBe(base - 30_000);
  });

  it('caps the jitter at a tenth of the lifetime', () => {
    // 100 s lifetime: at most 10 s of jitter, although refreshJitterMs is 30 s.
    const settings = settingsWith({
      refreshAheadMs: 10_000,
      refreshLifetimeFraction: 0.1,
      refreshJitterMs: 30_000,
    });
    const t = token(100_000);
    expect(refreshDueAt(t, settings, () => 0)).toBe(t.expiresAt - 10_000);
    expect(refreshDueAt(t, settings, () => 0.5)).toBe(t.expiresAt - 15_000);
    expect(refreshDueAt(t, settings, () => ALMOST_ONE)).toBeGreaterThanOrEqual(t.expiresAt - 20_000);
  });

  it('keeps every jittered time within [expiresAt - window - jitter, expiresAt - window]', () => {
    const t = token(60 * MINUTE);
    for (let r = 0; r < 1; r += 0.05) {
      const due = refreshDueAt(t, S, () => r);
      expect(due).toBeLessThanOrEqual(t.expiresAt - 6 * MINUTE);
      expect(due).toBeGreaterThanOrEqual(t.expiresAt - 6 * MINUTE - 30_000);
      expect(Number.isInteger(due)).toBe(true);
    }
  });

  it('is never before issuedAt, even for a lifetime shorter than the window', () => {
    const t = token(60_000);
    expect(refreshDueAt(t, S, () => 0)).toBe(t.issuedAt);
    expect(refreshDueAt(t, S, () => ALMOST_ONE)).toBe(t.issuedAt);
    const expired = { issuedAt: 5_000, expiresAt: 4_000 };
    expect(refreshDueAt(expired, S, () => 0.5)).toBe(5_000);
  });

  it('leaves at least refreshAheadMs, plus at most the jitter, with the defaults for a 10-minute token', () => {
    const t = token(10 * MINUTE);
    const { refreshAheadMs, refreshJitterMs } = DEFAULT_SETTINGS;
    for (const r of [0, 0.5, ALMOST_ONE]) {
      const due = refreshDueAt(t, DEFAULT_SETTINGS, () => r);
      expect(t.expiresAt - due).toBeGreaterThanOrEqual(refreshAheadMs);
      expect(t.expiresAt - due).toBeLessThanOrEqual(refreshAheadMs + refreshJitterMs);
      expect(due).toBeGreaterThan(t.issuedAt);
    }
  });
});

describe('failureBackoffMs', () => {
  const settings = settingsWith({ failureBackoffBaseMs: 1_000, failureBackoffMaxMs: 10_000 });

  it('grows exponentially from the base', () => {
    const half = () => 0.5;
    expect([1, 2, 3, 4].map((n) => failureBackoffMs(n, settings, half))).toEqual([500, 1_000, 2_000, 4_000]);
  });

  it('is capped at failureBackoffMaxMs', () => {
    expect(failureBackoffMs(5, settings, () => 0.5)).toBe(5_000);
    expect(failureBackoffMs(50, settings, () => ALMOST_ONE)).toBeLessThan(10_000);
    expect(failureBackoffMs(50, settings, () => ALMOST_ONE)).toBeGreaterThanOrEqual(9_999);
    expect(failureBackoffMs(2_000, settings, () => 0.5)).toBe(5_000);
  });

  it('uses full jitter: zero at random 0, whole milliseconds', () => {
    expect(failureBackoffMs(3, settings, () => 0)).toBe(0);
    expect(Number.isInteger(failureBackoffMs(3, settings, () => 0.333))).toBe(true);
  });

  it('uses the default caps', () => {
    expect(failureBackoffMs(1, DEFAULT_SETTINGS, () => 0.5)).toBe(DEFAULT_SETTINGS.failureBackoffBaseMs / 2);
    expect(failureBackoffMs(20, DEFAULT_SETTINGS, () => 0.5)).toBe(DEFAULT_SETTINGS.failureBackoffMaxMs / 2);
  });
});

const NOW = 1_800_000_000_000;
const SECOND = 1000;
const D = DEFAULT_SETTINGS;

function record(overrides: Partial<TokenRecord> = {}): TokenRecord {
  return {
    key: { pk: 'Org/b1475f65', sk: 'default#warehouse.items.r' },
    client: 'default',
    bearer: 'Org/b1475f65',
    scopes: ['warehouse.items.r'],
    token: {
      accessToken: 'stored',
      tokenType: 'Bearer',
      grantedScopes: ['warehouse.items.r'],
      issuedAt: NOW - 300 * SECOND,
      expiresAt: NOW + 300 * SECOND,
    },
    version: 3,
    status: 'active',
    failureCount: 0,
    ...overrides,
  };
}

function lastError(overrides: Partial<LastError> = {}): LastError {
  return {
    code: 'hub_unavailable',
    errorType: 'HubUnavailableError',
    message: 'the Hub answered 503',
    at: NOW - SECOND,
    ...overrides,
  };
}

function attempt(overrides: Partial<MintAttempt> = {}): MintAttempt {
  return {
    minValidityMs: 60 * SECOND,
    forceRefresh: false,
    rejectedVersion: undefined,
    failuresAtStart: 0,
    waitUntil: NOW + 30 * SECOND,
    ...overrides,
  };
}

describe('serving', () => {
  it('a token lasts when it is valid for at least the minimum validity', () => {
    expect(lasts({ expiresAt: NOW + 60 * SECOND }, NOW, 60 * SECOND)).toBe(true);
    expect(lasts({ expiresAt: NOW + 60 * SECOND - 1 }, NOW, 60 * SECOND)).toBe(false);
  });

  it.each([
    ['active', true],
    ['failing', true],
    ['revoked', false],
    ['paused', false],
  ])('a lasting token with status %s is servable: %s', (status, servable) => {
    expect(isServable({ status, token: { expiresAt: NOW + 61 * SECOND } }, NOW, 60 * SECOND)).toBe(servable);
  });

  it('no item, no token or too short a token is not servable', () => {
    expect(isServable(undefined, NOW, 0)).toBe(false);
    expect(isServable({ status: 'active', token: undefined }, NOW, 0)).toBe(false);
    expect(isServable({ status: 'active', token: { expiresAt: NOW + 59 * SECOND } }, NOW, 60 * SECOND)).toBe(
      false,
    );
  });

  it('a token’s check point is half way through its life', () => {
    expect(useCheckAt({ issuedAt: NOW, expiresAt: NOW + 600 * SECOND })).toBe(NOW + 300 * SECOND);
    expect(useCheckAt({ issuedAt: NOW, expiresAt: NOW + 3 })).toBe(NOW + 1);
    // A token the Hub dated backwards has its check point at issue.
    expect(useCheckAt({ issuedAt: NOW, expiresAt: NOW - 5 })).toBe(NOW);
  });

  it('a use is news past the check point, when none is recorded since', () => {
    const token = { issuedAt: NOW - 300 * SECOND, expiresAt: NOW + 300 * SECOND };
    expect(isUseNews(undefined, token, NOW - 1)).toBe(false);
    expect(isUseNews(undefined, token, NOW)).toBe(true);
    expect(isUseNews(NOW - 1, token, NOW + SECOND)).toBe(true);
    expect(isUseNews(NOW, token, NOW + SECOND)).toBe(false);
    // The use that minted the token does not count: at its check point a use is news again.
    expect(isUseNews(token.issuedAt, token, NOW)).toBe(true);
  });
});

describe('get-or-mint', () => {
  it('an attempt remembers the failures and, when forced, the version it saw', () => {
    const request = { minValidityMs: 60 * SECOND, forceRefresh: false };
    expect(startMintAttempt(undefined, request, NOW, D)).toEqual({
      minValidityMs: 60 * SECOND,
      forceRefresh: false,
      rejectedVersion: undefined,
      failuresAtStart: 0,
      waitUntil: NOW + D.leaseDurationMs + LEASE_POLL_MAX_MS,
    });
    const forced = { ...request, forceRefresh: true };
    expect(startMintAttempt(undefined, forced, NOW, D).rejectedVersion).toBe(-1);
    const seen = startMintAttempt(record({ version: 7, failureCount: 2 }), forced, NOW, D);
    expect(seen).toMatchObject({ rejectedVersion: 7, failuresAtStart: 2 });
  });

  it('serves a servable record unless a forced refresh rejected its version', () => {
    expect(servesAttempt(record(), attempt(), NOW)).toBe(true);
    expect(servesAttempt(record(), attempt({ rejectedVersion: 3 }), NOW)).toBe(false);
    expect(servesAttempt(record({ version: 4 }), attempt({ rejectedVersion: 3 }), NOW)).toBe(true);
    expect(servesAttempt(record({ status: 'revoked' }), attempt(), NOW)).toBe(false);
  });

  it('a lease is live while its owner holds it and it has not run out', () => {
    expect(leaseIsLive(undefined, NOW)).toBe(false);
    expect(leaseIsLive(record(), NOW)).toBe(false);
    expect(leaseIsLive(record({ leaseOwner: 'other', leaseExpiresAt: NOW }), NOW)).toBe(true);
    expect(leaseIsLive(record({ leaseOwner: 'other', leaseExpiresAt: NOW - 1 }), NOW)).toBe(false);
    expect(leaseIsLive(record({ leaseOwner: 'other' }), NOW)).toBe(false);
  });

  it('serves, refuses from the record, waits on a live lease, or mints', () => {
    const good = record();
    expect(nextMintStep(good, attempt(), NOW, D)).toEqual({ action: 'serve', record: good });
    expect(nextMintStep(undefined, attempt(), NOW, D)).toEqual({ action: 'mint' });

    const failing = record({ token: undefined, status: 'failing', failureCount: 1, lastError: lastError() });
    const refused = nextMintStep(failing, attempt({ failuresAtStart: 0 }), NOW, D);
    expect(refused.action).toBe('refuse');
    expect(refused.action === 'refuse' && refused.error).toBeInstanceOf(HubUnavailableError);

    const shortLived = nextMintStep(record(), attempt({ minValidityMs: 900 * SECOND }), NOW, D);
    expect(shortLived.action === 'refuse' && shortLived.error.message).toMatch(/valid for 600 s/);

    const held = record({ token: undefined, leaseOwner: 'other', leaseExpiresAt: NOW + 10 * SECOND });
    expect(nextMintStep(held, attempt(), NOW, D)).toEqual({ action: 'wait' });
    const timedOut = nextMintStep(held, attempt({ waitUntil: NOW }), NOW, D);
    expect(timedOut.action === 'refuse' && timedOut.error).toMatchObject({
      name: 'HubUnavailableError',
      code: 'lease_wait_timeout',
    });

    const ranOut = record({ token: undefined, leaseOwner: 'dead', leaseExpiresAt: NOW - 1 });
    expect(nextMintStep(ranOut, attempt(), NOW, D)).toEqual({ action: 'mint' });
    const expiring = record({
      token: {
        accessToken: 'old',
        tokenType: 'Bearer',
        grantedScopes: [],
        issuedAt: NOW - 570 * SECOND,
        expiresAt: NOW + 30 * SECOND,
      },
    });
    expect(nextMintStep(expiring, attempt(), NOW, D)).toEqual({ action: 'mint' });
  });

  it("first polls a held lease when the holder's mint is expected to end", () => {
    // Expected after the median observed Hub exchange, counted from when the lease was taken.
    expect(nextPollMs(0, 120)).toBe(120);
    expect(nextPollMs(30, 120)).toBe(90);
    // Before any exchange was observed, the default expectation.
    expect(nextPollMs(0, undefined)).toBe(LEASE_POLL_FIRST_MS);
    expect(nextPollMs(20, undefined)).toBe(LEASE_POLL_FIRST_MS - 20);
    // A clock a little ahead of the lease's does not sleep longer than the expectation.
    expect(nextPollMs(-40, 120)).toBe(120);
    // Never longer than the ceiling, even when the Hub is slow.
    expect(nextPollMs(0, 5000)).toBe(LEASE_POLL_MAX_MS);
  });

  it('polls in short steps once the mint is due, slowing down the later it runs, up to a ceiling', () => {
    expect(nextPollMs(110, 120)).toBe(LEASE_POLL_STEP_MS);
    expect(nextPollMs(120, 120)).toBe(LEASE_POLL_STEP_MS);
    expect(nextPollMs(140, 120)).toBe(LEASE_POLL_STEP_MS);
    expect(nextPollMs(220, 120)).toBe(50);
    expect(nextPollMs(120 + 2 * LEASE_POLL_MAX_MS, 120)).toBe(LEASE_POLL_MAX_MS);
    expect(nextPollMs(25_000, 120)).toBe(LEASE_POLL_MAX_MS);
  });

  it('takes the median of the observed exchanges', () => {
    expect(medianMs([])).toBeUndefined();
    expect(medianMs([90])).toBe(90);
    expect(medianMs([300, 80, 100])).toBe(100);
    expect(medianMs([80, 100, 300, 90])).toBe(95);
  });
});

describe('answering a recorded failure', () => {
  it('answers nothing without a record or a recorded error', () => {
    expect(recordedFailure(undefined, attempt(), NOW, D)).toBeUndefined();
    expect(recordedFailure(record(), attempt(), NOW, D)).toBeUndefined();
  });

  it('shares a failure recorded while the caller waited, even when forced', () => {
    const failed = record({
      status: 'failing',
      failureCount: 2,
      lastError: lastError({ at: NOW - 10 * D.failureBackoffBaseMs }),
    });
    const error = recordedFailure(failed, attempt({ failuresAtStart: 1, forceRefresh: true }), NOW, D);
    expect(error).toBeInstanceOf(HubUnavailableError);
    expect(error?.code).toBe('hub_unavailable');
    expect(
      recordedFailure(failed, attempt({ failuresAtStart: 2, forceRefresh: true }), NOW, D),
    ).toBeUndefined();
  });

  it('answers a refusal from the item for the negative cache time, with its details', () => {
    const refusal = lastError({
      code: 'partial_grant',
      errorType: 'ScopeNotGrantedError',
      message: 'not granted',
      at: NOW - D.negativeCacheMs + 1,
      hubCodes: ['ungranted_scope'],
      missingScopes: ['Org/b1475f65.warehouse.items.r'],
    });
    const revoked = record({ token: undefined, status: 'revoked', failureCount: 1, lastError: refusal });
    const error = recordedFailure(revoked, attempt({ failuresAtStart: 1 }), NOW, D);
    expect(error).toBeInstanceOf(ScopeNotGrantedError);
    expect(error).toMatchObject({
      code: 'partial_grant',
      details: { hubCodes: ['ungranted_scope'], missingScopes: ['Org/b1475f65.warehouse.items.r'] },
    });
    const old = record({ ...revoked, lastError: { ...refusal, at: NOW - D.negativeCacheMs } });
    expect(recordedFailure(old, attempt({ failuresAtStart: 1 }), NOW, D)).toBeUndefined();
    expect(
      recordedFailure(revoked, attempt({ failuresAtStart: 1, forceRefresh: true }), NOW, D),
    ).toBeUndefined();
  });

  it('the negative cache doubles with each consecutive refusal, up to an hour', () => {
    expect(negativeCacheMs(0, D)).toBe(D.negativeCacheMs);
    expect(negativeCacheMs(1, D)).toBe(D.negativeCacheMs);
    expect(negativeCacheMs(3, D)).toBe(4 * D.negativeCacheMs);
    expect(negativeCacheMs(30, D)).toBe(NEGATIVE_CACHE_MAX_MS);
  });

  it('answers a rate limit until its reset', () => {
    const limited = lastError({ code: 'rate_limited', errorType: 'RateLimitedError', retryAt: NOW + 1 });
    const failing = record({
      status: 'failing',
      failureCount: 1,
      lastError: limited,
      nextAttemptAt: NOW - 1,
    });
    const error = recordedFailure(failing, attempt({ failuresAtStart: 1 }), NOW, D);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAt.getTime()).toBe(NOW + 1);
    const reset = record({ ...failing, lastError: { ...limited, retryAt: NOW } });
    expect(recordedFailure(reset, attempt({ failuresAtStart: 1 }), NOW, D)).toBeUndefined();
  });

  it('answers a transient failure inside its backoff, but never past one base interval', () => {
    const failed = (at: number, nextAttemptAt: number | undefined) =>
      record({ status: 'failing', failureCount: 1, lastError: lastError({ at }), nextAttemptAt });
    const inside = failed(NOW - SECOND, NOW + SECOND);
    expect(recordedFailure(inside, attempt({ failuresAtStart: 1 }), NOW, D)).toBeInstanceOf(
      HubUnavailableError,
    );
    expect(
      recordedFailure(failed(NOW - SECOND, NOW), attempt({ failuresAtStart: 1 }), NOW, D),
    ).toBeUndefined();
    expect(
      recordedFailure(failed(NOW - SECOND, undefined), attempt({ failuresAtStart: 1 }), NOW, D),
    ).toBeUndefined();
    const capped = failed(NOW - D.failureBackoffBaseMs, NOW + 10 * D.failureBackoffBaseMs);
    expect(recordedFailure(capped, attempt({ failuresAtStart: 1 }), NOW, D)).toBeUndefined();
    const active = record({ ...inside, status: 'active' });
    expect(recordedFailure(active, attempt({ failuresAtStart: 1 }), NOW, D)).toBeUndefined();
  });
});

describe('lifetimes the Hub cannot give', () => {
  const tenMinutes = { issuedAt: NOW, expiresAt: NOW + 600 * SECOND };

  it('refuses a minimum validity beyond the stored token’s lifetime', () => {
    expect(lifetimeShortfall(undefined, 900 * SECOND)).toBeUndefined();
    expect(lifetimeShortfall(tenMinutes, 600 * SECOND)).toBeUndefined();
    const error = lifetimeShortfall(tenMinutes, 600 * SECOND + 1);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error?.message).toContain('valid for 600 s');
  });

  it('refuses a freshly minted token that does not last long enough', () => {
    expect(mintedShortfall(tenMinutes, NOW, 600 * SECOND)).toBeUndefined();
    expect(mintedShortfall(tenMinutes, NOW + 1, 600 * SECOND)).toBeInstanceOf(InvalidRequestError);
  });
});

describe('leases and the Hub', () => {
  it('a lease runs for leaseDurationMs', () => {
    expect(leaseTerms('me', NOW, D)).toEqual({
      owner: 'me',
      takenAt: NOW,
      expiresAt: NOW + D.leaseDurationMs,
    });
  });

  it('the Hub deadline ends before the lease, less the write margin', () => {
    expect(hubDeadline(NOW + D.leaseDurationMs, NOW, D)).toBe(NOW + D.hubDeadlineMs);
    expect(hubDeadline(NOW + 5 * SECOND, NOW, D)).toBe(NOW + 5 * SECOND - LEASE_WRITE_MARGIN_MS);
    const tight = settingsWith({ leaseDurationMs: 10 * SECOND, hubDeadlineMs: 15 * SECOND });
    expect(hubDeadline(undefined, NOW, tight)).toBe(NOW + 10 * SECOND - LEASE_WRITE_MARGIN_MS);
  });

  it('trusts a refresh token only before its trusted-until time', () => {
    expect(trustedRefreshToken(record(), NOW)).toBeUndefined();
    expect(trustedRefreshToken(record({ refreshToken: 'r', refreshTokenExpiresAt: NOW + 1 }), NOW)).toBe('r');
    expect(
      trustedRefreshToken(record({ refreshToken: 'r', refreshTokenExpiresAt: NOW }), NOW),
    ).toBeUndefined();
    expect(trustedRefreshToken(record({ refreshToken: 'r' }), NOW)).toBeUndefined();
  });
});

describe('writes', () => {
  const hubToken: HubToken = {
    accessToken: 'fresh',
    tokenType: 'Bearer',
    grantedScopes: ['warehouse.items.r'],
    bearer: { type: 'Organization', id: 'b1475f65' },
    issuedAt: NOW,
    expiresAt: NOW + 600 * SECOND,
    refreshToken: 'refresh',
  };

  it('a mint stores the token, its refresh token’s trust, its refresh time and the use', () => {
    expect(tokenWrite(hubToken, NOW + 5, D, () => 0, { requested: true })).toEqual({
      token: {
        accessToken: 'fresh',
        tokenType: 'Bearer',
        grantedScopes: ['warehouse.items.r'],
        issuedAt: NOW,
        expiresAt: NOW + 600 * SECOND,
      },
      refreshToken: { value: 'refresh', trustedUntil: NOW + REFRESH_TOKEN_TRUST_MS },
      dueAt: refreshDueAt(hubToken, D, () => 0),
      use: { at: NOW + 5, purgeAt: purgeAt(NOW + 5, D) },
    });
  });

  it('a refresh records no use, and a token without a refresh token stores none', () => {
    const { refreshToken: _, ...withoutRefresh } = hubToken;
    const write = tokenWrite(withoutRefresh, NOW, D, () => 0.5, { requested: false });
    expect(write.refreshToken).toBeUndefined();
    expect(write.use).toBeUndefined();
    expect(write.dueAt).toBe(refreshDueAt(hubToken, D, () => 0.5));
  });

  it('a use keeps the item for purgeAfterMs, is written only if none is stored since the check point, and puts a retired key back at its refresh time', () => {
    const token = { issuedAt: NOW - 300 * SECOND, expiresAt: NOW + 300 * SECOND };
    expect(useWrite({ token, version: 7 }, NOW + SECOND, D)).toEqual({
      at: NOW + SECOND,
      purgeAt: Math.floor((NOW + SECOND + D.purgeAfterMs) / 1000),
      staleBefore: useCheckAt(token) - 1,
      // No jitter: 2 minutes before expiry.
      dueAt: NOW + 180 * SECOND,
      version: 7,
    });
    expect(purgeAt(1_999, settingsWith({ purgeAfterMs: 0 }))).toBe(1);
  });
});

describe('failureWrite', () => {
  const settings = settingsWith({ failureBackoffBaseMs: 1_000, failureBackoffMaxMs: 10_000 });
  const refusal = new ScopeNotGrantedError('scope_not_granted', 'no', {});
  const outage = new HubUnavailableError('hub_unavailable', 'down');
  const unknownClient = new InvalidRequestError('unknown_client', 'gone');
  const fresh = { failureCount: 0, status: 'active' } as const;

  it('a refusal revokes the key and leaves the due index, on either path', () => {
    for (const path of ['mint', 'refresh'] as const) {
      const { use: _, ...write } = failureWrite(refusal, fresh, NOW, settings, () => 0.5, path);
      expect(write).toEqual({ error: refusal, at: NOW, status: 'revoked', failureCount: 1 });
    }
  });

  it('a transient failure backs off by the failure count', () => {
    const failing = { failureCount: 1, status: 'failing' } as const;
    expect(failureWrite(outage, failing, NOW, settings, () => 0.5, 'refresh')).toEqual({
      error: outage,
      at: NOW,
      status: 'failing',
      failureCount: 2,
      nextAttemptAt: NOW + 1_000,
    });
  });

  it('counts consecutive failures of one kind: the other kind starts over at one', () => {
    const afterOutages = { failureCount: 6, status: 'failing' } as const;
    expect(failureWrite(refusal, afterOutages, NOW, settings, () => 0.5, 'mint').failureCount).toBe(1);
    const afterRefusals = { failureCount: 3, status: 'revoked' } as const;
    expect(failureWrite(refusal, afterRefusals, NOW, settings, () => 0.5, 'mint').failureCount).toBe(4);
    expect(failureWrite(outage, afterRefusals, NOW, settings, () => 0.5, 'mint')).toMatchObject({
      failureCount: 1,
      nextAttemptAt: NOW + 500,
    });
  });

  it('a failed mint records its caller’s request as a use; a failed refresh records none', () => {
    const use = { at: NOW, purgeAt: purgeAt(NOW, settings) };
    expect(failureWrite(outage, fresh, NOW, settings, () => 0.5, 'mint').use).toEqual(use);
    expect(failureWrite(refusal, fresh, NOW, settings, () => 0.5, 'mint').use).toEqual(use);
    expect(failureWrite(outage, fresh, NOW, settings, () => 0.5, 'refresh').use).toBeUndefined();
  });

  it('a request error leaves the due index on refresh but backs off on the mint path', () => {
    expect(failureWrite(unknownClient, fresh, NOW, settings, () => 0.5, 'refresh')).toEqual({
      error: unknownClient,
      at: NOW,
      status: 'failing',
      failureCount: 1,
    });
    expect(failureWrite(unknownClient, fresh, NOW, settings, () => 0.5, 'mint').nextAttemptAt).toBe(
      NOW + 500,
    );
  });

  it('a rate limit is never tried again before its reset', () => {
    const late = new RateLimitedError('slow down', new Date(NOW + 60_000));
    expect(failureWrite(late, fresh, NOW, settings, () => 0.5, 'refresh').nextAttemptAt).toBe(NOW + 60_000);
    const soon = new RateLimitedError('slow down', new Date(NOW + 100));
    expect(failureWrite(soon, fresh, NOW, settings, () => 0.5, 'refresh').nextAttemptAt).toBe(NOW + 500);
  });
});

describe('refreshing a due key', () => {
  it('a key is idle when nobody asked for it in idleAfterMs', () => {
    expect(isIdle(record(), NOW, D)).toBe(true);
    expect(isIdle(record({ lastRequestedAt: NOW - D.idleAfterMs }), NOW, D)).toBe(false);
    expect(isIdle(record({ lastRequestedAt: NOW - D.idleAfterMs - 1 }), NOW, D)).toBe(true);
  });

  it('a key is in demand when its token was used past its check point', () => {
    // The default record's token: issued 5 minutes ago, expires in 5, check point now.
    const later = NOW + 3 * 60 * SECOND;
    expect(isInDemand(record({ lastRequestedAt: NOW }), later, D)).toBe(true);
    expect(isInDemand(record({ lastRequestedAt: NOW - 1 }), later, D)).toBe(false);
    expect(isInDemand(record(), later, D)).toBe(false);
  });

  it('a key without a token, or whose check point lies less than a sweep back, is in demand anyway', () => {
    expect(isInDemand(record({ token: undefined }), NOW, D)).toBe(true);
    expect(isInDemand(record(), NOW + D.scheduleIntervalMs - 1, D)).toBe(true);
    expect(isInDemand(record(), NOW + D.scheduleIntervalMs, D)).toBe(false);
  });

  it('skips a revoked key, retires an idle or unused one, refreshes the rest', () => {
    const later = NOW + 3 * 60 * SECOND;
    const used = { lastRequestedAt: NOW + SECOND };
    expect(refreshStep(record({ ...used, status: 'revoked' }), later, D)).toBe('skip');
    expect(refreshStep(record({ status: 'revoked' }), later, D)).toBe('skip');
    expect(refreshStep(record(), later, D)).toBe('retire');
    expect(refreshStep(record({ lastRequestedAt: NOW - SECOND }), later, D)).toBe('retire');
    expect(refreshStep(record({ ...used, status: 'failing' }), later, D)).toBe('refresh');
    // In demand by the short-token rule, but idle for a week: retired.
    expect(refreshStep(record({ token: undefined, lastRequestedAt: NOW - D.idleAfterMs - 1 }), NOW, D)).toBe(
      'retire',
    );
  });
});

describe('claiming a due key for refresh', () => {
  const sweptAt = NOW;
  // A key in use: its token (issued 8 minutes ago, expiring in 2) was used past its check point.
  const inUse = {
    accessToken: 'stored',
    tokenType: 'Bearer',
    grantedScopes: ['warehouse.items.r'],
    issuedAt: NOW - 480 * SECOND,
    expiresAt: NOW + 120 * SECOND,
  } as const;
  const due = (overrides: Partial<TokenRecord> = {}) =>
    record({
      dueAt: NOW - 10 * SECOND,
      token: inUse,
      lastRequestedAt: NOW - 60 * SECOND,
      ...overrides,
    });

  it('refreshes on the read a key this sweep was the first to find, written before the next sweep', () => {
    expect(refreshClaim(due(), sweptAt, NOW + SECOND, D)).toBe('read');
    // The latest start whose Hub deadline and write still end before the next sweep.
    const latest = sweptAt + D.scheduleIntervalMs - D.hubDeadlineMs - LEASE_WRITE_MARGIN_MS;
    expect(refreshClaim(due(), sweptAt, latest, D)).toBe('read');
    expect(refreshClaim(due(), sweptAt, latest + 1, D)).toBe('lease');
  });

  it('takes the lease for a key an earlier sweep may have handed out too', () => {
    expect(refreshClaim(due({ dueAt: sweptAt - D.scheduleIntervalMs + 1 }), sweptAt, NOW, D)).toBe('read');
    expect(refreshClaim(due({ dueAt: sweptAt - D.scheduleIntervalMs }), sweptAt, NOW, D)).toBe('lease');
  });

  it('retires on the read, whenever it runs, and takes the lease for a revoked key in the index', () => {
    const late = sweptAt + D.scheduleIntervalMs;
    expect(refreshClaim(due({ lastRequestedAt: NOW - D.idleAfterMs - 1 }), sweptAt, late, D)).toBe('read');
    const unused = due({ token: record().token, lastRequestedAt: NOW - 600 * SECOND });
    expect(refreshClaim(unused, sweptAt, late, D)).toBe('read');
    // The same lateness makes a key in use take the lease: its refresh might meet the next sweep.
    expect(refreshClaim(due(), sweptAt, late, D)).toBe('lease');
    expect(refreshClaim(due({ status: 'revoked' }), sweptAt, NOW, D)).toBe('lease');
  });

  it('skips a key that is no longer due, gone, or held', () => {
    expect(refreshClaim(undefined, sweptAt, NOW, D)).toBe('skip');
    expect(refreshClaim(due({ dueAt: undefined }), sweptAt, NOW, D)).toBe('skip');
    expect(refreshClaim(due({ dueAt: NOW + 1 }), sweptAt, NOW, D)).toBe('skip');
    const held = due({ leaseOwner: 'mint', leaseExpiresAt: NOW });
    expect(refreshClaim(held, sweptAt, NOW, D)).toBe('skip');
    // A crashed holder's lease that ran out does not stand in the way.
    expect(refreshClaim({ ...held, leaseExpiresAt: NOW - 1 }, sweptAt, NOW, D)).toBe('read');
  });
});
