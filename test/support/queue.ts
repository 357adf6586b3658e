/**
 * SQS has no local implementation here, so the queue between sweeper and workers is the SDK client
 * mocked with aws-sdk-client-mock: it keeps what the sweeper sends and hands it out as the SQS
 * events Lambda delivers to the worker.
 */
import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { SqsRefreshQueue } from '../../functions/sweep/sqs-queue.js';
import { sqsRecord } from '../../local/refresh-queue.js';

export { sqsRecord };

export const QUEUE_URL = 'https://sqs.local/000000000000/refresh';

export interface TestQueue {
  readonly sqs: SQSClient;
  /** Messages sent and not yet taken. */
  readonly waiting: string[];
  sentMessages(): number;
  /** Up to `batchSize` waiting messages as one Lambda SQS event. */
  takeEvent(batchSize?: number): SQSEvent | undefined;
  restore(): void;
}

export function createTestQueue(): TestQueue {
  const sqs = new SQSClient({ region: 'local' });
  const mock = mockClient(sqs);
  const waiting: string[] = [];
  let sent = 0;
  mock
    .on(SendMessageBatchCommand)
    .callsFake((input: { Entries?: Array<{ Id?: string; MessageBody?: string }> }) => {
      const entries = input.Entries ?? [];
      for (const entry of entries) waiting.push(entry.MessageBody ?? '');
      sent += entries.length;
      return { Successful: entries.map((entry) => ({ Id: entry.Id, MessageId: randomUUID() })), Failed: [] };
    });
  mock.on(GetQueueAttributesCommand).callsFake(() => ({
    Attributes: {
      ApproximateNumberOfMessages: String(waiting.length),
      ApproximateNumberOfMessagesNotVisible: '0',
    },
  }));
  return {
    sqs,
    waiting,
    sentMessages: () => sent,
    takeEvent(batchSize = 10) {
      const bodies = waiting.splice(0, batchSize);
      return bodies.length === 0 ? undefined : { Records: bodies.map(sqsRecord) };
    },
    restore: () => mock.restore(),
  };
}

/** The sweeper's real SQS adapter over the mocked client. */
export function refreshQueue(queue: TestQueue, keysPerMessage = 10): SqsRefreshQueue {
  return new SqsRefreshQueue(queue.sqs, QUEUE_URL, keysPerMessage);
}
