#!/usr/bin/env node
/**
 * The operator CLI's entry: `npm run tokens -- COMMAND [options]`, and `zaikio-tokens` when installed
 * from the package (bundled into dist/cli/ by infra/build-package.ts). Commands and options: --help,
 * or local/cli/args.ts.
 */
import { existsSync } from 'node:fs';
import { runCli } from './cli/main.js';

// The same .env that `npm start` reads, so ports and names set there reach the CLI too.
if (existsSync('.env')) process.loadEnvFile('.env');
process.exitCode = await runCli(process.argv.slice(2));
