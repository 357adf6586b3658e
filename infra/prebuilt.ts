/**
 * Where the broker's Lambda functions are: prebuilt bundles inside this package (`dist/assets/<name>/`),
 * made by `npm run build` (infra/build-package.ts). The construct never bundles at synth time, so a
 * user's CDK app needs no esbuild, tsx or lockfile of ours, and what the tests ran is what deploys.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/** The functions the package ships; each bundle exports `handler` from `index.mjs`. */
export const PREBUILT_FUNCTIONS = ['mint', 'sweep', 'refresh'] as const;
export type PrebuiltFunction = (typeof PREBUILT_FUNCTIONS)[number];

/** The bundles' folder, relative to the package root (the folder with our package.json). */
export const ASSETS_DIR = path.join('dist', 'assets');
export const HANDLER = 'index.handler';

/**
 * The package root: this file is `infra/prebuilt.ts` in the repository and
 * `dist/infra/prebuilt.js` once compiled, so the root is the nearest folder above with a package.json.
 */
function packageRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`ZaikioTokenBroker: no package.json above ${import.meta.dirname}`);
    dir = parent;
  }
  return dir;
}

export function prebuiltAssetPath(name: PrebuiltFunction): string {
  return path.join(packageRoot(), ASSETS_DIR, name);
}

/** The function's code as a CDK asset; a clear error when the bundles were never built. */
export function prebuiltCode(name: PrebuiltFunction): lambda.Code {
  const dir = prebuiltAssetPath(name);
  if (!existsSync(path.join(dir, 'index.mjs'))) {
    throw new Error(
      `ZaikioTokenBroker: the prebuilt ${name} function is missing (${dir}); in the broker's repository run "npm run build"`,
    );
  }
  return lambda.Code.fromAsset(dir);
}
