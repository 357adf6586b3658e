/**
 * Servability and use: whether a stored token may be handed out, and when a use of it is worth
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

/**
 * The point in a token's life after which a use says it is still wanted: half way through it. A key
 * whose current token was used after this point is refreshed ahead of expiry; one that was not is
 * left to expire (lifecycle/refresh.ts `isInDemand`). Half way leaves a consumer that uses the token
 * every few minutes ample time to say so before the refresh time (at least two sweeps later for
 * tokens of ten minutes or more), and a key used once is not refreshed for nobody.
 */
export function useCheckAt(token: { readonly issuedAt: number; readonly expiresAt: number }): number {
  return token.issuedAt + Math.floor(Math.max(0, token.expiresAt - token.issuedAt) / 2);
}

/**
 * Whether a use at `now` is news worth one write: past the token's check point, and no use recorded
 * since. So a key in use costs the mint one use write per token, however many consumers report it.
 */
export function isUseNews(
  lastRequestedAt: number | undefined,
  token: { readonly issuedAt: number; readonly expiresAt: number },
  now: number,
): boolean {
  const checkAt = useCheckAt(token);
  return now >= checkAt && (lastRequestedAt ?? Number.NEGATIVE_INFINITY) < checkAt;
}
