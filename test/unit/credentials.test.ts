import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ClientCredentials,
  CredentialsProvider,
  type CredentialsProviderOptions,
  parseCredentialsSecret,
} from '../../functions/core/credentials.js';
import { type BrokerError, InvalidClientError, InvalidRequestError } from '../../functions/core/errors.js';

const SECRET = 'S3cr3t-Value-9b7e41f0';
const ID = 'client-id-4412';
const secretJson = (clientId: unknown = ID, clientSecret: unknown = SECRET): string =>
  JSON.stringify({ clientId, clientSecret });

function thrown(fn: () => unknown): BrokerError {
  try {
    fn();
  } catch (error) {
    return error as BrokerError;
  }
  throw new Error('expected a throw');
}

async function rejected(promise: Promise<unknown>): Promise<BrokerError> {
  try {
    await promise;
  } catch (error) {
    return error as BrokerError;
  }
  throw new Error('expected a rejection');
}

/** Every way an error may be logged; none may contain `secret`. */
function expectNoSecret(error: unknown, secret: string): void {
  for (const view of [
    (error as Error).message,
    String(error),
    JSON.stringify(error),
    inspect(error, { depth: 10 }),
  ]) {
    expect(view).not.toContain(secret);
  }
}

function expectMalformed(error: BrokerError, fragment: string): void {
  expect(error).toBeInstanceOf(InvalidClientError);
  expect(error.name).toBe('InvalidClientError');
  expect(error.code).toBe('secret_malformed');
  expect(error.transient).toBe(false);
  expect(error.message).toContain('client "app"');
  expect(error.message).toContain(fragment);
}

describe('parseCredentialsSecret', () => {
  it('parses a valid secret', () => {
    const credentials = parseCredentialsSecret(secretJson(), 'app');
    expect(credentials).toBeInstanceOf(ClientCredentials);
    expect(credentials.clientId).toBe(ID);
    expect(credentials.basicAuthorization()).toBe(
      `Basic ${Buffer.from(`${ID}:${SECRET}`).toString('base64')}`,
    );
  });

  it('ignores extra keys', () => {
    expect(
      parseCredentialsSecret(JSON.stringify({ clientId: ID, clientSecret: SECRET, note: 'x' }), 'app')
        .clientId,
    ).toBe(ID);
  });

  it('names a missing clientId', () => {
    const error = thrown(() => parseCredentialsSecret(JSON.stringify({ clientSecret: SECRET }), 'app'));
    expectMalformed(error, 'has no "clientId" key');
    expectNoSecret(error, SECRET);
  });

  it('names a missing clientSecret', () => {
    const error = thrown(() => parseCredentialsSecret(JSON.stringify({ clientId: ID }), 'app'));
    expectMalformed(error, 'has no "clientSecret" key');
    expectNoSecret(error, ID);
  });

  it('rejects a value that is not JSON without echoing it', () => {
    const value = `clientId=${ID} clientSecret=${SECRET}`;
    const error = thrown(() => parseCredentialsSecret(value, 'app'));
    expectMalformed(error, 'not valid JSON');
    expectNoSecret(error, SECRET);
  });

  it('rejects a JSON array, null, a string and a number', () => {
    for (const value of [JSON.stringify([ID, SECRET]), 'null', JSON.stringify(SECRET), '42']) {
      const error = thrown(() => parseCredentialsSecret(value, 'app'));
      expectMalformed(error, 'must be a JSON object');
      expectNoSecret(error, SECRET);
    }
  });

  it('rejects a binary secret', () => {
    const error = thrown(() => parseCredentialsSecret(new TextEncoder().encode(secretJson()), 'app'));
    expectMalformed(error, 'not binary');
  });

  it.each([
    ['a ":" in clientSecret', ID, `${SECRET}:tail`, 'clientSecret'],
    ['a space in clientSecret', ID, `${SECRET} tail`, 'clientSecret'],
    ['a newline in clientSecret', ID, `${SECRET}\n`, 'clientSecret'],
    ['an empty clientSecret', ID, '', 'clientSecret'],
    ['a blank clientSecret', ID, '   ', 'clientSecret'],
    ['a numeric clientSecret', ID, 123456, 'clientSecret'],
    ['a null clientSecret', ID, null, 'clientSecret'],
    ['a ":" in clientId', `${ID}:x`, SECRET, 'clientId'],
    ['a space in clientId', `${ID} x`, SECRET, 'clientId'],
    ['an empty clientId', '', SECRET, 'clientId'],
  ])('rejects %s, naming the key but not the value', (_label, clientId, clientSecret, key) => {
    const error = thrown(() => parseCredentialsSecret(secretJson(clientId, clientSecret), 'app'));
    expectMalformed(error, `"${key}" must be a non-empty string`);
    if (typeof clientSecret === 'string' && clientSecret.trim() !== '')
      expectNoSecret(error, clientSecret.trim());
    expectNoSecret(error, SECRET);
  });
});

describe('ClientCredentials', () => {
  const credentials = new ClientCredentials(ID, SECRET);

  it('does not leak the secret through JSON.stringify', () => {
    expect(JSON.stringify(credentials)).toBe(`{"clientId":"${ID}","clientSecret":"[redacted]"}`);
    expect(JSON.stringify({ nested: [credentials] })).not.toContain(SECRET);
  });

  it('does not leak the secret through util.inspect, with or without custom inspection', () => {
    expect(inspect(credentials)).toBe(`ClientCredentials { clientId: '${ID}', clientSecret: [redacted] }`);
    expect(inspect({ a: { b: credentials } }, { depth: 10, showHidden: true })).not.toContain(SECRET);
    expect(inspect(credentials, { customInspect: false, showHidden: true })).not.toContain(SECRET);
  });

  it('does not leak the secret through String() or template strings', () => {
    expect(String(credentials)).not.toContain(SECRET);
    expect(`${credentials}`).not.toContain(SECRET);
    expect(`value: ${String(credentials)}`).not.toContain(SECRET);
  });

  it('does not leak the secret through util.format or console.log', () => {
    for (const spec of ['%s', '%o', '%O', '%j']) expect(format(spec, credentials)).not.toContain(SECRET);
    const chunks: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    const logger = new Console({ stdout: sink, stderr: sink });
    logger.log(credentials);
    logger.log('credentials %o', credentials);
    logger.log({ credentials });
    logger.error(credentials);
    logger.dir(credentials, { depth: 5 });
    logger.table([credentials]);
    const output = chunks.join('');
    expect(output).toContain(ID);
    expect(output).not.toContain(SECRET);
  });

  it('does not expose the secret as a property', () => {
    expect(Object.keys(credentials)).toEqual(['clientId']);
    expect(Object.values(credentials)).not.toContain(SECRET);
    expect({ ...credentials }).toEqual({ clientId: ID });
    expect(JSON.stringify(structuredClone(credentials))).not.toContain(SECRET);
  });

  it('compares id and secret in sameAs', () => {
    expect(credentials.sameAs(new ClientCredentials(ID, SECRET))).toBe(true);
    expect(credentials.sameAs(new ClientCredentials(ID, `${SECRET}x`))).toBe(false);
    expect(credentials.sameAs(new ClientCredentials(`${ID}x`, SECRET))).toBe(false);
  });
});

describe('CredentialsProvider with a mocked Secrets Manager', () => {
  const secretsManager = new SecretsManagerClient({ region: 'local' });
  const sm = mockClient(secretsManager);
  const reads = (secretId?: string): number =>
    sm
      .commandCalls(GetSecretValueCommand)
      .filter((call) => secretId === undefined || call.args[0].input.SecretId === secretId).length;

  beforeEach(() => {
    sm.reset();
    sm.on(GetSecretValueCommand, { SecretId: 'zaikio/main' }).resolves({ SecretString: secretJson() });
    sm.on(GetSecretValueCommand, { SecretId: 'zaikio/other' }).resolves({
      SecretString: secretJson('other-id', 'other-secret'),
    });
  });
  afterEach(() => {
    sm.reset();
  });

  const provider = (options: Partial<CredentialsProviderOptions> = {}): CredentialsProvider =>
    new CredentialsProvider({
      clients: { main: 'zaikio/main', other: 'zaikio/other' },
      defaultClient: 'main',
      maxAgeSeconds: 300,
      secretsManager,
      ...options,
    });

  it('reads and parses the secret', async () => {
    const credentials = await provider().get('main');
    expect(credentials.clientId).toBe(ID);
    expect(credentials.sameAs(new ClientCredentials(ID, SECRET))).toBe(true);
    expect(reads('zaikio/main')).toBe(1);
  });

  it('caches: two gets read the secret once', async () => {
    const p = provider();
    const first = await p.get('main');
    const second = await p.get('main');
    expect(second.sameAs(first)).toBe(true);
    expect(reads()).toBe(1);
  });

  it('caches each client separately', async () => {
    const p = provider();
    expect((await p.get('main')).clientId).toBe(ID);
    expect((await p.get('other')).clientId).toBe('other-id');
    await p.get('other');
    expect(reads('zaikio/main')).toBe(1);
    expect(reads('zaikio/other')).toBe(1);
  });

  it('does not cache with maxAgeSeconds 0', async () => {
    const p = provider({ maxAgeSeconds: 0 });
    await p.get('main');
    await p.get('main');
    expect(reads()).toBe(2);
  });

  it('re-reads after maxAge has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_700_000_000_000 });
    try {
      const p = provider({ maxAgeSeconds: 1 });
      await p.get('main');
      vi.setSystemTime(1_700_000_000_500);
      await p.get('main');
      expect(reads()).toBe(1);
      vi.setSystemTime(1_700_000_002_000);
      await p.get('main');
      expect(reads()).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('re-reads with forceFetch and then serves the new value from the cache', async () => {
    const p = provider();
    await p.get('main');
    sm.on(GetSecretValueCommand, { SecretId: 'zaikio/main' }).resolves({
      SecretString: secretJson(ID, 'rotated-1'),
    });
    expect((await p.get('main')).sameAs(new ClientCredentials(ID, SECRET))).toBe(true);
    const fresh = await p.get('main', { forceFetch: true });
    expect(fresh.sameAs(new ClientCredentials(ID, 'rotated-1'))).toBe(true);
    expect(reads()).toBe(2);
    expect((await p.get('main')).sameAs(fresh)).toBe(true);
    expect(reads()).toBe(2);
  });

  it('rejects an unknown client with unknown_client and reads nothing', async () => {
    const error = await rejected(provider().get('nobody'));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.code).toBe('unknown_client');
    expect(error.message).toContain('"nobody"');
    expect(reads()).toBe(0);
  });

  it('rejects a client name that is not a name', async () => {
    for (const name of ['Main', '', '../x', 'a b', 'x'.repeat(64)]) {
      const error = await rejected(provider().get(name));
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect(error.code).toBe('invalid_request');
    }
    expect(reads()).toBe(0);
  });

  it('resolves the default client', () => {
    expect(provider().resolveClient(undefined)).toBe('main');
    expect(provider({ defaultClient: 'other' }).resolveClient(undefined)).toBe('other');
    expect(provider().resolveClient('other')).toBe('other');
    expect(() => provider().resolveClient('nobody')).toThrow(InvalidRequestError);
  });

  it('uses the only client as the default', () => {
    const p = new CredentialsProvider({
      clients: { solo: 'zaikio/main' },
      maxAgeSeconds: 60,
      secretsManager,
    });
    expect(p.defaultClient).toBe('solo');
    expect(p.resolveClient(undefined)).toBe('solo');
  });

  it('refuses a configuration without clients, without a default, or with an unknown default', () => {
    const bad = (options: Partial<CredentialsProviderOptions>) => () => provider(options);
    expect(bad({ clients: {} })).toThrow(InvalidRequestError);
    expect(bad({ defaultClient: undefined })).toThrow('default Zaikio client');
    expect(bad({ defaultClient: 'nobody' })).toThrow('default Zaikio client');
    expect(bad({ clients: { 'Bad Name': 'x' }, defaultClient: 'Bad Name' })).toThrow(InvalidRequestError);
  });

  it('turns ResourceNotFoundException into secret_unavailable without the secret in the message', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'zaikio/main' }).rejects(
      new ResourceNotFoundException({
        message: `Secrets Manager can't find the specified secret. ${SECRET}`,
        $metadata: {},
      }),
    );
    const error = await rejected(provider().get('main'));
    expect(error).toBeInstanceOf(InvalidClientError);
    expect(error.name).toBe('InvalidClientError');
    expect(error.code).toBe('secret_unavailable');
    expect(error.transient).toBe(false);
    expect(error.message).toContain('client "main"');
    expect(error.message).toContain('ResourceNotFoundException');
    expect(error.message).not.toContain(SECRET);
    expect(JSON.stringify(error)).not.toContain(SECRET);
    expect(error.cause).toBeDefined();
  });

  it('turns a secret without a value into secret_unavailable', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'zaikio/main' }).resolves({});
    const error = await rejected(provider().get('main'));
    expect(error.code).toBe('secret_unavailable');
    expect(error.message).toContain('has no value');
  });

  it('turns a malformed stored value into secret_malformed without echoing it', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'zaikio/main' }).resolves({
      SecretString: JSON.stringify({ client_id: ID, client_secret: SECRET }),
    });
    const error = await rejected(provider().get('main'));
    expect(error.code).toBe('secret_malformed');
    expect(error.message).toContain('"clientId"');
    expectNoSecret(error, SECRET);
  });

  it('turns a binary secret into secret_malformed', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'zaikio/main' }).resolves({
      SecretBinary: new TextEncoder().encode(secretJson()),
    });
    const error = await rejected(provider().get('main'));
    expect(error.code).toBe('secret_malformed');
    expect(error.message).toContain('binary');
  });
});
