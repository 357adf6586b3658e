/**
 * The operator CLI as a user runs it: a child process whose stdout, stderr and exit code the tests
 * read, and a scan of everything it printed for token and secret values.
 */
import path from 'node:path';
import { type Finished, freePort, runToExit } from '../support/child-process.js';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');

export type CliRun = Finished;

/**
 * Runs `npm run tokens -- ...args` (its entry, under tsx) or, with `bundle`, the packaged bin in
 * dist/cli/ (built by the tests' global setup), in `cwd`.
 */
export function runCli(
  args: readonly string[],
  options: { readonly env?: Record<string, string>; readonly cwd?: string; readonly bundle?: boolean } = {},
): Promise<CliRun> {
  const entry = options.bundle
    ? [path.join(ROOT, 'dist', 'cli', 'zaikio-tokens.mjs')]
    : ['--import', 'tsx', path.join(ROOT, 'local', 'tokens-cli.ts')];
  return runToExit(process.execPath, [...entry, ...args], {
    cwd: options.cwd ?? ROOT,
    // No AWS settings of the machine leak into a local run.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
  });
}

/** A port nothing listens on (bound, then released). */
export const closedPort = freePort;

/** The values of `secrets` that appear in any of `outputs` (an empty list is the only good answer). */
export function secretsIn(outputs: readonly string[], secrets: readonly string[]): string[] {
  return secrets.filter((secret) => secret.length >= 8 && outputs.some((output) => output.includes(secret)));
}
