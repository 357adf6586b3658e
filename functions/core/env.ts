/**
 * The environment variable names the CDK construct sets and the code reads: one set, shared by the
 * broker's functions, the consumer client and the construct. Pure: no SDK, no Lambda types.
 */

/** What the broker's own functions read (functions/core/config.ts parses them). */
export const ENV = {
  tableName: 'TOKENS_TABLE_NAME',
  hub: 'ZAIKIO_HUB',
  clients: 'ZAIKIO_CLIENTS',
  defaultClient: 'ZAIKIO_DEFAULT_CLIENT',
  settings: 'BROKER_SETTINGS',
  refreshQueueUrl: 'REFRESH_QUEUE_URL',
  /** Mint only: consumer name (its alias) → what it may ask for (functions/core/access.ts). */
  grants: 'ZAIKIO_GRANTS',
} as const;

/** What a consumer reads (functions/consumer/options.ts); the construct's grant sets them. */
export const CONSUMER_ENV = {
  tableName: ENV.tableName,
  mintFunctionName: 'MINT_FUNCTION_NAME',
  defaultClient: ENV.defaultClient,
} as const;
