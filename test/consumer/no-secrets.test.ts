/**
 * Rule 5 on the consumer path: with the real mint handler logging as it does in Lambda, nothing
 * written to stdout or stderr, no endpoint log line and no error message holds a token or secret.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { createLogger } from '../../functions/core/logger.js';
import { CLIENT_SECRET } from '../support/harness.js';
import { type ConsumerFixture, startConsumerFixture } from './fixture.js';

let fx: ConsumerFixture;
const output: string[] = [];

beforeAll(async () => {
  fx = await startConsumerFixture({ logger: createLogger(), log: (line) => output.push(line) });
});

afterAll(async () => {
  await fx.stop();
});

beforeEach(() => {
  output.length = 0;
  fx.reset();
  const capture = (chunk: unknown) => {
    output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void output.push(args.join(' ')));
  }
});

afterEach(() => {
  vi.restoreAllMocks();
});

it('no token, refresh token or client secret appears in any output or error message', async () => {
  const secrets = new Set<string>([CLIENT_SECRET]);
  const errors: string[] = [];
  const collect = async () => {
    const item = await fx.fullItem();
    for (const value of [item?.accessToken?.S, item?.refreshToken?.S]) if (value) secrets.add(value);
  };

  const consumer = fx.consumer();
  const minted = await consumer.getAccessToken(fx.itemsRead);
  await collect();
  await fx.consumer().getAccessToken(fx.itemsRead);
  const forced = await consumer.forceRefresh(fx.itemsRead, { rejectedToken: minted.accessToken });
  await collect();
  fx.harness.hub.inject({ fault: { kind: 'status', status: 503 } });
  await consumer.forceRefresh(fx.itemsRead).catch((error: Error) => errors.push(error.message));
  fx.harness.hub.clearFaults();
  await fx
    .consumer()
    .getAccessToken({ organizationId: fx.otherOrg, scopes: ['warehouse.items.r'] })
    .catch((error: Error) => errors.push(error.message));
  fx.harness.hub.revoke(`Org/${fx.org}`);
  await consumer
    .forceRefresh(fx.itemsRead, { rejectedToken: forced.accessToken })
    .catch((error: Error) => errors.push(error.message));
  await collect();
  for (const token of [minted.accessToken, forced.accessToken]) secrets.add(token);

  const everything = [...output, ...errors].join('\n');
  expect(errors, errors.join(' | ')).toHaveLength(3);
  // The mint handler did log (one line per request) and the endpoint logged each invocation.
  expect(everything).toContain('token request');
  expect(everything).toContain('lambda POST');
  expect(secrets.size).toBeGreaterThanOrEqual(5);
  for (const secret of secrets) expect(everything).not.toContain(secret);
});
