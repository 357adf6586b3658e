import { GetQueueAttributesCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { encodeRefreshMessage } from '../core/refresh/messages.js';
import type { RefreshQueue } from '../core/refresh/sweeper.js';
import type { TokenKey } from '../core/store/key.js';

/** SQS's limit per SendMessageBatch call. */
const MAX_BATCH = 10;

/** The refresh queue on SQS. Messages SQS did not accept are left due; the next sweep sends them again. */
export class SqsRefreshQueue implements RefreshQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly keysPerMessage: number,
  ) {}

  async pendingKeys(): Promise<number> {
    const { Attributes = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    const messages =
      Number(Attributes.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
    return Number.isFinite(messages) ? messages * this.keysPerMessage : 0;
  }

  async send(
    messages: readonly (readonly TokenKey[])[],
    options: { readonly sweptAt?: number } = {},
  ): Promise<number> {
    const batches: (readonly TokenKey[])[][] = [];
    for (let i = 0; i < messages.length; i += MAX_BATCH) batches.push(messages.slice(i, i + MAX_BATCH));
    const accepted = await Promise.all(
      batches.map(async (batch) => {
        const { Failed = [] } = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: batch.map((keys, index) => ({
              Id: String(index),
              MessageBody: encodeRefreshMessage(keys, options.sweptAt),
            })),
          }),
        );
        const failed = new Set(Failed.map((entry) => entry.Id));
        return batch.reduce((sum, keys, index) => sum + (failed.has(String(index)) ? 0 : keys.length), 0);
      }),
    );
    return accepted.reduce((sum, count) => sum + count, 0);
  }
}
