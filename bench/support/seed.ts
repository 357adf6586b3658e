/**
 * Writes token items straight into the table, in the format TokenStore.saveToken writes
 * (functions/core/store/), with BatchWriteItem: seeding 100,000 items through the mint path would
 * measure the mint path, not the refresh fleet.
 */
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { TokenKey } from '../../functions/core/store/key.js';
import { forEachConcurrent } from './stats.js';

/** Zaikio refresh tokens live 7 days; the broker trusts one for an hour less (token-store.ts). */
const REFRESH_TOKEN_TRUST_MS = 7 * 24 * 3600_000 - 3600_000;
const PURGE_AFTER_MS = 30 * 24 * 3600_000;

export interface SeedToken {
  readonly organizationId: string;
  readonly client: string;
  /** `app.scope.permission`, sorted. */
  readonly scopes: readonly string[];
  readonly accessToken: string;
  readonly refreshToken?: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Omitted: not in the due index. */
  readonly dueAt?: number;
  readonly lastRequestedAt: number;
  readonly dueShards: number;
}

export function seedKey(token: Pick<SeedToken, 'organizationId' | 'client' | 'scopes'>): TokenKey {
  return { pk: `Org/${token.organizationId}`, sk: `${token.client}#${token.scopes.join(',')}` };
}

/** The same stable shard TokenStore computes (a copy of its private #shardOf). */
export function shardOf(key: TokenKey, shards: number): number {
  let hash = 0;
  for (const char of `${key.pk}|${key.sk}`) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
  return hash % shards;
}

export function tokenItem(token: SeedToken): Record<string, unknown> {
  const key = seedKey(token);
  return {
    ...key,
    client: token.client,
    bearer: key.pk,
    scopes: [...token.scopes],
    accessToken: token.accessToken,
    tokenType: 'Bearer',
    grantedScopes: [...token.scopes],
    expiresAt: token.expiresAt,
    issuedAt: token.issuedAt,
    status: 'active',
    failureCount: 0,
    version: 1,
    ...(token.dueAt === undefined ? {} : { dueShard: shardOf(key, token.dueShards), dueAt: token.dueAt }),
    ...(token.refreshToken === undefined
      ? {}
      : { refreshToken: token.refreshToken, refreshTokenExpiresAt: token.issuedAt + REFRESH_TOKEN_TRUST_MS }),
    lastRequestedAt: token.lastRequestedAt,
    purgeAt: Math.floor((token.lastRequestedAt + PURGE_AFTER_MS) / 1000),
  };
}

/** BatchWriteItem, 25 items a request, retrying unprocessed items. */
export async function seedItems(
  client: DynamoDBClient,
  tableName: string,
  items: readonly Record<string, unknown>[],
  concurrency = 8,
): Promise<void> {
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < items.length; i += 25) {
    batches.push(items.slice(i, i + 25).map((item) => ({ PutRequest: { Item: marshall(item) } })));
  }
  await forEachConcurrent(batches, concurrency, async (batch) => {
    let pending: WriteRequest[] = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 10) throw new Error('BatchWriteItem kept leaving items unprocessed');
      const { UnprocessedItems = {} } = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }),
      );
      pending = UnprocessedItems[tableName] ?? [];
    }
  });
}
