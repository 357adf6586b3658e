/**
 * DynamoDB persistence of tokens, leases and failures. Every write is a conditional UpdateItem whose
 * condition is built from named clauses; a failed condition is a normal outcome (another container
 * won), reported as `false` or `undefined`, never thrown.
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BrokerError } from '../errors.js';
import type { HubToken } from '../hub/token.js';
import type { BrokerSettings } from '../settings.js';
import { LEASE_WRITE_MARGIN_MS, refreshDueAt } from '../settings.js';
import type { TokenKey } from './key.js';
import { parseRecord, type TokenRecord, type TokenStatus } from './record.js';
import { ATTR, TABLE } from './schema.js';

/** Zaikio refresh tokens live 7 days; we stop trusting one an hour early. */
const REFRESH_TOKEN_TRUST_MS = 7 * 24 * 3600_000 - 3600_000;

/**
 * The deadline for a Hub exchange under `lease`: the configured Hub deadline, but never so late
 * that the lease could run out first (a paced worker may start its request late).
 */
export function hubDeadline(lease: Lease, now: number, settings: BrokerSettings): number {
  const leaseEnd = (lease.record.leaseExpiresAt ?? now + settings.leaseDurationMs) - LEASE_WRITE_MARGIN_MS;
  return Math.min(now + settings.hubDeadlineMs, leaseEnd);
}

/** Proof that this caller holds a key: every later write is fenced on owner and version. */
export interface Lease {
  readonly key: TokenKey;
  readonly owner: string;
  readonly version: number;
  readonly record: TokenRecord;
}

export interface TokenIdentity {
  readonly client: string;
  readonly bearer: string;
  readonly scopes: readonly string[];
}

export interface FailureRecord {
  readonly error: BrokerError;
  readonly status: Exclude<TokenStatus, 'active'>;
  /** When the key may be tried again; also its place in the due index. Omitted: leave the index. */
  readonly nextAttemptAt?: number;
}

export interface TokenStoreOptions {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  readonly settings: BrokerSettings;
  readonly clock: () => number;
  readonly random?: () => number;
}

const TOKEN_ATTRIBUTES = ['accessToken', 'tokenType', 'grantedScopes', 'expiresAt', 'issuedAt'];

// Named sub-clauses of the conditions below.
const ITEM_IS_NEW = 'attribute_not_exists(pk)';
const LEASE_IS_FREE = 'attribute_not_exists(leaseOwner)';
const LEASE_HAS_RUN_OUT = 'leaseExpiresAt < :now';
const LEASE_IS_OURS = 'leaseOwner = :owner';
const VERSION_IS_UNCHANGED = 'version = :version';
const ITEM_EXISTS = 'attribute_exists(pk)';
const STILL_DUE = 'dueAt <= :dueBy';
const USE_NOT_RECORDED_RECENTLY = '(attribute_not_exists(lastRequestedAt) OR lastRequestedAt < :staleBefore)';

export class TokenStore {
  readonly #documents: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #settings: BrokerSettings;
  readonly #clock: () => number;
  readonly #random: () => number;

  constructor(options: TokenStoreOptions) {
    this.#documents = DynamoDBDocumentClient.from(options.dynamodb, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.#tableName = options.tableName;
    this.#settings = options.settings;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
  }

  async get(key: TokenKey, options: { readonly consistent: boolean }): Promise<TokenRecord | undefined> {
    const { Item } = await this.#documents.send(
      new GetCommand({ TableName: this.#tableName, Key: { ...key }, ConsistentRead: options.consistent }),
    );
    return Item === undefined ? undefined : parseRecord(Item);
  }

  /**
   * Takes the key for one mint or refresh. With `identity` (a mint) the item is created if needed;
   * with `dueBy` (a refresh) only an existing item whose refresh time has come is taken. Returns
   * undefined when the condition fails: a live lease belongs to someone else, or nothing is due.
   */
  async acquireLease(
    key: TokenKey,
    owner: string,
    options: { readonly identity: TokenIdentity } | { readonly dueBy: number },
  ): Promise<Lease | undefined> {
    const now = this.#clock();
    const leaseAvailable = `(${LEASE_IS_FREE} OR ${LEASE_HAS_RUN_OUT})`;
    const sets = ['leaseOwner = :owner', 'leaseExpiresAt = :leaseExpiresAt'];
    const values: Record<string, unknown> = {
      ':owner': owner,
      ':now': now,
      ':leaseExpiresAt': now + this.#settings.leaseDurationMs,
    };
    let condition: string;
    let names: Record<string, string> | undefined;
    if ('identity' in options) {
      condition = `${ITEM_IS_NEW} OR ${leaseAvailable}`;
      sets.push(
        '#client = :client',
        'bearer = :bearer',
        'scopes = :scopes',
        'version = if_not_exists(version, :zero)',
        '#status = if_not_exists(#status, :active)',
        'purgeAt = if_not_exists(purgeAt, :purgeAt)',
      );
      names = { '#client': ATTR.client, '#status': ATTR.status };
      Object.assign(values, {
        ':client': options.identity.client,
        ':bearer': options.identity.bearer,
        ':scopes': [...options.identity.scopes],
        ':zero': 0,
        ':active': 'active',
        ':purgeAt': this.#purgeAt(now),
      });
    } else {
      condition = `${ITEM_EXISTS} AND ${leaseAvailable} AND ${STILL_DUE}`;
      values[':dueBy'] = options.dueBy;
    }
    try {
      const { Attributes } = await this.#documents.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { ...key },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: condition,
          ...(names === undefined ? {} : { ExpressionAttributeNames: names }),
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      const record = parseRecord(Attributes ?? {});
      return { key, owner, version: record.version, record };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /**
   * Stores a new token and releases the lease, only if the lease is still ours and nobody wrote a
   * newer version meanwhile (a late "zombie" writer gets false and its token is dropped).
   */
  async saveToken(lease: Lease, token: HubToken, options: { readonly requested: boolean }): Promise<boolean> {
    const now = this.#clock();
    const sets = [
      'accessToken = :accessToken',
      'tokenType = :tokenType',
      'grantedScopes = :grantedScopes',
      'expiresAt = :expiresAt',
      'issuedAt = :issuedAt',
      '#status = :active',
      'failureCount = :zero',
      'version = version + :one',
      'dueShard = :dueShard',
      'dueAt = :dueAt',
    ];
    const removes = ['leaseOwner', 'leaseExpiresAt', 'lastError', 'nextAttemptAt'];
    const values: Record<string, unknown> = {
      ':owner': lease.owner,
      ':version': lease.version,
      ':accessToken': token.accessToken,
      ':tokenType': token.tokenType,
      ':grantedScopes': [...token.grantedScopes],
      ':expiresAt': token.expiresAt,
      ':issuedAt': token.issuedAt,
      ':active': 'active',
      ':zero': 0,
      ':one': 1,
      ':dueShard': this.#shardOf(lease.key),
      ':dueAt': refreshDueAt(token, this.#settings, this.#random),
    };
    if (token.refreshToken === undefined) {
      removes.push('refreshToken', 'refreshTokenExpiresAt');
    } else {
      sets.push('refreshToken = :refreshToken', 'refreshTokenExpiresAt = :refreshTokenExpiresAt');
      values[':refreshToken'] = token.refreshToken;
      values[':refreshTokenExpiresAt'] = token.issuedAt + REFRESH_TOKEN_TRUST_MS;
    }
    if (options.requested) {
      sets.push('lastRequestedAt = :now', 'purgeAt = :purgeAt');
      values[':now'] = now;
      values[':purgeAt'] = this.#purgeAt(now);
    }
    return this.#fencedUpdate(lease, `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`, values);
  }

  /**
   * Records a failed mint or refresh and releases the lease. A transient failure leaves the stored
   * token as it is (it is still served); a revocation removes it.
   */
  async recordFailure(lease: Lease, failure: FailureRecord): Promise<boolean> {
    const now = this.#clock();
    const { error } = failure;
    const lastError = {
      code: error.code,
      errorType: error.name,
      message: error.message,
      at: now,
      hubCodes: error.details.hubCodes,
      missingScopes: error.details.missingScopes,
      retryAt: error.details.retryAt === undefined ? undefined : Date.parse(error.details.retryAt),
    };
    const sets = [
      '#status = :status',
      'lastError = :lastError',
      'failureCount = if_not_exists(failureCount, :zero) + :one',
    ];
    const removes = ['leaseOwner', 'leaseExpiresAt'];
    const values: Record<string, unknown> = {
      ':owner': lease.owner,
      ':version': lease.version,
      ':status': failure.status,
      ':lastError': lastError,
      ':zero': 0,
      ':one': 1,
    };
    if (failure.status === 'revoked') {
      // A refused grant makes the token worthless: no reader may use it, whatever it checks.
      removes.push(...TOKEN_ATTRIBUTES, 'refreshToken', 'refreshTokenExpiresAt');
      sets.push('version = version + :one');
    }
    if (failure.nextAttemptAt === undefined) {
      removes.push('nextAttemptAt', 'dueShard', 'dueAt');
    } else {
      sets.push('nextAttemptAt = :nextAttemptAt', 'dueShard = :dueShard', 'dueAt = :nextAttemptAt');
      values[':nextAttemptAt'] = failure.nextAttemptAt;
      values[':dueShard'] = this.#shardOf(lease.key);
    }
    return this.#fencedUpdate(lease, `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`, values);
  }

  /** Gives the key back untouched, e.g. when the token turned out to be fresh already. */
  async releaseLease(lease: Lease): Promise<boolean> {
    return this.#fencedUpdate(lease, 'REMOVE leaseOwner, leaseExpiresAt', {
      ':owner': lease.owner,
      ':version': lease.version,
    });
  }

  /** Takes an idle key out of the due index; it is refreshed again on its next request. */
  async retire(lease: Lease): Promise<boolean> {
    return this.#fencedUpdate(lease, 'REMOVE leaseOwner, leaseExpiresAt, dueShard, dueAt', {
      ':owner': lease.owner,
      ':version': lease.version,
    });
  }

  /** Notes that someone asked for this key, at most once per usageRecordIntervalMs. */
  async recordUse(key: TokenKey): Promise<boolean> {
    const now = this.#clock();
    try {
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { ...key },
          UpdateExpression: 'SET lastRequestedAt = :now, purgeAt = :purgeAt',
          ConditionExpression: `${ITEM_EXISTS} AND ${USE_NOT_RECORDED_RECENTLY}`,
          ExpressionAttributeValues: {
            ':now': now,
            ':purgeAt': this.#purgeAt(now),
            ':staleBefore': now - this.#settings.usageRecordIntervalMs,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** One page of keys whose refresh time has come, oldest first, from one shard of the due index. */
  async queryDue(
    shard: number,
    options: { readonly now: number; readonly limit: number; readonly startKey?: Record<string, unknown> },
  ): Promise<{ keys: Array<TokenKey & { dueAt: number }>; nextKey?: Record<string, unknown> }> {
    const { Items = [], LastEvaluatedKey } = await this.#documents.send(
      new QueryCommand({
        TableName: this.#tableName,
        IndexName: TABLE.dueIndex.name,
        KeyConditionExpression: 'dueShard = :shard AND dueAt <= :now',
        ExpressionAttributeValues: { ':shard': shard, ':now': options.now },
        Limit: options.limit,
        ...(options.startKey === undefined ? {} : { ExclusiveStartKey: options.startKey }),
      }),
    );
    const keys = Items.flatMap((item) =>
      typeof item.pk === 'string' && typeof item.sk === 'string' && typeof item.dueAt === 'number'
        ? [{ pk: item.pk, sk: item.sk, dueAt: item.dueAt }]
        : [],
    );
    return LastEvaluatedKey === undefined ? { keys } : { keys, nextKey: LastEvaluatedKey };
  }

  async #fencedUpdate(lease: Lease, update: string, values: Record<string, unknown>): Promise<boolean> {
    try {
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { ...lease.key },
          UpdateExpression: update,
          ConditionExpression: `${LEASE_IS_OURS} AND ${VERSION_IS_UNCHANGED}`,
          ...(update.includes('#status') ? { ExpressionAttributeNames: { '#status': ATTR.status } } : {}),
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  #purgeAt(now: number): number {
    return Math.floor((now + this.#settings.purgeAfterMs) / 1000);
  }

  /** Stable shard of a key, so rewriting an item keeps it in one partition of the due index. */
  #shardOf(key: TokenKey): number {
    let hash = 0;
    for (const char of `${key.pk}|${key.sk}`) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
    return hash % this.#settings.dueShards;
  }
}
