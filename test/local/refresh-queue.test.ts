/**
 * The local refresh queue against what SQS and Lambda's event source do with a partial batch
 * response: deletes what succeeded, redelivers what failed after the visibility timeout, and moves a
 * message to the dead-letter queue after the stack's maxReceiveCount. A fake clock moves time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalRefreshQueue, REFRESH_MAX_RECEIVE_COUNT } from '../../local/refresh-queue.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const KEY_A = { pk: 'Org/b1475f65-236c-58b8-96e1-e1778b43beb7', sk: 'default#warehouse.items.r' };
const KEY_B = { pk: 'Org/0d5e2c1a-7f43-4b8e-9a61-3c2b1f0e9d87', sk: 'default#warehouse.items.r' };

function queueWithClock(visibilityTimeoutMs = 1_000) {
  let now = 1_000_000;
  const queue = new LocalRefreshQueue(10, { visibilityTimeoutMs, clock: () => now });
  return { queue, advance: (ms: number) => (now += ms) };
}

const failAll = (event: { Records: { messageId: string }[] }) => ({
  batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })),
});

describe('the local refresh queue', () => {
  it('deletes the messages of a successful batch', async () => {
    const { queue, advance } = queueWithClock();
    await queue.send([[KEY_A], [KEY_B]]);
    const event = queue.receive();
    expect(event?.Records).toHaveLength(2);
    expect(queue.depths()).toEqual({ visible: 0, inFlight: 2, deadLetter: 0 });
    queue.settle(event as NonNullable<typeof event>, { batchItemFailures: [] });
    advance(10_000);
    expect(queue.receive()).toBeUndefined();
    expect(queue.depths()).toEqual({ visible: 0, inFlight: 0, deadLetter: 0 });
    expect(await queue.pendingKeys()).toBe(0);
  });

  it('redelivers only the failed item, after the visibility timeout, with its receive count', async () => {
    const { queue, advance } = queueWithClock(1_000);
    await queue.send([[KEY_A], [KEY_B]]);
    const first = queue.receive();
    const [a, b] = first?.Records ?? [];
    expect(a?.attributes.ApproximateReceiveCount).toBe('1');
    queue.settle(first as NonNullable<typeof first>, {
      batchItemFailures: [{ itemIdentifier: b?.messageId ?? '' }],
    });
    // In flight: invisible, and still counted by the sweeper as SQS counts NotVisible messages.
    expect(queue.receive()).toBeUndefined();
    expect(await queue.pendingKeys()).toBe(10);
    advance(999);
    expect(queue.receive()).toBeUndefined();
    advance(1);
    const again = queue.receive();
    expect(again?.Records.map((record) => record.messageId)).toEqual([b?.messageId]);
    expect(again?.Records[0]?.attributes.ApproximateReceiveCount).toBe('2');
    expect(JSON.parse(again?.Records[0]?.body ?? '{}')).toEqual({ keys: [KEY_B] });
  });

  it(`moves a message that failed ${REFRESH_MAX_RECEIVE_COUNT} times to the dead-letter queue`, async () => {
    const { queue, advance } = queueWithClock(500);
    await queue.send([[KEY_A]]);
    for (let receive = 1; receive <= REFRESH_MAX_RECEIVE_COUNT; receive += 1) {
      const event = queue.receive();
      expect(event?.Records[0]?.attributes.ApproximateReceiveCount).toBe(String(receive));
      queue.settle(event as NonNullable<typeof event>, failAll(event as NonNullable<typeof event>));
      advance(500);
    }
    expect(queue.receive()).toBeUndefined();
    expect(queue.depths()).toEqual({ visible: 0, inFlight: 0, deadLetter: 1 });
    expect(await queue.pendingKeys()).toBe(0);
    expect(queue.deadLetters()).toEqual([
      expect.objectContaining({ keys: [`${KEY_A.pk} ${KEY_A.sk}`], receiveCount: REFRESH_MAX_RECEIVE_COUNT }),
    ]);
  });

  it('fails the whole batch when the invocation throws or names a message not in the batch', async () => {
    const { queue, advance } = queueWithClock(100);
    await queue.send([[KEY_A], [KEY_B]]);
    const thrown = queue.receive();
    queue.settle(thrown as NonNullable<typeof thrown>, undefined);
    advance(100);
    const unknown = queue.receive();
    expect(unknown?.Records).toHaveLength(2);
    queue.settle(unknown as NonNullable<typeof unknown>, {
      batchItemFailures: [{ itemIdentifier: 'not-in-batch' }],
    });
    advance(100);
    expect(queue.receive()?.Records.map((record) => record.attributes.ApproximateReceiveCount)).toEqual([
      '3',
      '3',
    ]);
  });

  it('take() receives and deletes at once, for callers that track completion themselves', async () => {
    const { queue, advance } = queueWithClock(100);
    await queue.send([[KEY_A]]);
    expect(queue.take()?.Records).toHaveLength(1);
    advance(1_000);
    expect(queue.take()).toBeUndefined();
    expect(queue.depths()).toEqual({ visible: 0, inFlight: 0, deadLetter: 0 });
  });

  it('dead-letters after as many receives as the stack’s refresh queue', () => {
    // infra/ exports no constant local/ could import without CDK: the literal there must match ours.
    const infra = path.join(ROOT, 'infra');
    const counts = readdirSync(infra)
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) => [
        ...readFileSync(path.join(infra, file), 'utf8').matchAll(/maxReceiveCount:\s*(\d+)/g),
      ])
      .map((match) => Number(match[1]));
    expect(
      counts.length,
      'no literal maxReceiveCount in infra/: import the constant instead',
    ).toBeGreaterThan(0);
    expect(new Set(counts)).toEqual(new Set([REFRESH_MAX_RECEIVE_COUNT]));
  });
});
