/**
 * The tokens table in DynamoDB: the TokenRepository the token service and the refresher use, and
 * the due index the sweeper reads. It only stores: every time and rule it writes comes from the
 * caller (functions/core/lifecycle/). Every write is a conditional UpdateItem whose condition is one
 * of the named clauses of expressions.ts.
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { allOf, anyOf, type Condition, ItemUpdate, keyCondition, WHEN } from './expressions.js';
import { dueShardOf, type TokenKey } from './key.js';
import { parseRecord, type TokenRecord } from './record.js';
import type {
  DueIndex,
  FailureWrite,
  Lease,
  LeaseTarget,
  LeaseTerms,
  ReadClaim,
  TokenRepository,
  TokenWrite,
  UseWrite,
} from './repository.js';
import { ATTR, TABLE } from './schema.js';

export interface TokenStoreOptions {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  /** Partitions of the due index (settings.dueShards). */
  readonly dueShards: number;
}

/** The attributes of the token itself: a revocation removes them all. */
const TOKEN_ATTRIBUTES = [
  ATTR.accessToken,
  ATTR.tokenType,
  ATTR.grantedScopes,
  ATTR.expiresAt,
  ATTR.issuedAt,
  ATTR.refreshToken,
  ATTR.refreshTokenExpiresAt,
] as const;

export class TokenStore implements TokenRepository, DueIndex {
  readonly #documents: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #dueShards: number;

  constructor(options: TokenStoreOptions) {
    this.#documents = DynamoDBDocumentClient.from(options.dynamodb, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.#tableName = options.tableName;
    this.#dueShards = options.dueShards;
  }

  async get(key: TokenKey, options: { readonly consistent: boolean }): Promise<TokenRecord | undefined> {
    const { Item } = await this.#documents.send(
      new GetCommand({ TableName: this.#tableName, Key: { ...key }, ConsistentRead: options.consistent }),
    );
    return Item === undefined ? undefined : parseRecord(Item);
  }

  /**
   * Takes the key for one mint or refresh. A mint's target creates the item if needed; a refresh's
   * takes only an existing item whose refresh time has come.
   */
  async acquireLease(key: TokenKey, terms: LeaseTerms, target: LeaseTarget): Promise<Lease | undefined> {
    const update = new ItemUpdate()
      .set(ATTR.leaseOwner, terms.owner)
      .set(ATTR.leaseExpiresAt, terms.expiresAt);
    if ('identity' in target) {
      update
        .set(ATTR.client, target.identity.client)
        .set(ATTR.bearer, target.identity.bearer)
        .set(ATTR.scopes, [...target.identity.scopes])
        .setIfAbsent(ATTR.version, 0)
        .setIfAbsent(ATTR.status, 'active')
        .setIfAbsent(ATTR.purgeAt, target.purgeAt)
        .when(anyOf(WHEN.itemIsNew, WHEN.leaseIsAvailable), { now: terms.takenAt });
    } else {
      update.when(allOf(WHEN.itemExists, WHEN.leaseIsAvailable, WHEN.isStillDue), {
        now: terms.takenAt,
        dueBy: target.dueBy,
      });
    }
    const written = await this.#update(key, update, 'ALL_NEW');
    if (written === false) return undefined;
    const record = parseRecord(written ?? {});
    return { key, owner: terms.owner, version: record.version, record };
  }

  /** A late ("zombie") writer gets false and its token is dropped. */
  async saveToken(lease: Lease | ReadClaim, write: TokenWrite): Promise<boolean> {
    const { token, refreshToken, use } = write;
    const update = new ItemUpdate()
      .set(ATTR.accessToken, token.accessToken)
      .set(ATTR.tokenType, token.tokenType)
      .set(ATTR.grantedScopes, [...token.grantedScopes])
      .set(ATTR.expiresAt, token.expiresAt)
      .set(ATTR.issuedAt, token.issuedAt)
      .set(ATTR.status, 'active')
      .set(ATTR.failureCount, 0)
      .increment(ATTR.version)
      .set(ATTR.dueShard, dueShardOf(lease.key, this.#dueShards))
      .set(ATTR.dueAt, write.dueAt)
      .remove(ATTR.leaseOwner, ATTR.leaseExpiresAt, ATTR.lastError, ATTR.nextAttemptAt);
    if (refreshToken === undefined) {
      update.remove(ATTR.refreshToken, ATTR.refreshTokenExpiresAt);
    } else {
      update
        .set(ATTR.refreshToken, refreshToken.value)
        .set(ATTR.refreshTokenExpiresAt, refreshToken.trustedUntil);
    }
    if (use !== undefined) update.set(ATTR.lastRequestedAt, use.at).set(ATTR.purgeAt, use.purgeAt);
    return this.#fenced(lease, update);
  }

  /** A transient failure leaves the stored token as it is (it is still served); a revocation removes it. */
  async recordFailure(lease: Lease | ReadClaim, failure: FailureWrite): Promise<boolean> {
    const { error } = failure;
    const update = new ItemUpdate()
      .set(ATTR.status, failure.status)
      .set(ATTR.lastError, {
        code: error.code,
        errorType: error.name,
        message: error.message,
        at: failure.at,
        hubCodes: error.details.hubCodes,
        missingScopes: error.details.missingScopes,
        retryAt: error.details.retryAt === undefined ? undefined : Date.parse(error.details.retryAt),
      })
      .set(ATTR.failureCount, failure.failureCount)
      .remove(ATTR.leaseOwner, ATTR.leaseExpiresAt);
    if (failure.use !== undefined) {
      update.set(ATTR.lastRequestedAt, failure.use.at).set(ATTR.purgeAt, failure.use.purgeAt);
    }
    if (failure.status === 'revoked') {
      // A refused grant makes the token worthless: no reader may use it, whatever it checks.
      update.remove(...TOKEN_ATTRIBUTES).increment(ATTR.version);
    }
    if (failure.nextAttemptAt === undefined) {
      update.remove(ATTR.nextAttemptAt, ATTR.dueShard, ATTR.dueAt);
    } else {
      update
        .set(ATTR.nextAttemptAt, failure.nextAttemptAt)
        .set(ATTR.dueShard, dueShardOf(lease.key, this.#dueShards))
        .set(ATTR.dueAt, failure.nextAttemptAt);
    }
    return this.#fenced(lease, update);
  }

  async releaseLease(lease: Lease): Promise<boolean> {
    return this.#fenced(lease, new ItemUpdate().remove(ATTR.leaseOwner, ATTR.leaseExpiresAt));
  }

  async retire(claim: Lease | ReadClaim, options: { readonly unused?: boolean } = {}): Promise<boolean> {
    const update = new ItemUpdate().remove(ATTR.leaseOwner, ATTR.leaseExpiresAt, ATTR.dueShard, ATTR.dueAt);
    return this.#fenced(claim, update, options.unused === true ? WHEN.noUseSince : undefined);
  }

  async recordUse(key: TokenKey, use: UseWrite): Promise<boolean> {
    const update = new ItemUpdate()
      .set(ATTR.lastRequestedAt, use.at)
      .set(ATTR.purgeAt, use.purgeAt)
      .setIfAbsent(ATTR.dueShard, dueShardOf(key, this.#dueShards))
      .setIfAbsent(ATTR.dueAt, use.dueAt)
      .when(allOf(WHEN.itemExists, WHEN.useIsStale, WHEN.versionIs), {
        staleBefore: use.staleBefore,
        version: use.version,
      });
    return (await this.#update(key, update, 'NONE')) !== false;
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
        ...keyCondition(WHEN.dueInShard, { shard, now: options.now }),
        Limit: options.limit,
        ...(options.startKey === undefined ? {} : { ExclusiveStartKey: options.startKey }),
      }),
    );
    const keys = Items.flatMap((item) => {
      const { [ATTR.pk]: pk, [ATTR.sk]: sk, [ATTR.dueAt]: dueAt } = item;
      return typeof pk === 'string' && typeof sk === 'string' && typeof dueAt === 'number'
        ? [{ pk, sk, dueAt }]
        : [];
    });
    return LastEvaluatedKey === undefined ? { keys } : { keys, nextKey: LastEvaluatedKey };
  }

  /**
   * Every write under a lease: only while the lease is ours and nobody wrote since we took it. Under a
   * read claim: only if nobody wrote or took the lease since the read. `unused`: and no use recorded
   * since the read either (a use is recorded without the lease, so the fence alone misses it).
   */
  #fenced(lease: Lease | ReadClaim, update: ItemUpdate, unused?: Condition): Promise<boolean> {
    const also = unused === undefined ? [] : [unused];
    const usedAt = lease.record.lastRequestedAt ?? 0;
    if ('owner' in lease) {
      update.when(allOf(WHEN.leaseIsOursAndUnchanged, ...also), {
        owner: lease.owner,
        version: lease.version,
        ...(unused === undefined ? {} : { usedAt }),
      });
    } else {
      const { version, dueAt, readAt } = lease;
      update.when(allOf(WHEN.unchangedSinceRead, ...also), {
        version,
        dueAt,
        readAt,
        ...(unused === undefined ? {} : { usedAt }),
      });
    }
    return this.#update(lease.key, update, 'NONE').then((written) => written !== false);
  }

  /** The item's new attributes (when asked for), or false when the condition failed. */
  async #update(
    key: TokenKey,
    update: ItemUpdate,
    returnValues: 'ALL_NEW' | 'NONE',
  ): Promise<Record<string, unknown> | undefined | false> {
    try {
      const { Attributes } = await this.#documents.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { ...key },
          ...update.build(),
          ReturnValues: returnValues,
        }),
      );
      return Attributes;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
