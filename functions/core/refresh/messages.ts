/**
 * The SQS message from the sweeper to the refresh workers:
 * `{"keys": [{"pk": "...", "sk": "..."}], "sweptAt": 1767225600000}`. `sweptAt` (epoch ms, when the
 * sweep read the due index) lets a worker refresh a key without taking its lease first
 * (lifecycle/refresh.ts refreshClaim); a message without it is refreshed under leases.
 */
import { InvalidRequestError } from '../errors.js';
import type { TokenKey } from '../store/key.js';

export function encodeRefreshMessage(keys: readonly TokenKey[], sweptAt?: number): string {
  return JSON.stringify({ keys: keys.map(({ pk, sk }) => ({ pk, sk })), sweptAt });
}

/** The keys of a message, and when the sweep that sent them ran, if it says. */
export function parseRefreshBatch(body: string): { keys: TokenKey[]; sweptAt?: number } {
  const keys = parseRefreshMessage(body);
  const { sweptAt } = JSON.parse(body) as { sweptAt?: unknown };
  return typeof sweptAt === 'number' && Number.isFinite(sweptAt) ? { keys, sweptAt } : { keys };
}

export function parseRefreshMessage(body: string): TokenKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new InvalidRequestError('invalid_request', 'refresh message is not JSON');
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys))
    throw new InvalidRequestError('invalid_request', 'refresh message has no "keys" array');
  return keys.map((key: unknown, index) => {
    const { pk, sk } = (key ?? {}) as Record<string, unknown>;
    if (typeof pk !== 'string' || typeof sk !== 'string' || pk === '' || sk === '') {
      throw new InvalidRequestError(
        'invalid_request',
        `refresh message key ${index} needs string "pk" and "sk"`,
      );
    }
    return { pk, sk };
  });
}
