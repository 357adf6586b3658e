/**
 * Builds the npm package into dist/ (`npm run build`; `npm pack` runs it first):
 *  - the Lambda functions, bundled once here (esbuild, ESM, minified, source maps, Node 24, arm64
 *    needs nothing native) into dist/assets/<name>/index.mjs, which the construct deploys as they are;
 *  - the construct and consumer entry points, compiled by tsc to ESM JavaScript with .d.ts files
 *    (tsconfig.build.json);
 *  - the operator CLI, bundled into dist/cli/zaikio-tokens.mjs (package.json "bin": zaikio-tokens).
 * `npm run build` builds it all aside and swaps it in for dist/ at once.
 * `--functions-only` skips tsc: the repository's own CDK app and the tests need only the bundles.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { ASSETS_DIR, PREBUILT_FUNCTIONS, type PrebuiltFunction } from './prebuilt.js';

const ROOT = path.resolve(import.meta.dirname, '..');

const ENTRIES = {
  mint: 'functions/mint/handler.ts',
  sweep: 'functions/sweep/handler.ts',
  refresh: 'functions/refresh/handler.ts',
} as const satisfies Record<PrebuiltFunction, string>;

export interface BundledFunction {
  readonly name: PrebuiltFunction;
  /** Bytes of index.mjs (the source map ships beside it). */
  readonly bytes: number;
}

/** Bundles every function into `outDir/<name>/index.mjs` (+ .map), replacing what was there. */
export async function bundleFunctions(outDir = path.join(ROOT, ASSETS_DIR)): Promise<BundledFunction[]> {
  return Promise.all(
    PREBUILT_FUNCTIONS.map(async (name) => {
      const dir = path.join(outDir, name);
      await rm(dir, { recursive: true, force: true });
      const outfile = path.join(dir, 'index.mjs');
      const result = await build({
        entryPoints: [path.join(ROOT, ENTRIES[name])],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node24',
        mainFields: ['module', 'main'],
        // CommonJS dependencies (undici) call require() for Node built-ins.
        banner: {
          js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        },
        // The AWS SDK is bundled too: the functions run the versions the tests ran, not the runtime's.
        minify: true,
        sourcemap: true,
        // Stack traces point into our TypeScript (NODE_OPTIONS=--enable-source-maps), without shipping it.
        sourcesContent: false,
        metafile: true,
        logLevel: 'warning',
      });
      const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('.mjs'));
      return { name, bytes: output?.[1].bytes ?? 0 };
    }),
  );
}

/** The operator CLI's bundle, relative to the package root (package.json "bin" names it). */
export const CLI_BUNDLE = path.join('dist', 'cli', 'zaikio-tokens.mjs');

/**
 * Bundles the operator CLI into one file with the SDK clients it uses, so an installed package runs
 * it with no dependency beyond the package's own. Returns its size in bytes.
 */
export async function bundleCli(outfile = path.join(ROOT, CLI_BUNDLE)): Promise<number> {
  const result = await build({
    entryPoints: [path.join(ROOT, 'local', 'tokens-cli.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    // CommonJS dependencies call require() for Node built-ins; esbuild keeps the entry's #! line first.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    minify: true,
    metafile: true,
    logLevel: 'warning',
  });
  return Object.values(result.metafile.outputs)[0]?.bytes ?? 0;
}

/** Compiles the two entry points (infra/index.ts, functions/consumer/index.ts) into `outDir`. */
export function compileEntryPoints(outDir: string): void {
  execFileSync(
    path.join(ROOT, 'node_modules', '.bin', 'tsc'),
    ['-p', 'tsconfig.build.json', '--outDir', outDir],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
}

/**
 * The whole package, built aside and then swapped in for dist/: a test run (or `npm pack`) that reads
 * dist/ meanwhile sees the old build or the new one, never a half-written or empty one.
 */
export async function buildPackage(): Promise<BundledFunction[]> {
  const dist = path.join(ROOT, 'dist');
  const staging = await mkdtemp(path.join(ROOT, '.dist-'));
  try {
    const bundles = await bundleFunctions(path.join(staging, 'assets'));
    await bundleCli(path.join(staging, 'cli', 'zaikio-tokens.mjs'));
    compileEntryPoints(staging);
    const old = `${staging}-old`;
    await rename(dist, old).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await rename(staging, dist);
    await rm(old, { recursive: true, force: true });
    return bundles;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'functions-only': { type: 'boolean', default: false } } });
  const bundles = values['functions-only'] ? await bundleFunctions() : await buildPackage();
  if (process.env.npm_config_loglevel !== 'silent') {
    for (const { name, bytes } of bundles) console.log(`${name}: ${(bytes / 1024).toFixed(0)} KiB`);
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === import.meta.filename) {
  await main();
}
