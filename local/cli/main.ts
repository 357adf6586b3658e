/**
 * The operator CLI for a local or deployed broker (`npm run tokens -- COMMAND`, or `zaikio-tokens`
 * when installed from the package). Returns the exit code: 0 done, 1 failed or (status) something
 * needs attention, 2 a usage error. Token values are printed only with --show-tokens.
 */
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { tokenSha256 } from '../../functions/core/token-hash.js';
import { DEFAULT_CONSUMERS_CONFIG, readConsumers } from '../consumers.js';
import {
  type CommandSpec,
  findCommand,
  type Parsed,
  parseCommandLine,
  positiveNumber,
  statusFilter,
  usage,
} from './args.js';
import { CliError, type CliIo, duration, iso, processIo, table } from './output.js';
import { collectStatus, renderStatus } from './status.js';
import {
  type AwsClientFactory,
  defaultAwsClients,
  ensureListening,
  requireFunction,
  requireTable,
  resolveTarget,
  type Target,
} from './target.js';
import {
  bearerFilter,
  HEADER,
  keyFromArguments,
  readToken,
  readTokens,
  row,
  scopeOfKey,
  type TokenView,
  viewJson,
} from './tokens.js';

export interface CliOptions {
  readonly io?: CliIo;
  readonly env?: NodeJS.ProcessEnv;
  /** The deployed broker's SDK clients (tests point them at dynalite and mocks). */
  readonly awsClients?: AwsClientFactory;
  readonly now?: () => number;
}

interface Context {
  readonly parsed: Parsed;
  readonly checked: Checked;
  readonly target: Target;
  readonly client: string;
  readonly showTokens: boolean;
  readonly out: (line: string) => void;
  readonly now: () => number;
  readonly env: NodeJS.ProcessEnv;
}

function masked(token: string, showTokens: boolean): string {
  return showTokens ? token : `(hidden, ${token.length} chars; --show-tokens prints it)`;
}

/** Option values checked before anything connects, so a typo is a usage error (exit 2) at once. */
interface Checked {
  readonly statuses: ReturnType<typeof statusFilter>;
  readonly limit: number | undefined;
  readonly overdueAfterSeconds: number | undefined;
}

function check(parsed: Parsed): Checked {
  const { values, command } = parsed;
  // A key argument's syntax does not depend on the app, which may come from the stack later.
  if (command.positionals[0] > 0 && command.name !== 'help') {
    try {
      keyFromArguments(parsed.positionals, 'default');
    } catch (error) {
      throw error instanceof CliError ? new CliError(error.message, 2, usage(command)) : error;
    }
  }
  return {
    statuses: statusFilter(values.status, command),
    limit: positiveNumber(values.limit, 'limit', command, true),
    overdueAfterSeconds: positiveNumber(values['overdue-after'], 'overdue-after', command, false),
  };
}

async function list({ parsed, checked, target, out, now, showTokens }: Context): Promise<number> {
  const { values } = parsed;
  const { statuses, limit } = checked;
  const bearer = bearerFilter(values.bearer);
  const all = await readTokens(target.dynamodb, requireTable(target), bearer.partition);
  const matching = all.filter(
    (view) =>
      bearer.matches(view.pk) &&
      (statuses === undefined || statuses.has(view.status)) &&
      (values.client === undefined || view.client === values.client),
  );
  const shown = limit === undefined ? matching : matching.slice(0, limit);
  if (values.json === true) {
    out(
      JSON.stringify(
        shown.map((view) => viewJson(view, showTokens)),
        null,
        2,
      ),
    );
    return 0;
  }
  const at = now();
  for (const line of table([HEADER, ...shown.map((view) => row(view, at))])) out(line);
  out(
    shown.length === matching.length
      ? `${matching.length} token(s)`
      : `${shown.length} of ${matching.length} token(s)`,
  );
  return 0;
}

function printView(view: TokenView, { out, now, showTokens }: Context): void {
  const at = now();
  const [bearer, sk, status, expiresIn, refreshIn] = row(view, at);
  out(`bearer        ${bearer}`);
  out(`key           ${sk}`);
  out(`status        ${status}`);
  if (view.problem !== undefined) out(`problem       ${view.problem}`);
  out(`expires in    ${expiresIn}${view.expiresAt === undefined ? '' : ` (${iso(view.expiresAt)})`}`);
  out(`refresh in    ${refreshIn}`);
  out(`granted       ${view.grantedScopes.join(', ') || '-'}`);
  if (view.version !== undefined) out(`version       ${view.version}`);
  if (view.failureCount !== undefined) out(`failures      ${view.failureCount}`);
  if (view.lastError) out(`last error    ${view.lastError.code}: ${view.lastError.message}`);
  if (view.lastRequestedAt) out(`last request  ${duration(at - view.lastRequestedAt)} ago`);
  if (view.accessToken !== undefined) out(`access token  ${masked(view.accessToken, showTokens)}`);
}

async function show(context: Context): Promise<number> {
  const { parsed, target, client, out, showTokens } = context;
  const key = keyFromArguments(parsed.positionals, client);
  const view = await readToken(target.dynamodb, requireTable(target), key);
  if (view === undefined) throw new CliError(`no stored token for ${key.pk} ${key.sk}`, 1);
  if (parsed.values.json === true) out(JSON.stringify(viewJson(view, showTokens), null, 2));
  else printView(view, context);
  return 0;
}

/** A function name or ARN with a qualifier (`mint:warehouse`, `arn:…:function:mint:warehouse`). */
function isQualified(functionName: string): boolean {
  return functionName.split(':').length > (functionName.startsWith('arn:') ? 7 : 1);
}

/**
 * The mint answers only through a consumer's alias (the caller identity Lambda reports), so the
 * operator calls it as one: --consumer, else the alias MINT_FUNCTION_NAME already names, else locally
 * the first consumer npm start declares.
 */
function mintAsConsumer({ parsed, target, env }: Context): string {
  const mint = requireFunction(target);
  const consumer =
    parsed.values.consumer ??
    (isQualified(mint)
      ? undefined
      : target.kind === 'local'
        ? Object.keys(readConsumers(env.CONSUMERS_CONFIG ?? DEFAULT_CONSUMERS_CONFIG))[0]
        : undefined);
  if (consumer === undefined) {
    if (isQualified(mint)) return mint;
    throw new CliError("refresh needs --consumer NAME: the mint answers only through a consumer's alias", 2);
  }
  const parts = mint.split(':');
  return [...parts.slice(0, mint.startsWith('arn:') ? 7 : 1), consumer].join(':');
}

async function refresh(context: Context): Promise<number> {
  const { parsed, target, client, out, showTokens } = context;
  const key = keyFromArguments(parsed.positionals, client);
  const request = scopeOfKey(key);
  const stored = await readToken(target.dynamodb, requireTable(target), key);
  // Name the token being replaced, so the mint replaces exactly that one (and serves a newer one).
  const forceRefresh =
    stored?.accessToken === undefined ? true : { accessTokenSha256: tokenSha256(stored.accessToken) };
  const response = await target.lambda.send(
    new InvokeCommand({
      FunctionName: mintAsConsumer(context),
      Payload: JSON.stringify({ ...request, forceRefresh }),
    }),
  );
  const body = JSON.parse(Buffer.from(response.Payload ?? new Uint8Array()).toString('utf8'));
  // The broker's error messages never carry a token or secret (docs/consumers.md).
  if (response.FunctionError !== undefined) throw new CliError(`${body.errorType}: ${body.errorMessage}`, 1);
  out(`refreshed ${key.pk} ${key.sk}: expires ${body.expiresAt}`);
  out(`access token  ${masked(String(body.accessToken), showTokens)}`);
  return 0;
}

async function forget({ parsed, target, client, out }: Context): Promise<number> {
  if (target.kind !== 'local') {
    throw new CliError(
      'forget works on the local runtime only: a deployed table denies deletes to all but the broker',
      2,
    );
  }
  const key = keyFromArguments(parsed.positionals, client);
  await target.dynamodb.send(
    new DeleteItemCommand({ TableName: target.table, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }),
  );
  out(`forgot ${key.pk} ${key.sk}`);
  return 0;
}

async function status({ parsed, checked, target, out, now }: Context): Promise<number> {
  const { overdueAfterSeconds } = checked;
  const report = await collectStatus(target, requireTable(target), { overdueAfterSeconds, now });
  if (parsed.values.json === true)
    out(JSON.stringify({ ...report, healthy: report.attention.length === 0 }, null, 2));
  else for (const line of renderStatus(report, now())) out(line);
  return report.attention.length === 0 ? 0 : 1;
}

const RUN: Readonly<Record<string, (context: Context) => Promise<number>>> = {
  list,
  show,
  refresh,
  forget,
  status,
};

/** What each command needs of the local runtime, checked first so a stopped runtime says so. */
function localEndpoints(command: string, target: Target): string[] {
  if (target.kind !== 'local') return [];
  if (command === 'refresh') return [target.lambdaUrl];
  if (command === 'status') return [target.dynamodbUrl, target.lambdaUrl];
  return [target.dynamodbUrl];
}

function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED') return `${error.message}: is the broker running?`;
  // SDK errors carry the service's message (AccessDenied, ResourceNotFound, …): one line, no stack.
  return `${error.name}: ${error.message.split('\n')[0]}`;
}

export async function runCli(argv: readonly string[], options: CliOptions = {}): Promise<number> {
  const io = options.io ?? processIo;
  const env = options.env ?? process.env;
  const out = (line: string) => io.stdout(`${line}\n`);
  let target: Target | undefined;
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.command.name === 'help' || parsed.help) {
      const topic = parsed.command.name === 'help' ? parsed.positionals[0] : parsed.command.name;
      const spec: CommandSpec | undefined =
        topic === undefined || topic === 'help' ? undefined : findCommand(topic);
      if (topic !== undefined && topic !== 'help' && spec === undefined) {
        throw new CliError(`unknown command ${topic}`, 2, usage());
      }
      out(usage(spec));
      return 0;
    }
    const run = RUN[parsed.command.name] as (context: Context) => Promise<number>;
    const checked = check(parsed);
    target = await resolveTarget(parsed.values, env, options.awsClients ?? defaultAwsClients);
    for (const url of localEndpoints(parsed.command.name, target)) await ensureListening(url);
    return await run({
      parsed,
      checked,
      target,
      client: parsed.values.client ?? env.ZAIKIO_DEFAULT_CLIENT ?? target.defaultClient ?? 'default',
      showTokens: parsed.values['show-tokens'] === true,
      out,
      now: options.now ?? Date.now,
      env,
    });
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr(`${error.message}\n`);
      if (error.usage !== undefined) io.stderr(`\n${error.usage}\n`);
      return error.exitCode;
    }
    io.stderr(`${describeFailure(error)}\n`);
    return 1;
  } finally {
    target?.close();
  }
}
