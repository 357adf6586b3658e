import { InvalidRequestError } from '../errors.js';
import { type Bearer, bearerKey, type ScopeSet } from '../scopes.js';

/** A token's identity: the app, the bearer and the normalized scope set. */
export interface TokenKey {
  /** `Org/<id>` or `Per/<id>`: lets IAM limit readers to some bearers with dynamodb:LeadingKeys. */
  readonly pk: string;
  /** `<client>#<sorted, comma-separated scopes>`. */
  readonly sk: string;
}

/** DynamoDB's limit for a sort key. */
const MAX_SORT_KEY_BYTES = 1024;

export function tokenKey(client: string, scopes: ScopeSet): TokenKey {
  const sk = `${client}#${scopes.scopes.join(',')}`;
  if (Buffer.byteLength(sk) > MAX_SORT_KEY_BYTES) {
    throw new InvalidRequestError(
      'invalid_request',
      'the scope list is too long for one token; request fewer scopes',
    );
  }
  return { pk: bearerKey(scopes.bearer), sk };
}

export function describeKey(key: TokenKey): string {
  return `${key.pk} ${key.sk}`;
}

export function bearerOfKey(pk: string): Bearer | undefined {
  const match = /^(Org|Per)\/([a-z0-9-]+)$/.exec(pk);
  if (match === null) return undefined;
  return { type: match[1] === 'Org' ? 'Organization' : 'Person', id: match[2] as string };
}

/** Stable shard of a key in the due index, so rewriting an item keeps it in one partition. */
export function dueShardOf(key: TokenKey, dueShards: number): number {
  let hash = 0;
  for (const char of `${key.pk}|${key.sk}`) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
  return hash % dueShards;
}
