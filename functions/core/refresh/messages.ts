/** The SQS message from the sweeper to the refresh workers: `{"keys": [{"pk": "...", "sk": "..."}]}`. */
import { InvalidRequestError } from '../errors.js';
import type { TokenKey } from '../store/key.js';

export function encodeRefreshMessage(keys: readonly TokenKey[]): string {
  return JSON.stringify({ keys: keys.map(({ pk, sk }) => ({ pk, sk })) });
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
