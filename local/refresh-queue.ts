/**
 * The queue between sweeper and workers, in process: what SQS is in AWS. Messages leave it as the
 * SQS events Lambda would deliver, so the real refresh handler runs unchanged.
 */
import { randomUUID } from 'node:crypto';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { encodeRefreshMessage } from '../functions/core/refresh/messages.js';
import type { RefreshQueue } from '../functions/core/refresh/sweeper.js';
import type { TokenKey } from '../functions/core/store/key.js';

/** One SQS record as Lambda's event source delivers it. */
export function sqsRecord(body: string): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: now,
      SenderId: 'sweeper',
      ApproximateFirstReceiveTimestamp: now,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:local:000000000000:refresh',
    awsRegion: 'local',
  };
}

export class LocalRefreshQueue implements RefreshQueue {
  readonly #bodies: string[] = [];

  constructor(private readonly keysPerMessage: number) {}

  async pendingKeys(): Promise<number> {
    return this.#bodies.length * this.keysPerMessage;
  }

  async send(messages: readonly (readonly TokenKey[])[]): Promise<number> {
    for (const keys of messages) this.#bodies.push(encodeRefreshMessage(keys));
    return messages.reduce((sum, keys) => sum + keys.length, 0);
  }

  /** Up to `batchSize` messages as one SQS event, or undefined when the queue is empty. */
  take(batchSize = 10): SQSEvent | undefined {
    const bodies = this.#bodies.splice(0, batchSize);
    return bodies.length === 0 ? undefined : { Records: bodies.map(sqsRecord) };
  }
}
