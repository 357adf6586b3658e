/**
 * Reads the token item with one GetItem that projects only the attributes a consumer may read (IAM
 * allows no others, and never the refresh token). Whether it can be served is the broker's own rule
 * (functions/core/lifecycle/serve.ts). A tiny hand-written reader of DynamoDB's attribute values
 * keeps lib-dynamodb out of the bundle.
 */
import { type AttributeValue, type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DependencyUnavailableError, HubUnavailableError, InvalidRequestError } from '../core/errors.js';
import type { TokenKey } from '../core/store/key.js';
import type { StoredToken } from '../core/store/record.js';
import { ATTR, READABLE_ATTRIBUTES } from '../core/store/schema.js';

/** What a consumer learns from the item. Times are epoch milliseconds. */
export interface ReadableItem {
  /** The stored token, when the item has one with its expiry. */
  readonly token: Pick<StoredToken, 'accessToken' | 'issuedAt' | 'expiresAt' | 'grantedScopes'> | undefined;
  /** `active`, `failing` or `revoked`; anything else is a status this client does not know. */
  readonly status: string;
  readonly lastRequestedAt: number | undefined;
}

type Item = Readonly<Record<string, AttributeValue>>;

// Placeholders for every name: `status` is a DynamoDB reserved word, and others may become one.
const PROJECTION = READABLE_ATTRIBUTES.map((_, index) => `#a${index}`).join(', ');
const PROJECTION_NAMES = Object.fromEntries(READABLE_ATTRIBUTES.map((name, index) => [`#a${index}`, name]));

/** AWS errors that no retry fixes: the function's configuration or its grant is wrong. */
const CONFIGURATION_ERRORS = new Set(['ResourceNotFoundException', 'AccessDeniedException']);

function corrupt(key: TokenKey, what: string): HubUnavailableError {
  return new HubUnavailableError('corrupt_item', `stored item ${key.pk} ${key.sk} is corrupt: ${what}`);
}

function readString(item: Item, name: string, key: TokenKey): string | undefined {
  const value = item[name];
  if (value === undefined || value.NULL === true) return undefined;
  if (value.S === undefined) throw corrupt(key, `${name} is not a string`);
  return value.S;
}

function readNumber(item: Item, name: string, key: TokenKey): number | undefined {
  const value = item[name];
  if (value === undefined || value.NULL === true) return undefined;
  const number = value.N === undefined ? Number.NaN : Number(value.N);
  if (!Number.isFinite(number)) throw corrupt(key, `${name} is not a number`);
  return number;
}

/** The broker writes a list of strings; a string set is accepted too. */
function readStrings(item: Item, name: string, key: TokenKey): string[] {
  const value = item[name];
  if (value === undefined || value.NULL === true) return [];
  if (value.SS !== undefined) return [...value.SS];
  const strings = value.L?.map((entry) => entry.S);
  if (strings === undefined || !strings.every((entry) => entry !== undefined)) {
    throw corrupt(key, `${name} is not a list of strings`);
  }
  return strings;
}

export function parseReadableItem(item: Item, key: TokenKey): ReadableItem {
  const accessToken = readString(item, ATTR.accessToken, key);
  const expiresAt = readNumber(item, ATTR.expiresAt, key);
  const issuedAt = readNumber(item, ATTR.issuedAt, key);
  const grantedScopes = readStrings(item, ATTR.grantedScopes, key);
  if (accessToken !== undefined && expiresAt !== undefined && issuedAt === undefined) {
    throw corrupt(key, 'token without issuedAt');
  }
  return {
    token:
      accessToken === undefined || expiresAt === undefined || issuedAt === undefined
        ? undefined
        : { accessToken, issuedAt, expiresAt, grantedScopes },
    // The broker always writes a status; an item without one is treated as it treats it.
    status: readString(item, ATTR.status, key) ?? 'active',
    lastRequestedAt: readNumber(item, ATTR.lastRequestedAt, key),
  };
}

export async function readToken(
  dynamodb: DynamoDBClient,
  tableName: string,
  key: TokenKey,
): Promise<ReadableItem | undefined> {
  let item: Item | undefined;
  try {
    const output = await dynamodb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        ProjectionExpression: PROJECTION,
        ExpressionAttributeNames: PROJECTION_NAMES,
        // An eventually consistent read costs half; a stale answer at worst sends us to the mint function.
        ConsistentRead: false,
      }),
    );
    item = output.Item;
  } catch (error) {
    const name = error instanceof Error ? error.name : 'unknown error';
    if (CONFIGURATION_ERRORS.has(name)) {
      throw new InvalidRequestError(
        'invalid_request',
        `the token table ${tableName} cannot be read (${name}): check TOKENS_TABLE_NAME and the grant`,
      );
    }
    throw new DependencyUnavailableError(
      'store_unavailable',
      `the token table could not be read (${name}); try again`,
      {},
      { cause: error },
    );
  }
  return item === undefined ? undefined : parseReadableItem(item, key);
}
