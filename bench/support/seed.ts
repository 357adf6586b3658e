/**
 * Writes token items straight into the table, in the format TokenStore.saveToken writes
 * (functions/core/store/), with BatchWriteItem: seeding 100,000 items through the mint path would
 * measure the mint path, not the refresh fleet.
 */
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { tokenWrite } from '../../functions/core/lifecycle/index.js';
import { DEFAULT_SETTINGS } from '../../functions/core/settings.js';
import { dueShardOf, type TokenKey, tokenKey } from '../../functions/core/store/key.js';
import { forEachConcurrent } from './stats.js';

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
  return tokenKey(token.client, {
    bearer: { type: 'Organization', id: token.organizationId },
    scopes: token.scopes,
  });
}

/**
 * The item as the store would hold it after saving `token` for a caller: the token, its trust and its
 * use as the broker's own rules write them (tokenWrite, dueShardOf), with the seed's refresh time.
 */
export function tokenItem(token: SeedToken): Record<string, unknown> {
  const key = seedKey(token);
  const write = tokenWrite(
    {
      accessToken: token.accessToken,
      tokenType: 'Bearer',
      grantedScopes: token.scopes,
      bearer: { type: 'Organization', id: token.organizationId },
      issuedAt: token.issuedAt,
      expiresAt: token.expiresAt,
      ...(token.refreshToken === undefined ? {} : { refreshToken: token.refreshToken }),
    },
    token.lastRequestedAt,
    DEFAULT_SETTINGS,
    // Only the refresh time is random, and the seed sets its own.
    () => 0,
    { requested: true },
  );
  return {
    ...key,
    client: token.client,
    bearer: key.pk,
    scopes: [...token.scopes],
    accessToken: write.token.accessToken,
    tokenType: write.token.tokenType,
    grantedScopes: [...write.token.grantedScopes],
    expiresAt: write.token.expiresAt,
    issuedAt: write.token.issuedAt,
    status: 'active',
    failureCount: 0,
    version: 1,
    ...(token.dueAt === undefined ? {} : { dueShard: dueShardOf(key, token.dueShards), dueAt: token.dueAt }),
    ...(write.refreshToken === undefined
      ? {}
      : { refreshToken: write.refreshToken.value, refreshTokenExpiresAt: write.refreshToken.trustedUntil }),
    ...(write.use === undefined ? {} : { lastRequestedAt: write.use.at, purgeAt: write.use.purgeAt }),
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
