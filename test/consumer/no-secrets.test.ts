/**
 * Rule 5 on the consumer path: with the real mint handler logging as it does in Lambda, nothing
 * written to stdout or stderr, no endpoint log line and no error message holds a token or secret.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createLogger } from '../../functions/core/logger.js';
import { CLIENT_SECRET, ORG, OTHER_ORG } from '../support/harness.js';
import { type ConsumerFixture, ITEMS_READ, startConsumerFixture } from './fixture.js';

let fx: ConsumerFixture;
const output: string[] = [];

beforeEach(async () => {
  output.length = 0;
  fx = await startConsumerFixture({ logger: createLogger(), log: (line) => output.push(line) });
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

afterEach(async () => {
  vi.restoreAllMocks();
  await fx.stop();
});

it('no token, refresh token or client secret appears in any output or error message', async () => {
  const secrets = new Set<string>([CLIENT_SECRET]);
  const errors: string[] = [];
  const collect = async () => {
    const item = await fx.fullItem();
    for (const value of [item?.accessToken?.S, item?.refreshToken?.S]) if (value) secrets.add(value);
  };

  const consumer = fx.consumer();
  const minted = await consumer.getAccessToken(ITEMS_READ);
  await collect();
  await fx.consumer().getAccessToken(ITEMS_READ);
  const forced = await consumer.forceRefresh(ITEMS_READ, { rejectedToken: minted.accessToken });
  await collect();
  fx.harness.hub.inject({ fault: { kind: 'status', status: 503 } });
  await consumer.forceRefresh(ITEMS_READ).catch((error: Error) => errors.push(error.message));
  fx.harness.hub.clearFaults();
  await fx
    .consumer()
    .getAccessToken({ organizationId: OTHER_ORG, scopes: ['warehouse.items.r'] })
    .catch((error: Error) => errors.push(error.message));
  fx.harness.hub.revoke(`Org/${ORG}`);
  await consumer
    .forceRefresh(ITEMS_READ, { rejectedToken: forced.accessToken })
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
