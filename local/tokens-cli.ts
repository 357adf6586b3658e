/**
 * Operator CLI for a local or deployed broker: `npm run tokens -- <command> [options]`.
 *
 *   list                      every stored token: status, time to expiry, next refresh, last error
 *   show <scope>              one token in detail (scope in Zaikio form: Org/<id>.app.scope.perm,...)
 *   refresh <scope>           force a new token through the mint function
 *   forget <scope>            delete the stored item (the next request mints anew); local only: a
 *                             deployed table denies deletes to all but the broker's own roles
 *
 * Options: --client <name> (default ZAIKIO_DEFAULT_CLIENT, else "default"), --show-tokens (print token values: off by default),
 * --aws (a deployed broker: default AWS credentials, --table/--function or TOKENS_TABLE_NAME and
 * MINT_FUNCTION_NAME), otherwise the local runtime (DYNAMODB_PORT, LAMBDA_PORT).
 */

import { parseArgs } from 'node:util';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { parseScopeString } from '../functions/core/scopes.js';
import { tokenKey } from '../functions/core/store/key.js';
import { parseRecord, type TokenRecord } from '../functions/core/store/record.js';
import { ATTR } from '../functions/core/store/schema.js';

/** Every attribute but the refresh token: a deployed table denies it to everyone but the broker. */
const OPERATOR_ATTRIBUTES = Object.values(ATTR).filter((name) => name !== ATTR.refreshToken);
const PROJECTION = {
  ProjectionExpression: OPERATOR_ATTRIBUTES.map((_, i) => `#a${i}`).join(', '),
  ExpressionAttributeNames: Object.fromEntries(OPERATOR_ATTRIBUTES.map((name, i) => [`#a${i}`, name])),
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    client: { type: 'string' },
    'show-tokens': { type: 'boolean', default: false },
    aws: { type: 'boolean', default: false },
    table: { type: 'string' },
    function: { type: 'string' },
  },
});
const [command, scope] = positionals;
const env = process.env;
const client = values.client ?? env.ZAIKIO_DEFAULT_CLIENT ?? 'default';
const say = (line: string) => process.stdout.write(`${line}\n`);

const local = { region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
const dynamodb = values.aws
  ? new DynamoDBClient({})
  : new DynamoDBClient({ ...local, endpoint: `http://127.0.0.1:${env.DYNAMODB_PORT ?? 8000}` });
const lambda = values.aws
  ? new LambdaClient({})
  : new LambdaClient({ ...local, endpoint: `http://127.0.0.1:${env.LAMBDA_PORT ?? 3001}` });
const table = values.table ?? env.TOKENS_TABLE_NAME ?? (values.aws ? undefined : 'zaikio-tokens');
const mintFunction = values.function ?? env.MINT_FUNCTION_NAME ?? (values.aws ? undefined : 'mint');

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function duration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const s = Math.round(Math.abs(ms) / 1000);
  return s < 120
    ? `${sign}${s}s`
    : s < 7200
      ? `${sign}${Math.round(s / 60)}m`
      : `${sign}${Math.round(s / 3600)}h`;
}

function masked(token: string): string {
  return values['show-tokens'] ? token : `(hidden, ${token.length} chars; --show-tokens prints it)`;
}

function row(record: TokenRecord, now: number): string[] {
  return [
    record.key.pk,
    record.key.sk,
    record.status,
    record.token === undefined ? '-' : duration(record.token.expiresAt - now),
    record.dueAt === undefined ? '-' : duration(record.dueAt - now),
    record.lastError === undefined
      ? ''
      : `${record.lastError.code}: ${record.lastError.message}`.slice(0, 60),
  ];
}

function printTable(rows: string[][]): void {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((cells) => cells[column]?.length ?? 0))) ?? [];
  for (const cells of rows)
    say(
      cells
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
}

function keyOf(text: string | undefined) {
  if (text === undefined) fail(`usage: npm run tokens -- ${command} "Org/<id>.app.scope.perm[,...]"`);
  return tokenKey(client, parseScopeString(text));
}

async function list(): Promise<void> {
  if (table === undefined) fail('--table or TOKENS_TABLE_NAME is required with --aws');
  const records: TokenRecord[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({
        TableName: table,
        ...PROJECTION,
        ...(startKey ? { ExclusiveStartKey: startKey as never } : {}),
      }),
    );
    for (const item of page.Items ?? []) records.push(parseRecord(unmarshall(item)));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  const now = Date.now();
  records.sort((a, b) => a.key.pk.localeCompare(b.key.pk) || a.key.sk.localeCompare(b.key.sk));
  printTable([
    ['BEARER', 'CLIENT#SCOPES', 'STATUS', 'EXPIRES IN', 'REFRESH IN', 'LAST ERROR'],
    ...records.map((r) => row(r, now)),
  ]);
  say(`${records.length} token(s)`);
}

async function show(): Promise<void> {
  if (table === undefined) fail('--table or TOKENS_TABLE_NAME is required with --aws');
  const key = keyOf(scope);
  const { Item } = await dynamodb.send(
    new GetItemCommand({
      TableName: table,
      Key: { pk: { S: key.pk }, sk: { S: key.sk } },
      ConsistentRead: true,
      ...PROJECTION,
    }),
  );
  if (Item === undefined) fail(`no stored token for ${key.pk} ${key.sk}`);
  const record = parseRecord(unmarshall(Item));
  const now = Date.now();
  const [bearer, sk, status, expiresIn, refreshIn] = row(record, now);
  say(`bearer        ${bearer}`);
  say(`key           ${sk}`);
  say(`status        ${status}`);
  say(
    `expires in    ${expiresIn}${record.token ? ` (${new Date(record.token.expiresAt).toISOString()})` : ''}`,
  );
  say(`refresh in    ${refreshIn}`);
  say(`granted       ${record.token?.grantedScopes.join(', ') ?? '-'}`);
  say(`version       ${record.version}`);
  say(`failures      ${record.failureCount}`);
  if (record.lastError) say(`last error    ${record.lastError.code}: ${record.lastError.message}`);
  if (record.lastRequestedAt) say(`last request  ${duration(now - record.lastRequestedAt)} ago`);
  if (record.token) say(`access token  ${masked(record.token.accessToken)}`);
}

async function refresh(): Promise<void> {
  if (mintFunction === undefined) fail('--function or MINT_FUNCTION_NAME is required with --aws');
  const key = keyOf(scope);
  const response = await lambda.send(
    new InvokeCommand({
      FunctionName: mintFunction,
      Payload: JSON.stringify({ scope, client, forceRefresh: true }),
    }),
  );
  const body = JSON.parse(Buffer.from(response.Payload ?? new Uint8Array()).toString('utf8'));
  if (response.FunctionError !== undefined) fail(`${body.errorType}: ${body.errorMessage}`);
  say(`refreshed ${key.pk} ${key.sk}: expires ${body.expiresAt}`);
  say(`access token  ${masked(body.accessToken)}`);
}

async function forget(): Promise<void> {
  if (table === undefined) fail('--table or TOKENS_TABLE_NAME is required with --aws');
  const key = keyOf(scope);
  await dynamodb.send(
    new DeleteItemCommand({ TableName: table, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }),
  );
  say(`forgot ${key.pk} ${key.sk}`);
}

const commands: Record<string, () => Promise<void>> = { list, show, refresh, forget };
const run = command === undefined ? undefined : commands[command];
if (run === undefined)
  fail('usage: npm run tokens -- list | show <scope> | refresh <scope> | forget <scope>');
try {
  await run();
} catch (error) {
  fail(
    `${error instanceof Error ? error.name : 'Error'}: ${error instanceof Error ? error.message : String(error)}`,
  );
} finally {
  dynamodb.destroy();
  lambda.destroy();
}
