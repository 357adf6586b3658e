/**
 * A user's world outside this repository: the package packed as `npm pack` makes it, installed with
 * `npm install` into an empty app in a temporary folder, with nothing from the registry
 * (aws-cdk-lib, constructs and the two SDK clients come from this checkout's node_modules, as if the
 * user had them already). Node 22 for the "user's app may run on Node 22" checks is installed from
 * the npm registry into node_modules/.cache once, unless ZAIKIO_TEST_NODE22 names one.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, '..', '..');
const MODULES = path.join(ROOT, 'node_modules');
/** The Node 22 release the CommonJS and ESM apps are also synthesized with. */
export const NODE22_VERSION = '22.23.3';

export interface PackedFile {
  readonly path: string;
  readonly size: number;
}

export interface Packed {
  readonly tarball: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly files: readonly PackedFile[];
}

/** `npm pack` of the built dist/ (the tests' global setup built it; prepack would build it again). */
export async function pack(destination: string): Promise<Packed> {
  const { stdout } = await run(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', destination],
    {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const [result] = JSON.parse(stdout) as Array<{
    filename: string;
    size: number;
    unpackedSize: number;
    files: PackedFile[];
  }>;
  if (result === undefined) throw new Error('npm pack reported nothing');
  return {
    tarball: path.join(destination, result.filename),
    size: result.size,
    unpackedSize: result.unpackedSize,
    files: result.files,
  };
}

/** An empty app folder with the tarball installed by npm, offline. */
export async function scratchApp(tarball: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'zaikio-scratch-app-'));
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'scratch-cdk-app', version: '1.0.0', private: true }),
  );
  await run(
    'npm',
    [
      'install',
      '--offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      tarball,
      ...['aws-cdk-lib', 'constructs', '@aws-sdk/client-dynamodb', '@aws-sdk/client-lambda'].map((name) =>
        path.join(MODULES, name),
      ),
    ],
    { cwd: dir },
  );
  return dir;
}

/** A Node 22 binary: $ZAIKIO_TEST_NODE22, or the `node` package of that major installed once. */
export async function node22(): Promise<string> {
  const given = process.env.ZAIKIO_TEST_NODE22;
  if (given) return given;
  const prefix = path.join(MODULES, '.cache', `node-${NODE22_VERSION}`);
  const binary = path.join(prefix, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(binary)) {
    await mkdir(prefix, { recursive: true });
    await writeFile(path.join(prefix, 'package.json'), '{"private":true}');
    await run('npm', ['install', '--no-audit', '--no-fund', '--no-save', `node@${NODE22_VERSION}`], {
      cwd: prefix,
    });
  }
  return binary;
}

/** Runs `node file` in `cwd` with a PATH holding only that node: no esbuild, tsx or npm scripts. */
export async function runNode(
  nodeBinary: string,
  file: string,
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  const { stdout } = await run(nodeBinary, [file], {
    cwd,
    env: { PATH: path.dirname(nodeBinary), HOME: process.env.HOME ?? cwd, ...env },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}
