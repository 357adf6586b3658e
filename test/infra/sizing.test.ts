import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../functions/core/settings.js';
import {
  computeSizing,
  MAX_REQUESTS_PER_SECOND_PER_INVOCATION,
  type SizingInput,
} from '../../infra/sizing.js';

const MINUTE = 60_000;
const base: SizingInput = {
  sweepIntervalMs: MINUTE,
  hubRateLimit: { requests: 300, perMs: MINUTE },
  refreshShareOfRateLimit: 0.8,
  refreshBatchSize: 1,
};

describe('computeSizing', () => {
  it('derives the defaults: 4 refreshes/s over 2 workers paced 500 ms apart', () => {
    const sizing = computeSizing(base);
    expect(sizing.settings.hubRequestsPerSecond).toBe(4);
    expect(sizing.settings.refreshConcurrency).toBe(2);
    expect(sizing.refreshPacingMs).toBe(500);
    expect(sizing.settings.scheduleIntervalMs).toBe(MINUTE);
    expect(sizing.refreshKeysPerInvocation).toBe(DEFAULT_SETTINGS.keysPerMessage);
    expect(sizing.mintTimeoutSeconds).toBe(60);
    expect(sizing.sweepTimeoutSeconds).toBe(50);
    expect(sizing.refreshTimeoutSeconds).toBe(170);
    expect(sizing.refreshVisibilityTimeoutSeconds).toBe(1020);
  });

  it('keeps the worker fleet under its share of the Hub rate limit, whatever the limit', () => {
    for (const requests of [20, 60, 300, 1000, 3000, 20_000]) {
      for (const share of [0.1, 0.5, 0.8, 1]) {
        const input = { ...base, hubRateLimit: { requests, perMs: MINUTE }, refreshShareOfRateLimit: share };
        // Two workers sharing fewer than 16 requests a minute pace them more than half a Hub deadline apart.
        if (requests * share < 16) {
          expect(() => computeSizing(input)).toThrow(/time out without being sent/);
          continue;
        }
        const sizing = computeSizing(input);
        const { refreshConcurrency } = sizing.settings;
        const fleetPerMinute = (refreshConcurrency * MINUTE) / sizing.refreshPacingMs;
        expect(fleetPerMinute).toBeLessThanOrEqual(requests * share + 1e-9);
        expect(refreshConcurrency).toBeGreaterThanOrEqual(2);
        expect(1000 / sizing.refreshPacingMs).toBeLessThanOrEqual(
          MAX_REQUESTS_PER_SECOND_PER_INVOCATION + 1e-9,
        );
      }
    }
  });

  it('gives the mint function more time than a lease plus a Hub exchange', () => {
    const sizing = computeSizing({ ...base, settings: { leaseDurationMs: 40_000, hubDeadlineMs: 30_000 } });
    expect(sizing.mintTimeoutSeconds * 1000).toBeGreaterThan(40_000 + 30_000);
  });

  it('gives the worker time for every key of a batch at the full Hub deadline, and SQS six times that', () => {
    const sizing = computeSizing({ ...base, refreshBatchSize: 3, settings: { keysPerMessage: 5 } });
    expect(sizing.refreshKeysPerInvocation).toBe(15);
    expect(sizing.refreshTimeoutSeconds * 1000).toBeGreaterThan(15 * DEFAULT_SETTINGS.hubDeadlineMs);
    expect(sizing.refreshVisibilityTimeoutSeconds).toBe(6 * sizing.refreshTimeoutSeconds);
  });

  it('ends a sweep before the next one starts', () => {
    for (const minutes of [1, 2, 5, 15]) {
      const sizing = computeSizing({
        ...base,
        sweepIntervalMs: minutes * MINUTE,
        refreshAheadMs: 2 * minutes * MINUTE + MINUTE,
      });
      expect(sizing.sweepTimeoutSeconds).toBeLessThan(minutes * 60);
    }
  });

  it('rejects a refresh window shorter than two sweep intervals', () => {
    expect(() => computeSizing({ ...base, sweepIntervalMs: 5 * MINUTE })).toThrow(
      /refresh window \(refreshAhead, 120 s\) must be at least two sweep intervals \(2 × 300 s\)/,
    );
    expect(() => computeSizing({ ...base, refreshAheadMs: 90_000 })).toThrow(/at least two sweep intervals/);
  });

  it('rejects a refresh window that leaves less than the minimum validity after a late pickup', () => {
    expect(() => computeSizing({ ...base, settings: { minValiditySeconds: 90 } })).toThrow(
      /must cover one sweep interval plus the minimum validity/,
    );
  });

  it('rejects settings the construct derives from its props, naming the prop', () => {
    const settings = { refreshConcurrency: 10 } as unknown as SizingInput['settings'];
    expect(() => computeSizing({ ...base, settings })).toThrow(
      /settings.refreshConcurrency is derived from hubRateLimit/,
    );
  });

  it('rejects sweep intervals the scheduler cannot run', () => {
    expect(() => computeSizing({ ...base, sweepIntervalMs: 30_000 })).toThrow(/whole number of minutes/);
    expect(() => computeSizing({ ...base, sweepIntervalMs: 90_000, refreshAheadMs: 5 * MINUTE })).toThrow(
      /whole number of minutes/,
    );
  });

  it('rejects an idle period that outlives the TTL', () => {
    expect(() => computeSizing({ ...base, idleAfterMs: 40 * 24 * 60 * MINUTE })).toThrow(
      /purgeAfterMs .* must exceed the idle period/,
    );
  });

  it('rejects bad rate limits, shares and batch sizes', () => {
    expect(() => computeSizing({ ...base, hubRateLimit: { requests: 0, perMs: MINUTE } })).toThrow(
      /requests/,
    );
    expect(() => computeSizing({ ...base, hubRateLimit: { requests: 10, perMs: 10 } })).toThrow(/per must/);
    expect(() => computeSizing({ ...base, refreshShareOfRateLimit: 0 })).toThrow(/refreshShareOfRateLimit/);
    expect(() => computeSizing({ ...base, refreshShareOfRateLimit: 1.5 })).toThrow(/refreshShareOfRateLimit/);
    expect(() => computeSizing({ ...base, refreshBatchSize: 11 })).toThrow(/refreshBatchSize/);
  });

  it('rejects a batch the worker could not finish within Lambda’s 15 minutes', () => {
    expect(() => computeSizing({ ...base, refreshBatchSize: 10, settings: { keysPerMessage: 10 } })).toThrow(
      /100 keys per worker invocation .* above Lambda's 900 s/,
    );
    // A rate limit so low that the pacing alone outlasts a Lambda invocation.
    expect(() => computeSizing({ ...base, hubRateLimit: { requests: 1, perMs: MINUTE } })).toThrow(
      /150000 ms apart .* or raise hubRateLimit/,
    );
  });

  it('rejects pacing that would leave a key no time inside its Hub deadline', () => {
    // 12 requests a minute for two workers: 10 s between one worker's requests, above half of 15 s.
    expect(() =>
      computeSizing({ ...base, hubRateLimit: { requests: 15, perMs: MINUTE }, refreshShareOfRateLimit: 0.8 }),
    ).toThrow(/10000 ms between one worker's requests.*time out without being sent/);
    // A longer Hub deadline makes room for it.
    expect(
      computeSizing({
        ...base,
        hubRateLimit: { requests: 15, perMs: MINUTE },
        refreshShareOfRateLimit: 0.8,
        settings: { hubDeadlineMs: 20_000, leaseDurationMs: 30_000 },
      }).refreshPacingMs,
    ).toBe(10_000);
  });

  it('passes the core settings checks through with the construct’s prefix', () => {
    expect(() =>
      computeSizing({ ...base, settings: { leaseDurationMs: 10_000, hubDeadlineMs: 15_000 } }),
    ).toThrow(/^ZaikioTokenBroker: .*leaseDurationMs must exceed hubDeadlineMs/);
  });
});
