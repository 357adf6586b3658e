/**
 * The operator CLI as a user runs it: a child process whose stdout, stderr and exit code the tests
 * read, and a scan of everything it printed for token and secret values.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

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
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry, ...args], {
      cwd: options.cwd ?? ROOT,
      // No AWS settings of the machine leak into a local run.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** The values of `secrets` that appear in any of `outputs` (an empty list is the only good answer). */
export function secretsIn(outputs: readonly string[], secrets: readonly string[]): string[] {
  return secrets.filter((secret) => secret.length >= 8 && outputs.some((output) => output.includes(secret)));
}
