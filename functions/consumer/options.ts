/**
 * The consumer client's configuration: the environment the CDK grant sets, overridable in code.
 * Every default is applied here and nowhere else.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CONSUMER_ENV } from '../core/env.js';
import { InvalidRequestError } from '../core/errors.js';
import { assertMinValiditySeconds, DEFAULT_MIN_VALIDITY_SECONDS } from '../core/token-request.js';

export { CONSUMER_ENV };

export interface TokenClientOptions {
  /** @default env TOKENS_TABLE_NAME */
  readonly tableName?: string;
  /** Name or ARN of the mint function. @default env MINT_FUNCTION_NAME */
  readonly mintFunctionName?: string;
  /**
   * The app whose tokens a request without `client` gets; sent to the mint function too, so table
   * key and mint request always name the same app.
   * @default env ZAIKIO_DEFAULT_CLIENT, else 'default'
   */
  readonly defaultClient?: string;
  /** @default 60 */
  readonly minValiditySeconds?: number;
  /**
   * @deprecated Ignored: the client now reports use once per token, half way through its life
   * (docs/consumers.md, rule 4).
   */
  readonly usageRecordIntervalMs?: number;
  /**
   * Local endpoints need no option: the SDK reads AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_LAMBDA.
   * @default new DynamoDBClient({})
   */
  readonly dynamodb?: DynamoDBClient;
  /** @default new LambdaClient({}) */
  readonly lambda?: LambdaClient;
  /**
   * Keys whose tokens this client keeps in memory. Past it the least recently used key is forgotten
   * (its next call reads the table); expired tokens are dropped too. @default 10 000 (about 12 MB)
   */
  readonly maxCachedTokens?: number;
  /** Epoch milliseconds. @default Date.now */
  readonly clock?: () => number;
  /** Where the variables of CONSUMER_ENV are read. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface ResolvedOptions {
  readonly tableName: string;
  readonly mintFunctionName: string;
  readonly defaultClient: string;
  readonly minValiditySeconds: number;
  readonly maxCachedTokens: number;
  readonly dynamodb: DynamoDBClient;
  readonly lambda: LambdaClient;
  readonly clock: () => number;
  /** The SDK clients made here rather than passed in: the client's to destroy. */
  readonly owned: readonly { destroy(): void }[];
}

/** Enough for any one function's organizations; each key costs about 1.2 KB (docs/BENCHMARKS.md). */
export const DEFAULT_MAX_CACHED_TOKENS = 10_000;

type ResolvedEnv = Readonly<Record<string, string | undefined>>;

function setting(given: string | undefined, env: ResolvedEnv, name: string): string {
  const value = given ?? env[name];
  if (value === undefined || value.trim() === '') {
    throw new InvalidRequestError(
      'invalid_request',
      `environment variable ${name} is not set; grant this function access to the token broker or pass the option`,
    );
  }
  return value;
}

export function resolveOptions(options: TokenClientOptions): ResolvedOptions {
  const env = options.env ?? process.env;
  // The mint function's own default and bounds, checked here too so a mistake fails before any network call.
  const minValiditySeconds = options.minValiditySeconds ?? DEFAULT_MIN_VALIDITY_SECONDS;
  assertMinValiditySeconds(minValiditySeconds);
  const maxCachedTokens = options.maxCachedTokens ?? DEFAULT_MAX_CACHED_TOKENS;
  if (!Number.isInteger(maxCachedTokens) || maxCachedTokens < 1) {
    throw new InvalidRequestError('invalid_request', 'maxCachedTokens must be an integer >= 1');
  }
  const tableName = setting(options.tableName, env, CONSUMER_ENV.tableName);
  const mintFunctionName = setting(options.mintFunctionName, env, CONSUMER_ENV.mintFunctionName);
  const dynamodb = options.dynamodb ?? new DynamoDBClient({});
  const lambda = options.lambda ?? new LambdaClient({});
  return {
    tableName,
    mintFunctionName,
    defaultClient: options.defaultClient ?? (env[CONSUMER_ENV.defaultClient] || 'default'),
    minValiditySeconds,
    maxCachedTokens,
    dynamodb,
    lambda,
    clock: options.clock ?? Date.now,
    owned: [...(options.dynamodb ? [] : [dynamodb]), ...(options.lambda ? [] : [lambda])],
  };
}
