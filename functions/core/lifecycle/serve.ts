/**
 * Servability and use: whether a stored token may be handed out, and whether a key's use is worth
 * recording. The consumer client imports this file alone, so it imports nothing at all.
 */

/** Never hand out a token that expires within the caller's minimum validity. */
export function lasts(token: { readonly expiresAt: number }, now: number, minValidityMs: number): boolean {
  return token.expiresAt - now >= minValidityMs;
}

/** What servability looks at, in the stored record and in the consumer's read of the item alike. */
export interface ServableItem {
  /** `active`, `failing` or `revoked`; a status this code does not know is never served. */
  readonly status: string;
  readonly token?: { readonly expiresAt: number } | undefined;
}

/**
 * A stored token may be served when the broker still stands behind it (a failed refresh never spoils
 * a good token; a revoked one is worthless) and it lasts long enough.
 */
export function isServable<T extends ServableItem>(
  item: T | undefined,
  now: number,
  minValidityMs: number,
): item is T & { readonly token: NonNullable<T['token']> } {
  return (
    item?.token !== undefined &&
    (item.status === 'active' || item.status === 'failing') &&
    lasts(item.token, now, minValidityMs)
  );
}

/** How often use is recorded by default: the broker's usageRecordIntervalMs, and the consumer's. */
export const DEFAULT_USAGE_RECORD_INTERVAL_MS = 3_600_000;

/** Use is recorded at most once per interval; a key whose use is older than that looks idle. */
export function isUseStale(lastRequestedAt: number | undefined, now: number, intervalMs: number): boolean {
  return lastRequestedAt === undefined || lastRequestedAt <= now - intervalMs;
}
