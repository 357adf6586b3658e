/**
 * Cold start: each function bundled as the CDK construct bundles it (esbuild, ESM, target node24,
 * minified, the AWS SDK bundled, the createRequire banner, an external source map loaded with
 * --enable-source-maps as the construct's NODE_OPTIONS says), then its module initialisation timed
 * in fresh `node` processes (median), against a bare handler bundled the same way that only
 * constructs the same AWS SDK clients.
 *
 * The broker's handlers build their clients lazily, on the first invocation; so besides the import
 * the script also times that first, I/O-free set-up where a handler allows it (the mint handler with
 * a payload it rejects before any I/O, the worker with an empty batch, the consumer's
 * createTokenClient()). The sweeper cannot be set up without I/O and is timed on import only. The Hub
 * client's undici pool is loaded by the first Hub request (functions/core/hub/pool.ts), which is I/O,
 * so neither time includes it; docs/BENCHMARKS.md reports what it adds.
 *
 *   npx tsx bench/cold-start.ts [--processes=20]    (--help for the flags)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { numberFlag, parseCommandLine } from './support/cli.js';
import { median } from './support/stats.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const run = promisify(execFile);

/** The construct's bundling options (infra/zaikio-token-broker.ts, `bundling`). */
const BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

interface FunctionSpec {
  readonly name: string;
  readonly entry: string;
  /** SDK clients the function constructs; the bare handler constructs exactly these. */
  readonly clients: ReadonlyArray<{ readonly module: string; readonly client: string }>;
  /** JS run after import to do the first invocation's I/O-free set-up, or undefined. */
  readonly setup?: string;
}

const DYNAMODB = { module: '@aws-sdk/client-dynamodb', client: 'DynamoDBClient' };
const SECRETS = { module: '@aws-sdk/client-secrets-manager', client: 'SecretsManagerClient' };
const SQS = { module: '@aws-sdk/client-sqs', client: 'SQSClient' };
const LAMBDA = { module: '@aws-sdk/client-lambda', client: 'LambdaClient' };

const FUNCTIONS: readonly FunctionSpec[] = [
  {
    name: 'mint',
    entry: 'functions/mint/handler.ts',
    clients: [DYNAMODB, SECRETS],
    // Builds the broker (its clients), then rejects the payload before any I/O.
    setup: 'await mod.handler({}).catch(() => undefined);',
  },
  // The sweeper reads the due index and sends to the queue: no Secrets Manager, no Hub client.
  { name: 'sweep', entry: 'functions/sweep/handler.ts', clients: [DYNAMODB, SQS] },
  {
    name: 'refresh',
    entry: 'functions/refresh/handler.ts',
    clients: [DYNAMODB, SECRETS],
    setup: 'await mod.handler({ Records: [] });',
  },
  {
    name: 'consumer',
    entry: 'functions/consumer/index.ts',
    clients: [DYNAMODB, LAMBDA],
    setup: 'mod.createTokenClient();',
  },
];

/** What a function's environment holds in Lambda (values are placeholders; nothing is called). */
const LAMBDA_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'example',
  TOKENS_TABLE_NAME: 'tokens',
  ZAIKIO_CLIENTS: '{"default":"zaikio/default"}',
  ZAIKIO_DEFAULT_CLIENT: 'default',
  ZAIKIO_HUB: 'sandbox',
  MINT_FUNCTION_NAME: 'mint',
  REFRESH_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/refresh',
  POWERTOOLS_SERVICE_NAME: 'bench',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  NODE_OPTIONS: '--enable-source-maps',
};

const MARK = 'COLD-START ';

/** Times `import()` (and the set-up) in this fresh process; prints one marked JSON line. */
const RUNNER = `
const file = process.argv[2];
const setup = process.argv[3] === 'setup';
const startedAt = performance.now();
const mod = await import(file);
const importedAt = performance.now();
if (setup) { ${FUNCTIONS.map((f) => (f.setup ? `if (file.endsWith('/${f.name}.mjs')) { ${f.setup} }` : '')).join(' ')} }
const setUpAt = performance.now();
process.stdout.write('\\n${MARK}' + JSON.stringify({ importMs: importedAt - startedAt, setupMs: setUpAt - importedAt }) + '\\n');
`;

export interface ColdStartRow {
  readonly name: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly bareBytes: number;
  /** Median of the fresh processes, ms. */
  readonly importMs: number;
  /** Import plus the first invocation's set-up (NaN when the handler cannot be set up without I/O). */
  readonly importAndSetupMs: number;
  readonly bareImportMs: number;
}

export interface ColdStartResult {
  readonly processes: number;
  readonly rows: readonly ColdStartRow[];
  readonly command: string;
}

async function bundle(entry: string, outfile: string, stdin?: string): Promise<number> {
  await build({
    ...(stdin === undefined
      ? { entryPoints: [entry] }
      : { stdin: { contents: stdin, resolveDir: ROOT, loader: 'js', sourcefile: entry } }),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    banner: { js: BANNER },
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    outfile,
    logLevel: 'silent',
  });
  return (await stat(outfile)).size;
}

function bareSource(spec: FunctionSpec): string {
  const imports = spec.clients
    .map(({ module, client }) => `import { ${client} } from '${module}';`)
    .join('\n');
  const constructs = spec.clients
    .map(({ client }, index) => `const c${index} = new ${client}({});`)
    .join('\n');
  return `${imports}\n${constructs}\nexport const handler = async () => [${spec.clients.map((_, i) => `c${i}`).join(', ')}].length;\n`;
}

async function timeProcess(
  runner: string,
  file: string,
  setup: boolean,
): Promise<{ importMs: number; setupMs: number }> {
  const { stdout } = await run(process.execPath, [runner, file, ...(setup ? ['setup'] : [])], {
    env: { ...LAMBDA_ENV, PATH: process.env.PATH ?? '' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.split('\n').find((text) => text.startsWith(MARK));
  if (line === undefined) throw new Error(`no timing from ${file}`);
  return JSON.parse(line.slice(MARK.length)) as { importMs: number; setupMs: number };
}

export async function runColdStart(
  options: { processes?: number; log?: (line: string) => void } = {},
): Promise<ColdStartResult> {
  const processes = options.processes ?? 20;
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = await mkdtemp(join(tmpdir(), 'broker-cold-start-'));
  try {
    const runner = join(dir, 'runner.mjs');
    await writeFile(runner, RUNNER);
    const rows: ColdStartRow[] = [];
    for (const spec of FUNCTIONS) {
      const file = join(dir, `${spec.name}.mjs`);
      const bareFile = join(dir, `bare-${spec.name}.mjs`);
      const bytes = await bundle(resolve(ROOT, spec.entry), file);
      const gzipBytes = gzipSync(await readFile(file)).length;
      const bareBytes = await bundle(`bare-${spec.name}.js`, bareFile, bareSource(spec));
      const imports: number[] = [];
      const setups: number[] = [];
      const bare: number[] = [];
      // Interleaved, so a burst of other load on the machine hits both sides alike.
      for (let i = 0; i < processes; i++) {
        const real = await timeProcess(runner, file, spec.setup !== undefined);
        imports.push(real.importMs);
        setups.push(real.importMs + real.setupMs);
        bare.push((await timeProcess(runner, bareFile, false)).importMs);
      }
      const row: ColdStartRow = {
        name: spec.name,
        bytes,
        gzipBytes,
        bareBytes,
        importMs: median(imports),
        importAndSetupMs: spec.setup === undefined ? Number.NaN : median(setups),
        bareImportMs: median(bare),
      };
      rows.push(row);
      log(
        `  cold start ${spec.name}: ${(bytes / 1024).toFixed(0)} KiB (bare ${(bareBytes / 1024).toFixed(0)} KiB), ` +
          `init ${row.importMs.toFixed(1)} ms (+ set-up ${row.importAndSetupMs.toFixed(1)} ms) vs bare ${row.bareImportMs.toFixed(1)} ms`,
      );
    }
    return { processes, rows, command: `npx tsx bench/cold-start.ts --processes=${processes}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const USAGE = `
Usage: npx tsx bench/cold-start.ts [--processes=N]

Bundles each function as the CDK construct does and times its initialisation in fresh node
processes, against a bare handler with the same AWS SDK clients. Prints the result as JSON.

  --processes=N    fresh processes per function and per side, medians reported (default 20)
  -h, --help       this text
`;

// Run as a command, not when bench/run.ts imports runColdStart.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const processes = parseCommandLine(
    USAGE,
    { processes: { type: 'string' } },
    (values) => numberFlag('processes', values.processes, { integer: true, min: 1 }) ?? 20,
  );
  const result = await runColdStart({ processes });
  console.log(JSON.stringify(result, null, 2));
}
