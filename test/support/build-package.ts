/**
 * Vitest global setup: builds the package once before any test (as `npm run build` does), so the
 * infra tests synthesize the very bundles that ship and the package tests pack them.
 */
import { buildPackage } from '../../infra/build-package.js';

export default async function setup(): Promise<void> {
  await buildPackage();
}
