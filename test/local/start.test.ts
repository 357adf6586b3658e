/**
 * `npm start` as a developer meets it, as a child process: the environment block it prints is
 * enough for real SDK clients, the TypeScript consumer client and the printed commands to get a
 * token; a busy port, a malformed variable or a broken simulator config is one line naming what to
 * change, exit code 1, no stack trace, and nothing started.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Finished, freePort, runToExit } from '../support/child-process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ORG = 'b1475f65-236c-58b8-96e1-e1778b43beb7';
/** The simulator's app secret in local/hub-simulator.json: must never be printed. */
const SIMULATOR_SECRET = 'local-secret';
const STACK_LINE = /^\s+at .+/m;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The child's environment: this process's, without anything that would change what `npm start`
 * does or where an AWS client looks (a developer's profile, region or endpoints), plus `overrides`.
 */
function childEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(AWS_|BROKER_SETTINGS$|HUB_|ZAIKIO_|DYNAMODB_PORT$|LAMBDA_PORT$|LOCAL_DATA_DIR$)/.test(name))
      continue;
    env[name] = value;
  }
  // Empty, not absent: a developer's .env must not switch the child to a real Hub.
  return { ...env, ZAIKIO_CLIENT_ID: '', ZAIKIO_CLIENT_SECRET: '', ...overrides };
}

/** `npm start`'s entry, run to its exit (for the failures, which exit before listening). */
function runToExitOfStart(env: Record<string, string>): Promise<Finished> {
  return runToExit(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: ROOT,
    env: childEnv(env),
    timeoutMs: 30_000,
  });
}

interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
}

async function startUntilReady(env: Record<string, string>): Promise<Running> {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const until = Date.now() + 30_000;
  while (!output.includes('\nready\n')) {
    if (Date.now() > until || child.exitCode !== null) throw new Error(`no ready line; output:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, output: () => output };
}

/** The `export NAME=value` lines of the printed block, in order. */
function exportedEnvironment(output: string): Record<string, string> {
  const entries = [...output.matchAll(/^export ([A-Z_]+)=(\S+)$/gm)].map((match) => [match[1], match[2]]);
  return Object.fromEntries(entries);
}

/** The printed command that starts with `first` and its `\`-continued lines, as one string. */
function printedCommand(output: string, first: string): string {
  const lines = output.split('\n');
  const start = lines.findIndex((line) => line.startsWith(first));
  expect(start, `no line starting with ${first}`).toBeGreaterThanOrEqual(0);
  const command: string[] = [];
  for (let at = start; at < lines.length; at += 1) {
    const line = lines[at] ?? '';
    command.push(line);
    if (!line.endsWith('\\')) break;
  }
  return command.join('\n');
}

describe('npm start prints what a consumer needs', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'broker-start-'));
  let running: Running;
  let ports: { dynamodb: number; lambda: number; hub: number };
  let environment: Record<string, string>;

  beforeAll(async () => {
    ports = { dynamodb: await freePort(), lambda: await freePort(), hub: await freePort() };
    running = await startUntilReady({
      DYNAMODB_PORT: String(ports.dynamodb),
      LAMBDA_PORT: String(ports.lambda),
      HUB_PORT: String(ports.hub),
      LOCAL_DATA_DIR: dataDir,
    });
    environment = exportedEnvironment(running.output());
  }, 60_000);

  afterAll(async () => {
    if (running !== undefined && running.child.exitCode === null) {
      const exited = new Promise((resolve) => running.child.once('exit', resolve));
      running.child.kill('SIGINT');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints the environment block with the values the runtime listens on', () => {
    expect(environment).toEqual({
      AWS_REGION: 'local',
      AWS_DEFAULT_REGION: 'local',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${ports.dynamodb}`,
      AWS_ENDPOINT_URL_LAMBDA: `http://127.0.0.1:${ports.lambda}`,
      TOKENS_TABLE_NAME: 'zaikio-tokens',
      MINT_FUNCTION_NAME: 'mint:warehouse',
    });
    // The block comes before the final "ready", so whoever waits for that line has all of it.
    const output = running.output();
    expect(output.indexOf('export MINT_FUNCTION_NAME=')).toBeLessThan(output.indexOf('\nready\n'));
    expect(output).not.toMatch(STACK_LINE);
  });

  it('gets a token with SDK clients built from nothing but the block, and prints no token', async () => {
    const credentials = {
      accessKeyId: environment.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: environment.AWS_SECRET_ACCESS_KEY ?? '',
    };
    const region = environment.AWS_REGION ?? '';
    const lambda = new LambdaClient({
      region,
      credentials,
      endpoint: environment.AWS_ENDPOINT_URL_LAMBDA ?? '',
    });
    const dynamodb = new DynamoDBClient({
      region,
      credentials,
      endpoint: environment.AWS_ENDPOINT_URL_DYNAMODB ?? '',
    });
    try {
      // The payload of the printed `aws lambda invoke` line: the first granted scope.
      const payload = /--payload '([^']+)'/.exec(running.output())?.[1] ?? '';
      expect(JSON.parse(payload)).toEqual({ organizationId: ORG, scopes: ['warehouse.items.r'] });
      const answer = await lambda.send(
        new InvokeCommand({ FunctionName: environment.MINT_FUNCTION_NAME, Payload: payload }),
      );
      expect(answer.FunctionError).toBeUndefined();
      const body = JSON.parse(Buffer.from(answer.Payload ?? new Uint8Array()).toString('utf8'));
      expect(body).toMatchObject({ tokenType: 'Bearer', bearer: { type: 'Organization', id: ORG } });
      const { Item } = await dynamodb.send(
        new GetItemCommand({
          TableName: environment.TOKENS_TABLE_NAME,
          Key: { pk: { S: `Org/${ORG}` }, sk: { S: 'default#warehouse.items.r' } },
          ConsistentRead: true,
        }),
      );
      expect(sha256(Item?.accessToken?.S ?? '')).toBe(sha256(body.accessToken));
      expect(running.output()).not.toContain(body.accessToken);
      expect(running.output()).not.toContain(SIMULATOR_SECRET);
    } finally {
      lambda.destroy();
      dynamodb.destroy();
    }
  });

  it('serves the TypeScript consumer client configured by the block alone', async () => {
    const script = join(dataDir, 'consumer.mjs');
    const entry = new URL(`file://${join(ROOT, 'functions/consumer/index.ts')}`).href;
    writeFileSync(
      script,
      [
        "import { createHash } from 'node:crypto';",
        `const { getAccessToken } = await import(${JSON.stringify(entry)});`,
        `const token = await getAccessToken({ organizationId: '${ORG}', scopes: ['warehouse.items.r'] });`,
        "const digest = createHash('sha256').update(token.accessToken).digest('hex');",
        'console.log(JSON.stringify({ source: token.source, digest }));',
      ].join('\n'),
    );
    // No profile, no config file: the region, credentials and endpoints come from the block only.
    const result = spawnSync(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      env: {
        ...childEnv(environment),
        AWS_CONFIG_FILE: join(dataDir, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: join(dataDir, 'none'),
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.stderr).toBe('');
    const answer = JSON.parse(result.stdout) as { source: string; digest: string };
    expect(['table', 'mint']).toContain(answer.source);
    const lambda = new LambdaClient({
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      endpoint: environment.AWS_ENDPOINT_URL_LAMBDA ?? '',
    });
    try {
      const stored = await lambda.send(
        new InvokeCommand({
          FunctionName: 'mint:warehouse',
          Payload: JSON.stringify({ organizationId: ORG, scopes: ['warehouse.items.r'] }),
        }),
      );
      const body = JSON.parse(Buffer.from(stored.Payload ?? new Uint8Array()).toString('utf8'));
      expect(answer.digest).toBe(sha256(body.accessToken));
    } finally {
      lambda.destroy();
    }
  });

  it('the printed curl and jq lines get a token into a file and show it without the token', () => {
    const file = join(dataDir, 'token.json');
    const curl = printedCommand(running.output(), 'curl ').replaceAll('/tmp/token.json', file);
    const jq = printedCommand(running.output(), "jq 'del(.accessToken)'").replaceAll('/tmp/token.json', file);
    const result = spawnSync('bash', ['-c', `${curl}\n${jq}`], {
      env: childEnv(environment),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status, result.stderr).toBe(0);
    const shown = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ tokenType: 'Bearer', scopes: ['warehouse.items.r'] });
    expect(shown).not.toHaveProperty('accessToken');
    expect(existsSync(file)).toBe(false);
  });

  // The line is for the AWS CLI v2 (Debian's awscli package, which .ci/run installs when missing);
  // a v1 earlier on PATH (pip's) does not know --cli-binary-format.
  const awsV2 = ['aws', '/usr/bin/aws'].find((binary) => {
    const version = spawnSync(binary, ['--version'], { encoding: 'utf8' });
    return version.status === 0 && /aws-cli\/2\./.test(`${version.stdout}${version.stderr}`);
  });
  if (awsV2 === undefined) console.warn('skipping the printed aws lambda invoke line: no AWS CLI v2 found');
  it.skipIf(awsV2 === undefined)('the printed aws lambda invoke line works in a shell with the block', () => {
    const file = join(dataDir, 'token-cli.json');
    const invoke = printedCommand(running.output(), 'aws lambda invoke')
      .replaceAll('/tmp/token.json', file)
      .replace(/^aws /, `${awsV2} `);
    const jq = printedCommand(running.output(), "jq 'del(.accessToken)'").replaceAll('/tmp/token.json', file);
    const result = spawnSync('bash', ['-c', `${invoke} >/dev/null\n${jq}`], {
      env: {
        ...childEnv(environment),
        AWS_CONFIG_FILE: join(dataDir, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: join(dataDir, 'none'),
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status, result.stderr).toBe(0);
    const shown = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ tokenType: 'Bearer' });
    expect(shown).not.toHaveProperty('accessToken');
  });
});

describe('npm start refuses a bad setup in one line', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'broker-start-errors-'));
  const configs = mkdtempSync(join(tmpdir(), 'broker-start-configs-'));
  const blockers: Server[] = [];
  afterAll(async () => {
    for (const server of blockers) await new Promise((resolve) => server.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(configs, { recursive: true, force: true });
  });

  async function expectOneLine(env: Record<string, string>, message: RegExp | string): Promise<void> {
    const ports = {
      DYNAMODB_PORT: String(await freePort()),
      LAMBDA_PORT: String(await freePort()),
      HUB_PORT: String(await freePort()),
    };
    const result = await runToExitOfStart({ ...ports, LOCAL_DATA_DIR: dataDir, ...env });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toMatch(STACK_LINE);
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^npm start: /);
    if (typeof message === 'string') expect(lines[0]).toBe(`npm start: ${message}`);
    else expect(lines[0]).toMatch(message);
    // Refused before anything started: dynalite has not created its files.
    expect(readdirSync(dataDir)).toEqual([]);
  }

  it.each(['DYNAMODB_PORT', 'LAMBDA_PORT', 'HUB_PORT'])('a busy port names %s', async (variable) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    blockers.push(blocker);
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await expectOneLine(
      { [variable]: String(port) },
      `port ${port} is in use; set ${variable} to another port`,
    );
  });

  it.each([
    [
      'a port that is not a number',
      { LAMBDA_PORT: 'abc' },
      'LAMBDA_PORT must be a port number from 0 to 65535, got "abc"',
    ],
    [
      'a port out of range',
      { HUB_PORT: '70000' },
      'HUB_PORT must be a port number from 0 to 65535, got "70000"',
    ],
    [
      'BROKER_SETTINGS that is not JSON',
      { BROKER_SETTINGS: '{scheduleIntervalMs: 5000' },
      'BROKER_SETTINGS is not valid JSON',
    ],
    [
      'BROKER_SETTINGS that is not an object',
      { BROKER_SETTINGS: '[1]' },
      'BROKER_SETTINGS must be a JSON object',
    ],
    [
      'an unknown setting',
      { BROKER_SETTINGS: '{"scheduleInterval":5000}' },
      'BROKER_SETTINGS: unknown setting "scheduleInterval"',
    ],
    [
      'a setting that is not a number',
      { BROKER_SETTINGS: '{"scheduleIntervalMs":"5000"}' },
      'BROKER_SETTINGS: scheduleIntervalMs must be a number',
    ],
    [
      'settings that do not fit together',
      { BROKER_SETTINGS: '{"scheduleIntervalMs":600000}' },
      /^npm start: BROKER_SETTINGS: the refresh window \(refreshAheadMs = 120 s\) must be at least two schedule intervals/,
    ],
    [
      'a token lifetime that is not a number',
      { HUB_TOKEN_LIFETIME_SECONDS: 'soon' },
      'HUB_TOKEN_LIFETIME_SECONDS must be a whole number of seconds above 0, got "soon"',
    ],
    [
      'a real Hub that is not one',
      { ZAIKIO_CLIENT_ID: 'some-app', ZAIKIO_CLIENT_SECRET: 'never-printed-3c1f', ZAIKIO_HUB: 'prod' },
      'ZAIKIO_HUB: Zaikio Hub must be production, sandbox, staging or an http(s) base URL, got "prod"',
    ],
  ] as const)('%s', async (_case, env, message) => {
    await expectOneLine(env, message);
  });

  it.each([
    ['a missing file', undefined, 'no such file'],
    ['a file that is not JSON', '{"apps": [', /^is not valid JSON \(/],
    [
      'no apps',
      '{"apps": [], "grants": []}',
      '"apps" must be a non-empty array of {"clientId", "clientSecret"}',
    ],
    [
      'an app without a secret',
      '{"apps": [{"clientId": "a"}], "grants": []}',
      'apps[0] needs a non-empty "clientId" and "clientSecret"',
    ],
    [
      'a malformed bearer',
      '{"apps": [{"clientId": "a", "clientSecret": "b"}], "grants": [{"bearer": "Organization/1", "scopes": ["warehouse.items.r"]}]}',
      'grants[0].bearer must be "Org/<id>" or "Per/<id>" with a lowercase id',
    ],
    [
      'a malformed scope',
      '{"apps": [{"clientId": "a", "clientSecret": "b"}], "grants": [{"bearer": "Org/1", "scopes": ["warehouse.items"]}]}',
      'grants[0].scopes: "warehouse.items" is not app.scope.permission (r, w or rw)',
    ],
  ] as const)('a simulator config with %s names the file and the problem', async (name, content, problem) => {
    const path = join(configs, `${name.replaceAll(' ', '-')}.json`);
    if (content !== undefined) writeFileSync(path, content);
    const expected =
      typeof problem === 'string'
        ? `HUB_CONFIG ${path}: ${problem}`
        : new RegExp(`^npm start: HUB_CONFIG ${path.replaceAll('.', '\\.')}: ${problem.source.slice(1)}`);
    await expectOneLine({ HUB_CONFIG: path }, expected);
  });
});
