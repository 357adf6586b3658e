/**
 * The benchmarks' command lines: node:util parseArgs in strict mode, because a mistyped flag that
 * is silently ignored costs a full run measuring the wrong thing. A mistake prints one line and
 * exits with 2 (the shell's "misuse" code) before anything starts; `--help` prints the usage.
 */
import { relative } from 'node:path';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** A mistake in the command line: reported in one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * The flags in `options` (and `--help`) from this process's arguments; prints `usage` and exits on
 * `--help`, reports and exits on a mistake. `check` may throw UsageError for values that parse but
 * make no sense; what it returns is the result.
 */
export function parseCommandLine<const O extends ParseArgsOptionsConfig, R>(
  usage: string,
  options: O,
  check: (values: ReturnType<typeof parseFlags<O>>) => R,
  args: readonly string[] = process.argv.slice(2),
): R {
  try {
    const values = parseFlags(options, args);
    if ((values as { help?: boolean }).help === true) {
      console.log(usage.trim());
      process.exit(0);
    }
    return check(values);
  } catch (error) {
    if (error instanceof UsageError) return fail(error.message);
    // parseArgs's own messages go on with advice on positional arguments, which these commands do not take.
    if (isParseArgsError(error)) return fail(error.message.split('. ')[0] ?? error.message);
    throw error;
  }
}

function fail(message: string): never {
  const command = process.argv[1] === undefined ? 'bench' : relative(process.cwd(), process.argv[1]);
  console.error(`${command}: ${message}; see --help`);
  process.exit(2);
}

function isParseArgsError(error: unknown): error is Error {
  return (
    error instanceof TypeError && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')
  );
}

function parseFlags<const O extends ParseArgsOptionsConfig>(options: O, args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: { ...options, ...HELP },
    strict: true,
    allowPositionals: false,
  }).values;
}

/**
 * A number flag: undefined when not given. `integer`, `min` and `max` (inclusive) say what is
 * allowed; anything else is a UsageError naming the flag.
 */
export function numberFlag(
  name: string,
  value: string | undefined,
  rule: { readonly integer?: boolean; readonly min?: number; readonly max?: number } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  const { integer = false, min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY } = rule;
  if (
    value.trim() === '' ||
    !Number.isFinite(number) ||
    (integer && !Number.isInteger(number)) ||
    number < min ||
    number > max
  ) {
    const range = [Number.isFinite(min) ? `>= ${min}` : '', Number.isFinite(max) ? `<= ${max}` : '']
      .filter((part) => part !== '')
      .join(' and ');
    const wanted = `${integer ? 'a whole number' : 'a number'}${range === '' ? '' : ` ${range}`}`;
    throw new UsageError(`--${name} must be ${wanted}, got '${value}'`);
  }
  return number;
}
