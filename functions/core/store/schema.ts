/**
 * The tokens table: one source of truth for the CDK stack, the local runtime and the tests.
 * The item itself is documented for readers in any language in docs/consumers.md.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Sparse index of items that want a refresh: only items with both attributes are in it. */
  dueIndex: { name: 'due', partitionKey: 'dueShard', sortKey: 'dueAt' },
  /** Epoch seconds; DynamoDB deletes the item some time after it passes. */
  ttlAttribute: 'purgeAt',
} as const;

/** Item attribute names. Times are epoch milliseconds unless the comment says otherwise. */
export const ATTR = {
  pk: 'pk',
  sk: 'sk',
  client: 'client',
  bearer: 'bearer',
  scopes: 'scopes',
  accessToken: 'accessToken',
  tokenType: 'tokenType',
  grantedScopes: 'grantedScopes',
  expiresAt: 'expiresAt',
  issuedAt: 'issuedAt',
  /** Secret: consumers' IAM policy does not include it. */
  refreshToken: 'refreshToken',
  refreshTokenExpiresAt: 'refreshTokenExpiresAt',
  version: 'version',
  leaseOwner: 'leaseOwner',
  leaseExpiresAt: 'leaseExpiresAt',
  status: 'status',
  lastError: 'lastError',
  failureCount: 'failureCount',
  nextAttemptAt: 'nextAttemptAt',
  dueShard: 'dueShard',
  dueAt: 'dueAt',
  lastRequestedAt: 'lastRequestedAt',
  purgeAt: 'purgeAt',
} as const;

/** What a consumer may read: everything but the refresh token and the lease bookkeeping. */
export const READABLE_ATTRIBUTES = [
  ATTR.pk,
  ATTR.sk,
  ATTR.accessToken,
  ATTR.tokenType,
  ATTR.grantedScopes,
  ATTR.expiresAt,
  ATTR.issuedAt,
  ATTR.version,
  ATTR.status,
  ATTR.lastError,
  ATTR.lastRequestedAt,
] as const;

/** For the local runtime and tests; the CDK construct declares the same shape. */
export function createTableInput(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: TABLE.partitionKey, AttributeType: 'S' },
      { AttributeName: TABLE.sortKey, AttributeType: 'S' },
      { AttributeName: TABLE.dueIndex.partitionKey, AttributeType: 'N' },
      { AttributeName: TABLE.dueIndex.sortKey, AttributeType: 'N' },
    ],
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: TABLE.dueIndex.name,
        KeySchema: [
          { AttributeName: TABLE.dueIndex.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE.dueIndex.sortKey, KeyType: 'RANGE' },
        ],
        // The sweeper needs only the key to hand the item to a worker.
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  };
}
