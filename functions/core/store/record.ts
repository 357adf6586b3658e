/**
 * The stored token item, parsed strictly from what DynamoDB returns. See docs/consumers.md.
 */
import { HubUnavailableError } from '../errors.js';
import type { TokenKey } from './key.js';
import { ATTR } from './schema.js';

export type TokenStatus = 'active' | 'failing' | 'revoked';
const STATUSES: ReadonlySet<string> = new Set<TokenStatus>(['active', 'failing', 'revoked']);

export interface StoredToken {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  readonly grantedScopes: readonly string[];
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export interface LastError {
  /** A BrokerErrorCode. */
  readonly code: string;
  readonly message: string;
  readonly at: number;
  readonly errorType: string;
  readonly hubCodes?: readonly string[];
  readonly missingScopes?: readonly string[];
  readonly retryAt?: number;
}

export interface TokenRecord {
  readonly key: TokenKey;
  readonly client: string;
  readonly bearer: string;
  readonly scopes: readonly string[];
  readonly token?: StoredToken;
  readonly refreshToken?: string;
  readonly refreshTokenExpiresAt?: number;
  readonly version: number;
  readonly leaseOwner?: string;
  readonly leaseExpiresAt?: number;
  readonly status: TokenStatus;
  readonly lastError?: LastError;
  readonly failureCount: number;
  readonly nextAttemptAt?: number;
  readonly dueAt?: number;
  readonly lastRequestedAt?: number;
}

type Item = Readonly<Record<string, unknown>>;

function corrupt(key: TokenKey, what: string): HubUnavailableError {
  return new HubUnavailableError('corrupt_item', `stored item ${key.pk} ${key.sk} is corrupt: ${what}`);
}

function optionalNumber(item: Item, name: string, key: TokenKey): number | undefined {
  const value = item[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw corrupt(key, `${name} is not a number`);
  return value;
}

function optionalString(item: Item, name: string, key: TokenKey): string | undefined {
  const value = item[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw corrupt(key, `${name} is not a string`);
  return value;
}

function stringList(value: unknown, name: string, key: TokenKey): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) {
    throw corrupt(key, `${name} is not a list of strings`);
  }
  return value;
}

function parseLastError(value: unknown, key: TokenKey): LastError | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw corrupt(key, 'lastError is not a map');
  const map = value as Item;
  const { code, message, at, errorType } = map;
  if (typeof code !== 'string' || typeof message !== 'string' || typeof at !== 'number') {
    throw corrupt(key, 'lastError lacks code, message or at');
  }
  const retryAt = optionalNumber(map, 'retryAt', key);
  return {
    code,
    message,
    at,
    errorType: typeof errorType === 'string' ? errorType : 'HubUnavailableError',
    ...(map.hubCodes === undefined ? {} : { hubCodes: stringList(map.hubCodes, 'lastError.hubCodes', key) }),
    ...(map.missingScopes === undefined
      ? {}
      : { missingScopes: stringList(map.missingScopes, 'lastError.missingScopes', key) }),
    ...(retryAt === undefined ? {} : { retryAt }),
  };
}

function parseToken(item: Item, key: TokenKey): StoredToken | undefined {
  const accessToken = optionalString(item, ATTR.accessToken, key);
  if (accessToken === undefined) return undefined;
  const expiresAt = optionalNumber(item, ATTR.expiresAt, key);
  const issuedAt = optionalNumber(item, ATTR.issuedAt, key);
  if (expiresAt === undefined || issuedAt === undefined)
    throw corrupt(key, 'token without expiresAt or issuedAt');
  return {
    accessToken,
    tokenType: 'Bearer',
    grantedScopes: stringList(item[ATTR.grantedScopes], ATTR.grantedScopes, key),
    issuedAt,
    expiresAt,
  };
}

export function parseRecord(item: Item): TokenRecord {
  const { pk, sk } = item;
  if (typeof pk !== 'string' || typeof sk !== 'string') {
    throw new HubUnavailableError('corrupt_item', 'stored item lacks its key');
  }
  const key = { pk, sk };
  const status = item[ATTR.status] ?? 'active';
  if (typeof status !== 'string' || !STATUSES.has(status)) throw corrupt(key, 'unknown status');
  const hash = sk.indexOf('#');
  return {
    key,
    client: optionalString(item, ATTR.client, key) ?? sk.slice(0, Math.max(0, hash)),
    bearer: optionalString(item, ATTR.bearer, key) ?? pk,
    scopes: stringList(item[ATTR.scopes], ATTR.scopes, key),
    token: parseToken(item, key),
    refreshToken: optionalString(item, ATTR.refreshToken, key),
    refreshTokenExpiresAt: optionalNumber(item, ATTR.refreshTokenExpiresAt, key),
    version: optionalNumber(item, ATTR.version, key) ?? 0,
    leaseOwner: optionalString(item, ATTR.leaseOwner, key),
    leaseExpiresAt: optionalNumber(item, ATTR.leaseExpiresAt, key),
    status: status as TokenStatus,
    lastError: parseLastError(item[ATTR.lastError], key),
    failureCount: optionalNumber(item, ATTR.failureCount, key) ?? 0,
    nextAttemptAt: optionalNumber(item, ATTR.nextAttemptAt, key),
    dueAt: optionalNumber(item, ATTR.dueAt, key),
    lastRequestedAt: optionalNumber(item, ATTR.lastRequestedAt, key),
  };
}
