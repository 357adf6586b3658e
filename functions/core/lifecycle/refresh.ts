/**
 * What the refresher does with a due key it holds.
 */
import type { BrokerSettings } from '../settings.js';
import type { TokenRecord } from '../store/record.js';

/** A key nobody asked for in `idleAfterMs` stops being refreshed. */
export function isIdle(record: TokenRecord, now: number, settings: BrokerSettings): boolean {
  return (record.lastRequestedAt ?? 0) < now - settings.idleAfterMs;
}

/**
 * What the refresher does with a due key it holds: a revoked key only leaves the due index (callers
 * see the refusal from the item), an idle one is retired, every other one is refreshed.
 */
export function refreshStep(
  record: TokenRecord,
  now: number,
  settings: BrokerSettings,
): 'skip' | 'retire' | 'refresh' {
  if (record.status === 'revoked') return 'skip';
  if (isIdle(record, now, settings)) return 'retire';
  return 'refresh';
}
