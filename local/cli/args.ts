/**
 * The operator CLI's commands, options and help, and a parser that turns every mistake into one
 * line naming it plus the usage (exit code 2), never a stack trace.
 */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { CliError } from './output.js';

/** How the user started it: the package's bin, or the repository's npm script. */
export const PROGRAM = /zaikio-tokens(\.mjs)?$/.test(process.argv[1] ?? '')
  ? 'zaikio-tokens'
  : 'npm run tokens --';

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  aws: { type: 'boolean' },
  stack: { type: 'string' },
  table: { type: 'string' },
  function: { type: 'string' },
  region: { type: 'string' },
  client: { type: 'string' },
  status: { type: 'string', multiple: true },
  bearer: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  'show-tokens': { type: 'boolean' },
  'overdue-after': { type: 'string' },
  consumer: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

type OptionName = keyof typeof OPTIONS;

const OPTION_HELP: Readonly<Record<OptionName, string>> = {
  help: '-h, --help             this help',
  aws: '--aws                  a deployed broker (default AWS credentials), not the local runtime',
  stack: '--stack NAME           a deployed broker found from its CloudFormation stack (implies --aws)',
  table: '--table NAME           the tokens table (default: TOKENS_TABLE_NAME, the stack, or zaikio-tokens)',
  function: '--function NAME        the mint function (default: MINT_FUNCTION_NAME, the stack, or mint)',
  region: '--region NAME          the AWS region of a deployed broker (default: the SDK default)',
  client: '--client NAME          the Zaikio app (default: ZAIKIO_DEFAULT_CLIENT, the stack, or default)',
  status: '--status S[,S]         only tokens with this status: active, failing, revoked, corrupt',
  bearer: '--bearer B             only tokens of this bearer: Org/<id>, Per/<id> or <id>',
  limit: '--limit N              at most N tokens',
  json: '--json                 JSON on stdout instead of text',
  'show-tokens': '--show-tokens          print access token values (hidden by default)',
  consumer:
    "--consumer NAME        call the mint as this consumer (its alias); default: MINT_FUNCTION_NAME's alias, locally the first consumer of CONSUMERS_CONFIG",
  'overdue-after':
    '--overdue-after SEC    a key this far past its refresh time needs attention (default: 2 sweeps)',
};

/** Where the broker is: valid with every command. */
const TARGET: readonly OptionName[] = ['help', 'aws', 'stack', 'table', 'function', 'region'];

export interface CommandSpec {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly args: string;
  /** Positional arguments: at least, at most. */
  readonly positionals: readonly [number, number];
  readonly summary: string;
  readonly options: readonly OptionName[];
  readonly more?: readonly string[];
}

const KEY_ARGUMENT = [
  'KEY is a stored key as `list` prints it ("Org/<id> default#warehouse.items.r", one argument or two),',
  'or a scope in Zaikio form: "Org/<id>.warehouse.items.r[,Org/<id>.zaikio.organization.r]".',
];

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'list',
    args: '',
    positionals: [0, 0],
    summary: 'stored tokens: status, time to expiry, next refresh, last error',
    options: ['status', 'bearer', 'client', 'limit', 'json', 'show-tokens'],
  },
  {
    name: 'show',
    args: 'KEY',
    positionals: [1, 2],
    summary: 'one token in detail',
    options: ['client', 'json', 'show-tokens'],
    more: KEY_ARGUMENT,
  },
  {
    name: 'status',
    aliases: ['doctor'],
    args: '',
    positionals: [0, 0],
    summary: 'is the broker healthy? exit code 1 when something needs attention',
    options: ['json', 'overdue-after'],
    more: [
      'Tokens by status, the most overdue key, the last sweep, refresh queue and dead-letter depths;',
      'for a deployed broker found with --stack also the alarm states and whether each client secret',
      'the stack created still holds its placeholder. Needs attention: a failing, revoked or corrupt',
      'token, an overdue key, a dead letter, an alarm in ALARM, a placeholder secret, no recent sweep.',
    ],
  },
  {
    name: 'refresh',
    args: 'KEY',
    positionals: [1, 2],
    summary: 'force a new token through the mint function, as a granted consumer',
    options: ['client', 'consumer', 'show-tokens'],
    more: KEY_ARGUMENT,
  },
  {
    name: 'forget',
    args: 'KEY',
    positionals: [1, 2],
    summary: 'delete the stored item (the next request mints anew); local runtime only',
    options: ['client'],
    more: [...KEY_ARGUMENT, 'A deployed table denies deletes to all but the broker’s own roles.'],
  },
  {
    name: 'help',
    args: '[COMMAND]',
    positionals: [0, 1],
    summary: 'this help, or a command’s',
    options: [],
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((spec) => spec.name === name || spec.aliases?.includes(name));
}

export function usage(spec?: CommandSpec): string {
  if (spec === undefined) {
    return [
      `usage: ${PROGRAM} COMMAND [options]`,
      '',
      'Commands:',
      ...COMMANDS.map((c) => {
        const name = [c.name, ...(c.aliases ?? [])].join(', ');
        return `  ${`${name} ${c.args}`.padEnd(22)}${c.summary}`;
      }),
      '',
      'Options for every command:',
      ...TARGET.map((name) => `  ${OPTION_HELP[name]}`),
      '',
      'Without --aws or --stack it works on the local runtime (npm start), at DYNAMODB_PORT and',
      'LAMBDA_PORT (8000, 3001). It reads .env as npm start does, and never prints token values',
      `unless --show-tokens. ${PROGRAM} COMMAND --help describes a command.`,
    ].join('\n');
  }
  const options = [...spec.options, ...TARGET];
  return [
    `usage: ${PROGRAM} ${spec.name}${spec.args === '' ? '' : ` ${spec.args}`} [options]`,
    ...(spec.aliases === undefined ? [] : [`alias: ${spec.aliases.join(', ')}`]),
    '',
    `${spec.summary[0]?.toUpperCase()}${spec.summary.slice(1)}.`,
    ...(spec.more ?? []),
    '',
    'Options:',
    ...options.map((name) => `  ${OPTION_HELP[name]}`),
  ].join('\n');
}

function parseRaw(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
}

export interface Parsed {
  readonly command: CommandSpec;
  readonly positionals: readonly string[];
  readonly values: ReturnType<typeof parseRaw>['values'];
  /** `--help` was given: print the usage and stop. */
  readonly help: boolean;
}

/** Node's parseArgs messages are long and suggest things; the one line names the option only. */
function usageError(error: unknown, spec: CommandSpec | undefined): CliError {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? '';
  const line =
    code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
      ? `unknown option ${option}`
      : code !== 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
        ? message.split('\n')[0]
        : message.includes('does not take an argument')
          ? `option ${option} takes no value`
          : message.includes('ambiguous')
            ? `option ${option} needs a value (write ${option}=VALUE for one that starts with -)`
            : `option ${option} needs a value`;
  return new CliError(line ?? 'invalid arguments', 2, usage(spec));
}

export function parseCommandLine(argv: readonly string[]): Parsed {
  let parsed: ReturnType<typeof parseRaw>;
  // The command, if any, names the usage that goes with an error.
  const guess = argv.find((arg) => !arg.startsWith('-'));
  try {
    parsed = parseRaw(argv);
  } catch (error) {
    throw usageError(error, guess === undefined ? undefined : findCommand(guess));
  }
  const [name, ...positionals] = parsed.positionals;
  const help = parsed.values.help === true;
  if (name === undefined) {
    if (help) return { command: helpCommand(), positionals: [], values: parsed.values, help };
    throw new CliError('no command given', 2, usage());
  }
  const command = findCommand(name);
  if (command === undefined) throw new CliError(`unknown command ${name}`, 2, usage());
  const allowed = new Set<string>([...command.options, ...TARGET]);
  for (const token of parsed.tokens) {
    if (token.kind === 'option' && !allowed.has(token.name)) {
      throw new CliError(`option ${token.rawName} does not apply to ${command.name}`, 2, usage(command));
    }
  }
  if (!help) {
    const [least, most] = command.positionals;
    if (positionals.length < least)
      throw new CliError(`${command.name} needs ${command.args}`, 2, usage(command));
    if (positionals.length > most) {
      throw new CliError(`unexpected argument ${positionals[most]}`, 2, usage(command));
    }
  }
  return { command, positionals, values: parsed.values, help };
}

function helpCommand(): CommandSpec {
  return findCommand('help') as CommandSpec;
}

export const STATUSES = ['active', 'failing', 'revoked', 'corrupt'] as const;
export type ListedStatus = (typeof STATUSES)[number];

export function statusFilter(
  values: readonly string[] | undefined,
  spec: CommandSpec,
): Set<ListedStatus> | undefined {
  if (values === undefined) return undefined;
  const wanted = values.flatMap((value) => value.split(',')).map((value) => value.trim());
  for (const status of wanted) {
    if (!(STATUSES as readonly string[]).includes(status)) {
      throw new CliError(`unknown status ${status} (one of ${STATUSES.join(', ')})`, 2, usage(spec));
    }
  }
  return new Set(wanted as ListedStatus[]);
}

export function positiveNumber(
  value: string | undefined,
  option: string,
  spec: CommandSpec,
  integer: boolean,
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (
    value.trim() === '' ||
    !Number.isFinite(number) ||
    number <= 0 ||
    (integer && !Number.isInteger(number))
  ) {
    throw new CliError(
      `--${option} needs a positive ${integer ? 'integer' : 'number'}, got ${value}`,
      2,
      usage(spec),
    );
  }
  return number;
}
