/**
 * Reading the tokens table as an operator may: every read names its attributes (a projection of
 * everything but the refresh token), because a deployed table's resource policy denies any read
 * that names the refresh token or no attributes at all, to everyone but the broker's own roles.
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { parseScopeString } from '../../functions/core/scopes.js';
import { type TokenKey, tokenKey } from '../../functions/core/store/key.js';
import { parseRecord } from '../../functions/core/store/record.js';
import { ATTR } from '../../functions/core/store/schema.js';
import type { ListedStatus } from './args.js';
import { CliError, duration, iso } from './output.js';

/** Every attribute but the refresh token. */
export const OPERATOR_ATTRIBUTES: readonly string[] = Object.values(ATTR).filter(
  (name) => name !== ATTR.refreshToken,
);
export const PROJECTION = {
  ProjectionExpression: OPERATOR_ATTRIBUTES.map((_, i) => `#a${i}`).join(', '),
  ExpressionAttributeNames: Object.fromEntries(OPERATOR_ATTRIBUTES.map((name, i) => [`#a${i}`, name])),
};

/** One stored item as the operator sees it; `accessToken` is printed only with --show-tokens. */
export interface TokenView {
  readonly pk: string;
  readonly sk: string;
  readonly client: string;
  readonly status: ListedStatus;
  readonly scopes: readonly string[];
  readonly grantedScopes: readonly string[];
  readonly accessToken?: string;
  readonly expiresAt?: number;
  readonly dueAt?: number;
  readonly version?: number;
  readonly failureCount?: number;
  readonly lastError?: { readonly code: string; readonly message: string; readonly at: number };
  readonly lastRequestedAt?: number;
  /** Why a corrupt item could not be read. */
  readonly problem?: string;
}

/** A corrupt item (one the broker cannot read either) is listed, not a reason to fail the listing. */
export function toView(item: Record<string, unknown>): TokenView {
  const pk = typeof item.pk === 'string' ? item.pk : '?';
  const sk = typeof item.sk === 'string' ? item.sk : '?';
  try {
    const record = parseRecord(item);
    return {
      pk,
      sk,
      client: record.client,
      status: record.status,
      scopes: record.scopes,
      grantedScopes: record.token?.grantedScopes ?? [],
      ...(record.token === undefined
        ? {}
        : { accessToken: record.token.accessToken, expiresAt: record.token.expiresAt }),
      ...(record.dueAt === undefined ? {} : { dueAt: record.dueAt }),
      version: record.version,
      failureCount: record.failureCount,
      ...(record.lastError === undefined
        ? {}
        : {
            lastError: {
              code: record.lastError.code,
              message: record.lastError.message,
              at: record.lastError.at,
            },
          }),
      ...(record.lastRequestedAt === undefined ? {} : { lastRequestedAt: record.lastRequestedAt }),
    };
  } catch (error) {
    const dueAt = typeof item[ATTR.dueAt] === 'number' ? (item[ATTR.dueAt] as number) : undefined;
    return {
      pk,
      sk,
      client: sk.split('#')[0] ?? '',
      status: 'corrupt',
      scopes: [],
      grantedScopes: [],
      ...(dueAt === undefined ? {} : { dueAt }),
      problem: error instanceof Error ? error.message : String(error),
    };
  }
}

/** Every item (or one bearer's, by Query on its partition), sorted by key. */
export async function readTokens(
  dynamodb: DynamoDBClient,
  table: string,
  bearer?: string,
): Promise<TokenView[]> {
  const views: TokenView[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(
      bearer === undefined
        ? new ScanCommand({ TableName: table, ...PROJECTION, ExclusiveStartKey: startKey })
        : new QueryCommand({
            TableName: table,
            KeyConditionExpression: '#pk = :pk',
            ...PROJECTION,
            ExpressionAttributeNames: { ...PROJECTION.ExpressionAttributeNames, '#pk': ATTR.pk },
            ExpressionAttributeValues: { ':pk': { S: bearer } },
            ExclusiveStartKey: startKey,
          }),
    );
    for (const item of page.Items ?? []) views.push(toView(unmarshall(item)));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return views.sort((a, b) => a.pk.localeCompare(b.pk) || a.sk.localeCompare(b.sk));
}

export async function readToken(
  dynamodb: DynamoDBClient,
  table: string,
  key: TokenKey,
): Promise<TokenView | undefined> {
  const { Item } = await dynamodb.send(
    new GetItemCommand({
      TableName: table,
      Key: { pk: { S: key.pk }, sk: { S: key.sk } },
      ConsistentRead: true,
      ...PROJECTION,
    }),
  );
  return Item === undefined ? undefined : toView(unmarshall(Item));
}

/**
 * The key a command names: "pk sk" as `list` prints it (one argument or two), or a scope string,
 * keyed with the app `client`.
 */
export function keyFromArguments(args: readonly string[], client: string): TokenKey {
  const [first = '', second] = args;
  const parts = second === undefined ? first.trim().split(/\s+/) : [first, second];
  if (parts.length === 2 && parts[1]?.includes('#')) return { pk: parts[0] as string, sk: parts[1] };
  if (parts.length !== 1) throw new CliError(`not a key or scope: ${args.join(' ')}`, 2);
  try {
    return tokenKey(client, parseScopeString(first));
  } catch (error) {
    throw new CliError(`not a key or scope: ${error instanceof Error ? error.message : String(error)}`, 2);
  }
}

/** The mint request for a stored key: its scopes in Zaikio form and its app. */
export function scopeOfKey(key: TokenKey): { scope: string; client: string } {
  const hash = key.sk.indexOf('#');
  const client = key.sk.slice(0, hash);
  const scopes = key.sk.slice(hash + 1).split(',');
  return { client, scope: scopes.map((scope) => `${key.pk}.${scope}`).join(',') };
}

/** A bearer filter: `Org/<id>` and `Per/<id>` name a partition; a bare id matches either. */
export function bearerFilter(bearer: string | undefined): {
  partition?: string;
  matches: (pk: string) => boolean;
} {
  if (bearer === undefined) return { matches: () => true };
  if (/^(Org|Per)\/./.test(bearer)) return { partition: bearer, matches: (pk) => pk === bearer };
  return { matches: (pk) => pk.endsWith(`/${bearer}`) };
}

export function row(view: TokenView, now: number): string[] {
  return [
    view.pk,
    view.sk,
    view.status,
    view.expiresAt === undefined ? '-' : duration(view.expiresAt - now),
    view.dueAt === undefined ? '-' : duration(view.dueAt - now),
    (
      view.problem ??
      (view.lastError === undefined ? '' : `${view.lastError.code}: ${view.lastError.message}`)
    ).slice(0, 60),
  ];
}

export const HEADER = ['BEARER', 'CLIENT#SCOPES', 'STATUS', 'EXPIRES IN', 'REFRESH IN', 'LAST ERROR'];

/** JSON for --json: times as ISO strings; the token value only when asked for. */
export function viewJson(view: TokenView, showTokens: boolean): Record<string, unknown> {
  const { accessToken, expiresAt, dueAt, lastError, lastRequestedAt, ...rest } = view;
  return {
    ...rest,
    hasToken: accessToken !== undefined,
    ...(showTokens && accessToken !== undefined ? { accessToken } : {}),
    ...(expiresAt === undefined ? {} : { expiresAt: iso(expiresAt) }),
    ...(dueAt === undefined ? {} : { refreshAt: iso(dueAt) }),
    ...(lastError === undefined ? {} : { lastError: { ...lastError, at: iso(lastError.at) } }),
    ...(lastRequestedAt === undefined ? {} : { lastRequestedAt: iso(lastRequestedAt) }),
  };
}
