/**
 * The operator CLI against the real local runtime (dynalite, the Lambda endpoint with its status
 * document, the sweeper and worker on a timer) talking to a Hub simulator this test controls, run as
 * a child process because its output and exit code are what an operator sees.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubSimulator } from '../../local/hub-simulator/index.js';
import { createReadableLogger } from '../../local/readable-logger.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import type { LocalStatus } from '../../local/status.js';
import { type CliRun, closedPort, runCli, secretsIn } from './cli-process.js';

const ORG = 'b1475f65-236c-58b8-96e1-e1778b43beb7';
const OTHER = '0d5e2c1a-7f43-4b8e-9a61-3c2b1f0e9d87';
const BROKEN = '6c0f3a52-1b9e-4d77-8f21-5a4e3c2d1b0f';
const CLIENT_ID = 'cli-test-client';
const CLIENT_SECRET = 'cli-test-client-secret-7d41a9';
const LOCAL = { region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
const USAGE = 'usage: npm run tokens --';
const LEASE_MS = 2_500;

const port = (url: string) => new URL(url).port;

describe('the operator CLI on the local runtime', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokens-cli-'));
  const logs: string[] = [];
  /** Everything the CLI printed, except the one run that asked for token values. */
  const printed: string[] = [];
  const minted: string[] = [];
  let hub: HubSimulator;
  let runtime: LocalRuntime;
  let env: Record<string, string>;
  let lambda: LambdaClient;
  let dynamodb: DynamoDBClient;

  async function cli(...args: string[]): Promise<CliRun> {
    const run = await runCli(args, { env });
    printed.push(run.stdout, run.stderr);
    return run;
  }

  async function runtimeStatus(): Promise<LocalStatus> {
    return (await (await fetch(`${runtime.lambdaEndpoint}/local/status`)).json()) as LocalStatus;
  }

  async function waitFor(what: string, condition: () => Promise<boolean>, ms = 30_000): Promise<void> {
    const until = Date.now() + ms;
    while (!(await condition())) {
      if (Date.now() > until)
        throw new Error(`timed out waiting for ${what}; runtime log:\n${logs.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async function mint(organizationId: string): Promise<void> {
    const response = await lambda.send(
      new InvokeCommand({
        // Each organization through the consumer local/consumers.json grants it.
        FunctionName: organizationId === OTHER ? 'mint:orders' : 'mint:warehouse',
        Payload: JSON.stringify({ organizationId, scopes: ['warehouse.items.r'] }),
      }),
    );
    const body = JSON.parse(Buffer.from(response.Payload ?? new Uint8Array()).toString('utf8'));
    expect(response.FunctionError, JSON.stringify(body.errorType)).toBeUndefined();
    minted.push(body.accessToken);
  }

  beforeAll(async () => {
    hub = await HubSimulator.start({
      apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
      grants: [
        { bearer: `Org/${ORG}`, scopes: ['warehouse.items.r'] },
        { bearer: `Org/${OTHER}`, scopes: ['warehouse.items.r'] },
      ],
      // Short-lived tokens, so the scheduled refresh (and a failing one) happens within seconds.
      tokenLifetimeSeconds: 6,
      // Every refresh is then a client_credentials request naming its scope, which a fault can match.
      issueRefreshTokens: false,
    });
    runtime = await startLocalRuntime({
      dynamodbPort: 0,
      lambdaPort: 0,
      hubPort: 0,
      dataDir,
      reset: true,
      // The runtime's "real Hub" path, pointed at this test's simulator, whose faults the test sets.
      realHub: { hub: hub.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
      hubConfig: { apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }], grants: [] },
      settings: {
        // Sweeps (and so redeliveries of a failed message) twice a second: the dead-letter test waits
        // for three receives, each a visibility timeout after the last, then for the next sweep.
        scheduleIntervalMs: 500,
        refreshAheadMs: 2_000,
        refreshJitterMs: 0,
        minValiditySeconds: 1,
        failureBackoffBaseMs: 1_000,
        failureBackoffMaxMs: 2_000,
        // A worker that crashed on a key holds its lease this long; the message comes back after it.
        // The least the settings allow with this Hub deadline (the deadline and 2 s to write).
        hubDeadlineMs: 500,
        leaseDurationMs: LEASE_MS,
        // A pacing slot every 100 ms: a key that waits for its slot still has time left of its 500 ms
        // Hub deadline (at 4 requests a second the second key of a message never has).
        hubRequestsPerSecond: 20,
      },
      // Longer than the lease, so a redelivered message finds the key free and fails again.
      refreshVisibilityTimeoutMs: LEASE_MS + 500,
      logger: createReadableLogger((line) => logs.push(line)),
    });
    env = { DYNAMODB_PORT: port(runtime.dynamodbEndpoint), LAMBDA_PORT: port(runtime.lambdaEndpoint) };
    lambda = new LambdaClient({ ...LOCAL, endpoint: runtime.lambdaEndpoint });
    dynamodb = new DynamoDBClient({ ...LOCAL, endpoint: runtime.dynamodbEndpoint });
    await mint(ORG);
    await mint(OTHER);
  });

  afterAll(async () => {
    lambda?.destroy();
    dynamodb?.destroy();
    await runtime?.stop();
    await hub?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints help for the CLI and for every command, exit code 0', async () => {
    const runs = await Promise.all(
      [
        ['--help'],
        ['-h'],
        ['help'],
        ['help', 'status'],
        ...['list', 'show', 'status', 'doctor', 'refresh', 'forget'].map((c) => [c, '--help']),
      ].map((args) => cli(...args)),
    );
    for (const run of runs) {
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(/^usage: npm run tokens -- /);
    }
    const [general] = runs;
    for (const command of ['list', 'show', 'status, doctor', 'refresh', 'forget'])
      expect(general?.stdout).toContain(`  ${command}`);
    expect(general?.stdout).toContain('--stack NAME');
    expect(runs[3]?.stdout).toContain('usage: npm run tokens -- status [options]');
    expect(runs[4]?.stdout).toContain('--status S[,S]');
    expect(runs[4]?.stdout).toContain('--limit N');
    expect(runs[7]?.stdout).toContain('alias: doctor');
  });

  it.each([
    [['list', '--frob'], 'unknown option --frob'],
    [['--bogus'], 'unknown option --bogus'],
    [['frob'], 'unknown command frob'],
    [[], 'no command given'],
    [['show'], 'show needs KEY'],
    [['show', '--limit', '1', `Org/${ORG}.warehouse.items.r`], 'option --limit does not apply to show'],
    [['list', '--status', 'bogus'], 'unknown status bogus (one of active, failing, revoked, corrupt)'],
    [['list', '--limit', '0'], '--limit needs a positive integer, got 0'],
    [['list', '--limit'], 'option --limit needs a value'],
    [
      ['show', 'Org/nothing'],
      'not a key or scope: scope "Org/nothing" names a bearer but no app.scope.permission',
    ],
  ])('%j: one line naming the mistake, then the usage, exit code 2', async (args, line) => {
    const run = await cli(...args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')[0]).toBe(line);
    expect(run.stderr).toContain(USAGE);
    expect(run.stderr).not.toMatch(/\n\s+at |ERR_PARSE_ARGS|Error:/);
  });

  it('says how to start the runtime when nothing listens, with the port from .env', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'tokens-cli-env-'));
    try {
      const dynamodbPort = await closedPort();
      writeFileSync(join(cwd, '.env'), `DYNAMODB_PORT=${dynamodbPort}\n`);
      // The packaged bin, run where a user keeps their .env.
      const list = await runCli(['list'], { cwd, bundle: true });
      expect(list.code).toBe(1);
      expect(list.stderr).toBe(
        `nothing listens on http://127.0.0.1:${dynamodbPort}; start it with npm start\n`,
      );
      expect(list.stdout).toBe('');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
    const lambdaPort = String(await closedPort());
    const refresh = await runCli(['refresh', `Org/${ORG}.warehouse.items.r`], {
      env: { ...env, LAMBDA_PORT: lambdaPort },
    });
    expect(refresh.code).toBe(1);
    expect(refresh.stderr).toBe(
      `nothing listens on http://127.0.0.1:${lambdaPort}; start it with npm start\n`,
    );
  });

  it('lists tokens with filters, a limit and parseable --json, token values only with --show-tokens', async () => {
    const all = JSON.parse((await cli('list', '--json')).stdout);
    expect(all.map((token: { pk: string }) => token.pk)).toEqual([`Org/${OTHER}`, `Org/${ORG}`]);
    for (const token of all) {
      expect(token).toMatchObject({ status: 'active', client: 'default', hasToken: true });
      expect(token).not.toHaveProperty('accessToken');
      expect(token).not.toHaveProperty('refreshToken');
      expect(Date.parse(token.expiresAt)).toBeGreaterThan(0);
    }
    const byPartition = JSON.parse((await cli('list', '--json', '--bearer', `Org/${ORG}`)).stdout);
    expect(byPartition.map((token: { pk: string }) => token.pk)).toEqual([`Org/${ORG}`]);
    const byId = JSON.parse((await cli('list', '--json', '--bearer', OTHER)).stdout);
    expect(byId.map((token: { pk: string }) => token.pk)).toEqual([`Org/${OTHER}`]);
    expect(JSON.parse((await cli('list', '--json', '--status', 'failing,revoked')).stdout)).toEqual([]);
    expect(JSON.parse((await cli('list', '--json', '--status', 'active')).stdout)).toHaveLength(2);
    expect(JSON.parse((await cli('list', '--json', '--client', 'other-app')).stdout)).toEqual([]);
    expect(JSON.parse((await cli('list', '--json', '--limit', '1')).stdout)).toHaveLength(1);

    const text = await cli('list', '--limit', '1');
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^BEARER +CLIENT#SCOPES +STATUS +EXPIRES IN +REFRESH IN +LAST ERROR$/);
    expect(lines[1]).toMatch(new RegExp(`^Org/${OTHER} +default#warehouse\\.items\\.r +active `));
    expect(lines.at(-1)).toBe('1 of 2 token(s)');

    // Asked for, the value is there (and this run is left out of the scan for values below).
    const shown = await runCli(['list', '--json', '--show-tokens', '--bearer', `Org/${ORG}`], { env });
    const [withToken] = JSON.parse(shown.stdout);
    expect(withToken.accessToken).toMatch(/^eyJ/);
  });

  it('shows one token by scope or by key, as text and as --json', async () => {
    const byScope = JSON.parse((await cli('show', `Org/${ORG}.warehouse.items.r`, '--json')).stdout);
    const byKey = JSON.parse((await cli('show', `Org/${ORG} default#warehouse.items.r`, '--json')).stdout);
    const byTwoArgs = JSON.parse(
      (await cli('show', `Org/${ORG}`, 'default#warehouse.items.r', '--json')).stdout,
    );
    expect(byScope).toMatchObject({
      pk: `Org/${ORG}`,
      sk: 'default#warehouse.items.r',
      grantedScopes: ['warehouse.items.r'],
    });
    expect(byKey.pk).toBe(byScope.pk);
    expect(byTwoArgs.sk).toBe(byScope.sk);
    expect(byScope).not.toHaveProperty('accessToken');

    const text = await cli('show', `Org/${ORG}.warehouse.items.r`);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^bearer +Org\/b1475f65/m);
    expect(text.stdout).toMatch(/^access token +\(hidden, \d+ chars; --show-tokens prints it\)$/m);

    const missing = await cli('show', `Org/${BROKEN}.warehouse.items.r`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`no stored token for Org/${BROKEN} default#warehouse.items.r\n`);
  });

  it('status: healthy with active tokens, exit code 0', async () => {
    await waitFor('a sweep', async () => (await runtimeStatus()).lastSweep !== null);
    const text = await cli('status');
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^tokens +2: 2 active, 0 failing, 0 revoked, 0 corrupt$/m);
    expect(text.stdout).toMatch(/^last sweep +\d+s ago: /m);
    expect(text.stdout).toMatch(/^dead letters +0 in the refresh dead-letter queue$/m);
    expect(text.stdout.trimEnd().split('\n').at(-1)).toBe('healthy');
    const json = await cli('doctor', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ healthy: true, attention: [], tokens: { total: 2 } });
  });

  it('status: a failing key needs attention (exit code 1) until it recovers', async () => {
    // The Hub fails every request for one organization. Its token, unused since the start, has
    // expired by now: the next caller's mint fails and is recorded, and the worker retries it.
    hub.inject({
      fault: { kind: 'status', status: 503 },
      match: (request) => request.scope?.includes(OTHER) === true,
    });
    try {
      const asked = await lambda.send(
        new InvokeCommand({
          FunctionName: 'mint:orders',
          Payload: JSON.stringify({ organizationId: OTHER, scopes: ['warehouse.items.r'] }),
        }),
      );
      expect(asked.FunctionError).toBe('Unhandled');
      await waitFor('a failing key', async () => {
        const failing = JSON.parse((await cli('list', '--json', '--status', 'failing')).stdout);
        return failing.length === 1;
      });
      const text = await cli('status');
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(
        new RegExp(`^  failing  Org/${OTHER} default#warehouse\\.items\\.r  \\(`, 'm'),
      );
      expect(text.stdout).toContain('  - 1 token(s) failing');
      const json = JSON.parse((await cli('status', '--json')).stdout);
      expect(json.healthy).toBe(false);
      expect(json.tokens.unhealthy).toEqual([
        expect.objectContaining({ key: `Org/${OTHER} default#warehouse.items.r`, status: 'failing' }),
      ]);
      // The CLI calls the mint as a consumer: by default the first one npm start declares, which is
      // not granted this organization, so the mint refuses before any Hub work.
      const denied = await cli('refresh', `Org/${OTHER}.warehouse.items.r`);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/^AccessDeniedError: consumer "warehouse" [^\n]+\n$/);
      // As the consumer granted it, a forced refresh fails as the Hub does: one line, the typed error.
      const refresh = await cli('refresh', `Org/${OTHER}.warehouse.items.r`, '--consumer', 'orders');
      expect(refresh.code).toBe(1);
      expect(refresh.stderr).toMatch(/^HubUnavailableError: [^\n]+\n$/);
    } finally {
      hub.clearFaults();
    }
    await waitFor('the key to recover', async () => (await cli('status')).code === 0);
    const refreshed = await cli('refresh', `Org/${OTHER} default#warehouse.items.r`, '--consumer', 'orders');
    expect(refreshed.code).toBe(0);
    expect(refreshed.stdout).toMatch(/^refreshed Org\/0d5e2c1a\S* default#warehouse\.items\.r: expires 20/);
    expect(refreshed.stdout).toContain('access token  (hidden, ');
  });

  it('status: a message in the dead-letter queue needs attention (exit code 1)', async () => {
    // An item the worker cannot read makes it fail the message; SQS semantics send it to the DLQ.
    await dynamodb.send(
      new PutItemCommand({
        TableName: 'zaikio-tokens',
        Item: {
          pk: { S: `Org/${BROKEN}` },
          sk: { S: 'default#warehouse.items.r' },
          status: { S: 'no-such-status' },
          version: { N: '1' },
          dueShard: { N: '0' },
          dueAt: { N: String(Date.now() - 1_000) },
        },
      }),
    );
    await waitFor('a dead letter', async () => (await runtimeStatus()).deadLetterQueue.messages > 0, 60_000);
    const corrupt = JSON.parse((await cli('list', '--json', '--status', 'corrupt')).stdout);
    expect(corrupt).toEqual([expect.objectContaining({ pk: `Org/${BROKEN}`, status: 'corrupt' })]);
    expect(corrupt[0].problem).toContain('corrupt');

    // Without the item, the dead letter alone is what needs attention, once the sweeper, which hands
    // out nothing while a message is in flight (as it does with SQS), has caught up on the others.
    const forget = await cli('forget', `Org/${BROKEN} default#warehouse.items.r`);
    expect(forget.code).toBe(0);
    await waitFor('the other keys to be refreshed again', async () => {
      return JSON.parse((await cli('status', '--json')).stdout).attention.length === 1;
    });
    const text = await cli('status');
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^dead letters +[1-9]\d* in the refresh dead-letter queue$/m);
    expect(text.stdout).toContain(`  Org/${BROKEN} default#warehouse.items.r`);
    const json = JSON.parse((await cli('status', '--json')).stdout);
    expect(json.attention).toEqual([
      expect.stringMatching(/^\d+ message\(s\) in the refresh dead-letter queue$/),
    ]);
    expect(json.queues).toContainEqual(
      expect.objectContaining({ name: 'refresh dead-letter', deadLetter: true }),
    );
    // The worker said why it failed the message.
    expect(logs.some((line) => line.includes(`refresh Org/${BROKEN}`) && line.includes('corrupt'))).toBe(
      true,
    );
  }, 90_000);

  it('printed no access token, refresh token or client secret', async () => {
    const { Items = [] } = await dynamodb.send(new ScanCommand({ TableName: 'zaikio-tokens' }));
    const values = [
      CLIENT_SECRET,
      ...minted,
      ...Items.flatMap((item) => [item.accessToken?.S, item.refreshToken?.S]).filter(
        (v): v is string => v !== undefined,
      ),
    ];
    // The check means something only if there are values to look for and output to look in.
    expect(values.filter((value) => value.startsWith('eyJ')).length).toBeGreaterThan(2);
    expect(printed.join('').length).toBeGreaterThan(1_000);
    expect(secretsIn([...printed, ...logs], values)).toEqual([]);
  });
});
