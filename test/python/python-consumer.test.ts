/**
 * The Python consumer module (examples/python/zaikio_token_client.py) against real local parts:
 * dynalite and the Hub simulator (test/support/harness.ts), the real mint handler behind the local
 * Lambda endpoint. A Python script (test/python/consumer_check.py) uses the module as a new user
 * would, with the environment `npm start` prints and the endpoints passed by hand, and reports each
 * step as JSON: where the token came from, its sha256 digest (never the token), the AWS calls made.
 *
 * Python: /usr/bin/python3 with Debian's python3-boto3 (the version the docs target), else a
 * `python3` on PATH that has boto3. Skipped only where there is no Python at all; a Python without
 * boto3 fails with what to install, so CI cannot pass by not running the module.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../functions/core/broker.js';
import { createMintHandler } from '../../functions/mint/handler.js';
import { type LambdaEndpoint, startLambdaEndpoint } from '../../local/lambda-endpoint.js';
import { createReadableLogger } from '../../local/readable-logger.js';
import { runToExit } from '../support/child-process.js';
import { CLIENT_SECRET, type Harness, ORG, startHarness, TEST_CONSUMER } from '../support/harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PERSON = '6c0a9f3e-58b1-4c3d-9e2a-7b4d1f0c8a26';
/** Not `mint`: the module must take the name from MINT_FUNCTION_NAME, not assume it. */
const MINT_FUNCTION = 'zaikio-token-mint';

interface PythonChoice {
  readonly python?: string;
  readonly skip?: string;
  readonly problem?: string;
}

function canRun(python: string, code: string): boolean {
  return spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 30_000 }).status === 0;
}

function choosePython(): PythonChoice {
  const candidates = [
    ...(existsSync('/usr/bin/python3') ? ['/usr/bin/python3'] : []),
    ...(canRun('python3', 'import sys') ? ['python3'] : []),
  ];
  if (candidates.length === 0)
    return { skip: 'no Python 3 on this machine (neither /usr/bin/python3 nor python3 on PATH)' };
  const withBoto3 = candidates.find((python) => canRun(python, 'import boto3'));
  if (withBoto3 !== undefined) return { python: withBoto3 };
  return {
    problem:
      `${candidates.join(' and ')} cannot import boto3: install Debian's python3-boto3 ` +
      '(apt-get install python3-boto3; .ci/run does this) or boto3 for that Python',
  };
}

const choice = choosePython();
if (choice.skip !== undefined) console.warn(`skipping the Python consumer test: ${choice.skip}`);

interface Step {
  readonly step: string;
  readonly source?: string;
  readonly digest?: string;
  readonly scopes?: string[];
  readonly validForSeconds?: number;
  readonly repr?: string;
  readonly micros: number;
  readonly calls: { GetItem: number; UpdateItem: number; Invoke: number; other: number };
  readonly error?: {
    readonly class: string;
    readonly isBrokerError: boolean;
    readonly code: string;
    readonly details: Record<string, unknown>;
    readonly transient: boolean;
    readonly message: string;
  };
}

/**
 * Runs the script without blocking this process: the broker it talks to (dynalite, the simulator,
 * the Lambda endpoint) answers from this process's event loop, which spawnSync would stall.
 */
function runScript(
  python: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return runToExit(python, args, { cwd: ROOT, env }).then(({ code, stdout, stderr }) => ({
    status: code,
    stdout,
    stderr,
  }));
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe.skipIf(choice.skip !== undefined)('the Python consumer module against the local broker', () => {
  let harness: Harness;
  let endpoint: LambdaEndpoint;
  const logs: string[] = [];

  beforeAll(async () => {
    harness = await startHarness({
      hub: {
        grants: [
          { bearer: `Org/${ORG}`, scopes: ['warehouse.items.r', 'zaikio.organization.r'] },
          { bearer: `Per/${PERSON}`, scopes: ['zaikio.person.r'] },
        ],
      },
    });
    // One mint container, built on its first invocation like the real handler's broker.
    let broker: Broker | undefined;
    const mint = createMintHandler(
      () => {
        broker ??= harness.broker();
        return broker;
      },
      createReadableLogger((line) => logs.push(line)),
    );
    endpoint = await startLambdaEndpoint({
      functions: { [MINT_FUNCTION]: mint as (event: unknown) => Promise<unknown> },
    });
  });

  afterAll(async () => {
    await endpoint?.stop();
    await harness?.stop();
  });

  async function storedToken(pk: string, sk: string): Promise<string | undefined> {
    const dynamodb = harness.dynamo.client();
    try {
      const { Item } = await dynamodb.send(
        new GetItemCommand({
          TableName: harness.config.tableName,
          Key: { pk: { S: pk }, sk: { S: sk } },
          ConsistentRead: true,
        }),
      );
      return Item?.accessToken?.S;
    } finally {
      dynamodb.destroy();
    }
  }

  it('gets, remembers, re-reads and refreshes tokens, and raises the typed errors', async () => {
    if (choice.python === undefined) throw new Error(choice.problem);
    const invocationsBefore = endpoint.invocations(MINT_FUNCTION);
    const missing = join(ROOT, 'test', 'python', 'no-such-aws-config');
    // What `npm start` prints, with this test's table and function; no profile or config file.
    const result = await runScript(
      choice.python,
      [join(ROOT, 'test/python/consumer_check.py'), ORG, PERSON],
      {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        PYTHONPATH: join(ROOT, 'examples/python'),
        // No __pycache__ next to the example module.
        PYTHONDONTWRITEBYTECODE: '1',
        AWS_REGION: 'local',
        AWS_DEFAULT_REGION: 'local',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: harness.dynamo.endpoint,
        AWS_ENDPOINT_URL_LAMBDA: endpoint.url,
        AWS_CONFIG_FILE: missing,
        AWS_SHARED_CREDENTIALS_FILE: missing,
        TOKENS_TABLE_NAME: harness.config.tableName,
        // The alias of the consumer the harness grants, as grantTokenAccess sets it in AWS.
        MINT_FUNCTION_NAME: `${MINT_FUNCTION}:${TEST_CONSUMER}`,
      },
    );
    expect(result.stderr, 'the script wrote to stderr').toBe('');
    expect(result.status).toBe(0);
    const records = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Step & Record<string, unknown>);
    const steps = new Map(records.map((record) => [record.step, record]));
    const at = (name: string): Step => {
      const found = steps.get(name);
      if (found === undefined) throw new Error(`no step "${name}" in:\n${result.stdout}`);
      return found;
    };

    // The boto3 the docs describe: before 1.28 the endpoint variables are ignored.
    const environment = at('environment') as unknown as Record<string, string | boolean>;
    console.info(
      `Python consumer tested with Python ${environment.python}, boto3 ${environment.boto3}, botocore ${environment.botocore}`,
    );
    expect(environment.regionFromEnvironment).toBe('local');
    const [major = 0, minor = 0] = String(environment.boto3).split('.').map(Number);
    expect(environment.endpointFromEnvironment).toBe(major > 1 || (major === 1 && minor >= 28));

    const orgToken = await storedToken(`Org/${ORG}`, 'default#warehouse.items.r');
    const personToken = await storedToken(`Per/${PERSON}`, 'default#zaikio.person.r');
    expect(orgToken).toBeDefined();
    expect(personToken).toBeDefined();

    const first = at('organization first');
    expect(first).toMatchObject({
      source: 'mint',
      calls: { GetItem: 1, UpdateItem: 0, Invoke: 1, other: 0 },
    });
    expect(first.scopes).toEqual(['warehouse.items.r']);
    expect(first.validForSeconds).toBeGreaterThan(500);
    // The token stays out of repr(), so logging the object does not log the token.
    expect(first.repr).toMatch(
      /^AccessToken\(expires_at=\d+, scopes=\('warehouse\.items\.r',\), source='mint'/,
    );

    // Served from memory: no request sent at all (the time is reported, not asserted).
    const again = at('organization again');
    expect(again).toMatchObject({
      source: 'memory',
      calls: { GetItem: 0, UpdateItem: 0, Invoke: 0, other: 0 },
    });
    console.info(
      `Python memory hit: ${again.micros} µs; table read: ${at('organization after memory reset').micros} µs`,
    );
    expect(at('organization scope string')).toMatchObject({ source: 'memory', digest: first.digest });
    expect(at('organization after memory reset')).toMatchObject({
      source: 'table',
      calls: { GetItem: 1, UpdateItem: 0, Invoke: 0, other: 0 },
      digest: first.digest,
    });
    expect(at('organization from a new client')).toMatchObject({ source: 'table', digest: first.digest });

    // The use report (rule 4 of docs/consumers.md): an Event Invoke of the mint, once per token.
    expect(at('organization past its check point')).toMatchObject({
      source: 'table',
      calls: { GetItem: 1, UpdateItem: 0, Invoke: 1, other: 0 },
      digest: first.digest,
    });
    expect(at('organization past its check point again')).toMatchObject({
      source: 'memory',
      calls: { GetItem: 0, UpdateItem: 0, Invoke: 0, other: 0 },
    });

    expect(at('organization remembered past its check point')).toMatchObject({
      source: 'memory',
      calls: { GetItem: 1, UpdateItem: 0, Invoke: 1, other: 0 },
      digest: first.digest,
    });
    expect(at('organization remembered, checked')).toMatchObject({
      source: 'memory',
      calls: { GetItem: 0, UpdateItem: 0, Invoke: 0, other: 0 },
    });

    expect(at('person first')).toMatchObject({ source: 'mint', scopes: ['zaikio.person.r'] });
    expect(at('person after memory reset')).toMatchObject({
      source: 'table',
      calls: { GetItem: 1, Invoke: 0, other: 0 },
    });
    expect(at('person first').digest).toBe(sha256(personToken ?? ''));

    expect(at('ungranted scope').error).toMatchObject({
      class: 'ScopeNotGrantedError',
      isBrokerError: true,
      code: 'scope_not_granted',
      transient: false,
      details: { hubCodes: ['ungranted_scope'], missingScopes: [`Org/${ORG}.procurement.orders.r`] },
    });
    expect(at('unknown organization').error).toMatchObject({
      class: 'ScopeNotGrantedError',
      details: { hubCodes: ['bearer_does_not_exist'] },
    });
    // Refused before any network call.
    expect(at('malformed scope')).toMatchObject({
      error: { class: 'InvalidRequestError', code: 'malformed_scope', transient: false },
      calls: { GetItem: 0, Invoke: 0, other: 0 },
    });
    expect(at('two bearer forms')).toMatchObject({
      error: { class: 'InvalidRequestError', code: 'invalid_request' },
      calls: { GetItem: 0, Invoke: 0, other: 0 },
    });
    // Refused by the mint function: the errorType and the [code=… details=…] suffix come back typed.
    expect(at('unknown client')).toMatchObject({
      error: { class: 'InvalidRequestError', code: 'unknown_client' },
      calls: { GetItem: 1, Invoke: 1 },
    });
    expect(at('unknown client').error?.message).not.toContain('[code=');
    expect(at('wrong function name').error).toMatchObject({
      class: 'InvalidRequestError',
      code: 'invalid_request',
    });
    expect(at('wrong function name').error?.message).toContain('MINT_FUNCTION_NAME');

    // A refused token is replaced once; a second refusal of the same token gets the new one from memory.
    const refreshed = at('force refresh');
    expect(refreshed).toMatchObject({ source: 'mint', calls: { GetItem: 0, Invoke: 1 } });
    expect(refreshed.digest).not.toBe(first.digest);
    const latest = await storedToken(`Org/${ORG}`, 'default#warehouse.items.r');
    expect(refreshed.digest).toBe(sha256(latest ?? ''));
    expect(at('force refresh of an already replaced token')).toMatchObject({
      source: 'memory',
      digest: refreshed.digest,
      calls: { GetItem: 0, Invoke: 0 },
    });

    // The mint function ran exactly as often as the script counted Invokes (memory and table hits
    // sent none); the Invoke of a function that does not exist reached no function.
    const counted = records
      .filter((record) => record.step !== 'wrong function name')
      .reduce((sum, record) => sum + (record.calls?.Invoke ?? 0), 0);
    expect(endpoint.invocations(MINT_FUNCTION) - invocationsBefore).toBe(counted);

    // No token or secret in anything the script or the mint function printed.
    const printed = `${result.stdout}${result.stderr}${logs.join('\n')}`;
    for (const secret of [orgToken, personToken, latest, CLIENT_SECRET]) {
      expect(printed).not.toContain(secret);
    }
    // The first organization token is known here only by its digest: no JWT at all may appear.
    expect(orgToken).toMatch(/^eyJ/);
    expect(printed).not.toMatch(/eyJ[\w-]+\.[\w-]+/);
  }, 180_000);
});
