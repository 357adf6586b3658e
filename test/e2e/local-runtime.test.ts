import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCheckAt } from '../../functions/core/lifecycle/serve.js';
import { freePort } from '../support/child-process.js';

const ORG = 'b1475f65-236c-58b8-96e1-e1778b43beb7';
const SCOPE = `Org/${ORG}.warehouse.items.r`;
const LOCAL = { region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
}

/** Starts `npm start`'s entry as a child process and waits for its "ready" line. */
async function start(env: Record<string, string>): Promise<Started> {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  await waitFor(
    () => output.includes('\nready\n'),
    30_000,
    () => `no ready line; output:\n${output}`,
  );
  return { child, output: () => output };
}

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  why: () => string,
): Promise<void> {
  const until = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(why());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stop(started: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
  started.child.kill('SIGINT');
  return exited;
}

describe('npm start (local runtime) end to end', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'broker-e2e-'));
  let env: Record<string, string>;
  let lambda: LambdaClient;
  let dynamodb: DynamoDBClient;

  beforeAll(async () => {
    env = {
      DYNAMODB_PORT: String(await freePort()),
      LAMBDA_PORT: String(await freePort()),
      HUB_PORT: String(await freePort()),
      LOCAL_DATA_DIR: dataDir,
      // Short lifetimes so a scheduled refresh happens within seconds.
      HUB_TOKEN_LIFETIME_SECONDS: '8',
      BROKER_SETTINGS: JSON.stringify({
        scheduleIntervalMs: 1000,
        refreshAheadMs: 3000,
        refreshJitterMs: 0,
        minValiditySeconds: 1,
      }),
    };
    lambda = new LambdaClient({ ...LOCAL, endpoint: `http://127.0.0.1:${env.LAMBDA_PORT}` });
    dynamodb = new DynamoDBClient({ ...LOCAL, endpoint: `http://127.0.0.1:${env.DYNAMODB_PORT}` });
  });
  afterAll(() => {
    lambda.destroy();
    dynamodb.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function invoke(payload: unknown) {
    const response = await lambda.send(
      // As consumer "warehouse" of local/consumers.json: its alias, as in AWS.
      new InvokeCommand({ FunctionName: 'mint:warehouse', Payload: JSON.stringify(payload) }),
    );
    return {
      functionError: response.FunctionError,
      body: JSON.parse(Buffer.from(response.Payload ?? new Uint8Array()).toString('utf8')),
    };
  }

  async function storedToken(): Promise<string | undefined> {
    const { Item } = await dynamodb.send(
      new GetItemCommand({
        TableName: 'zaikio-tokens',
        Key: { pk: { S: `Org/${ORG}` }, sk: { S: 'default#warehouse.items.r' } },
        ConsistentRead: true,
      }),
    );
    return Item?.accessToken?.S;
  }

  it('mints, refreshes on schedule, refuses ungranted scopes, and keeps tokens across a restart', async () => {
    const first = await start(env);
    let lastToken: string | undefined;
    try {
      expect(first.output()).toContain(`http://127.0.0.1:${env.LAMBDA_PORT}`);
      expect(first.output()).toContain('curl -s -X POST');

      const minted = await invoke({ scope: SCOPE });
      expect(minted.functionError).toBeUndefined();
      expect(minted.body).toMatchObject({ tokenType: 'Bearer', bearer: { type: 'Organization', id: ORG } });
      expect(await storedToken()).toBe(minted.body.accessToken);

      // Asked again past its check point (half its life), the token is in use: the scheduled sweep
      // and worker replace it before it expires.
      const checkAt = useCheckAt({
        issuedAt: Date.parse(minted.body.issuedAt),
        expiresAt: Date.parse(minted.body.expiresAt),
      });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, checkAt - Date.now() + 100)));
      const again = await invoke({ scope: SCOPE });
      expect(again.body.accessToken).toBe(minted.body.accessToken);
      await waitFor(
        async () => (await storedToken()) !== minted.body.accessToken,
        20_000,
        () => `no scheduled refresh; output:\n${first.output()}`,
      );
      // …and say so in one readable line.
      await waitFor(
        () =>
          /refresh +Org\/b1475f65\S* default#warehouse\.items\.r +(refreshed|fell-back)/.test(first.output()),
        5_000,
        () => `no refresh line; output:\n${first.output()}`,
      );

      // Granted by the consumer's grant (warehouse.*), not by the organization at the Hub.
      const refused = await invoke({ organizationId: ORG, scopes: ['warehouse.orders.r'] });
      expect(refused.functionError).toBe('Unhandled');
      expect(refused.body.errorType).toBe('ScopeNotGrantedError');
      // Another organization: the consumer's grant refuses it before the Hub is asked.
      const denied = await invoke({ organizationId: 'aaaa-bbbb', scopes: ['warehouse.items.r'] });
      expect(denied.body.errorType).toBe('AccessDeniedError');
      expect(denied.body.errorMessage).toContain('code=bearer_not_allowed');
      expect(first.output()).toContain('mint:warehouse');
      lastToken = await storedToken();
      expect(first.output()).not.toContain(minted.body.accessToken);
    } finally {
      expect(await stop(first)).toBe(0);
    }
    expect(first.output()).toContain('stopped');

    const second = await start(env);
    try {
      const kept = await storedToken();
      expect(kept).toBeDefined();
      // The stored token survived; it may have been refreshed again right after the restart.
      expect([lastToken, await storedToken()]).toContain(kept);
    } finally {
      expect(await stop(second)).toBe(0);
    }
  }, 120_000);
});
