/**
 * The queue between sweeper and workers, in process: what SQS is in AWS. Messages leave it as the
 * SQS events Lambda would deliver, so the real refresh handler runs unchanged, and it treats the
 * handler's answer as Lambda's SQS event source does (`reportBatchItemFailures`): a failed message
 * stays invisible for the visibility timeout, comes back, and after `maxReceiveCount` receives goes
 * to a dead-letter queue instead of being delivered again. Without this the local runtime would
 * hide what a deployed broker does with a message its worker keeps failing.
 */
import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { encodeRefreshMessage, parseRefreshMessage } from '../functions/core/refresh/messages.js';
import type { RefreshQueue } from '../functions/core/refresh/sweeper.js';
import { describeKey, type TokenKey } from '../functions/core/store/key.js';

/**
 * Receives before a message goes to the dead-letter queue. The stack sets the same number on its
 * refresh queue (`deadLetterQueue.maxReceiveCount` in infra/refresh-pipeline.ts), which exports no
 * constant that local/ could import without pulling in CDK; test/local/refresh-queue.test.ts fails
 * when the two differ.
 */
export const REFRESH_MAX_RECEIVE_COUNT = 3;

/**
 * The stack's visibility timeout is 6 × the refresh function's timeout (17 minutes by default):
 * locally a failed message comes back after 30 s, so a developer sees the retries and the
 * dead-lettering within minutes.
 */
export const LOCAL_VISIBILITY_TIMEOUT_MS = 30_000;

const QUEUE_ARN = 'arn:aws:sqs:local:000000000000:refresh';

/** One SQS record as Lambda's event source delivers it, on its first receive. */
export function sqsRecord(body: string): SQSRecord {
  return deliveredRecord(body, {});
}

function deliveredRecord(
  body: string,
  message: { readonly messageId?: string; readonly receiveCount?: number; readonly sentAt?: number },
): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: message.messageId ?? randomUUID(),
    receiptHandle: randomUUID(),
    body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount ?? 1),
      SentTimestamp: message.sentAt === undefined ? now : String(message.sentAt),
      SenderId: 'sweeper',
      ApproximateFirstReceiveTimestamp: now,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: QUEUE_ARN,
    awsRegion: 'local',
  };
}

export interface LocalRefreshQueueOptions {
  /** How long a received message stays invisible. @default LOCAL_VISIBILITY_TIMEOUT_MS */
  readonly visibilityTimeoutMs?: number;
  /** @default REFRESH_MAX_RECEIVE_COUNT */
  readonly maxReceiveCount?: number;
  /** Epoch ms; tests pass a fake one to move past the visibility timeout at once. @default Date.now */
  readonly clock?: () => number;
}

/** Message counts, as SQS's ApproximateNumberOfMessages… attributes report them. */
export interface QueueDepths {
  /** Waiting to be received. */
  readonly visible: number;
  /** Received, neither deleted nor visible again yet. */
  readonly inFlight: number;
  /** In the dead-letter queue. */
  readonly deadLetter: number;
}

/** A message in the dead-letter queue: its token keys (never a token: messages hold none). */
export interface DeadLetter {
  readonly messageId: string;
  readonly keys: readonly string[];
  readonly receiveCount: number;
  readonly sentAt: number;
  readonly deadLetteredAt: number;
}

interface Message {
  readonly id: string;
  readonly body: string;
  readonly sentAt: number;
  receiveCount: number;
  /** Invisible until then (in flight). */
  visibleAt: number;
}

export class LocalRefreshQueue implements RefreshQueue {
  readonly #messages: Message[] = [];
  readonly #deadLetters: DeadLetter[] = [];
  readonly #visibilityTimeoutMs: number;
  readonly #maxReceiveCount: number;
  readonly #clock: () => number;

  constructor(
    private readonly keysPerMessage: number,
    options: LocalRefreshQueueOptions = {},
  ) {
    this.#visibilityTimeoutMs = options.visibilityTimeoutMs ?? LOCAL_VISIBILITY_TIMEOUT_MS;
    this.#maxReceiveCount = options.maxReceiveCount ?? REFRESH_MAX_RECEIVE_COUNT;
    this.#clock = options.clock ?? Date.now;
  }

  get visibilityTimeoutMs(): number {
    return this.#visibilityTimeoutMs;
  }

  get maxReceiveCount(): number {
    return this.#maxReceiveCount;
  }

  /** Visible and in-flight messages, as SqsRefreshQueue counts them through GetQueueAttributes. */
  async pendingKeys(): Promise<number> {
    return this.#messages.length * this.keysPerMessage;
  }

  async send(
    messages: readonly (readonly TokenKey[])[],
    options: { readonly sweptAt?: number } = {},
  ): Promise<number> {
    const now = this.#clock();
    for (const keys of messages) {
      this.#messages.push({
        id: randomUUID(),
        body: encodeRefreshMessage(keys, options.sweptAt),
        sentAt: now,
        receiveCount: 0,
        visibleAt: now,
      });
    }
    return messages.reduce((sum, keys) => sum + keys.length, 0);
  }

  /**
   * Up to `batchSize` visible messages as one SQS event (undefined when none is visible); they stay
   * in flight until `settle`. A visible message already received `maxReceiveCount` times moves to the
   * dead-letter queue instead, as SQS's redrive policy does on the receive after the last one.
   */
  receive(batchSize = 10): SQSEvent | undefined {
    const now = this.#clock();
    const records: SQSRecord[] = [];
    for (let i = 0; i < this.#messages.length && records.length < batchSize; ) {
      const message = this.#messages[i] as Message;
      if (message.visibleAt > now) {
        i += 1;
        continue;
      }
      if (message.receiveCount >= this.#maxReceiveCount) {
        this.#messages.splice(i, 1);
        this.#deadLetters.push(deadLetter(message, now));
        continue;
      }
      message.receiveCount += 1;
      message.visibleAt = now + this.#visibilityTimeoutMs;
      records.push(
        deliveredRecord(message.body, {
          messageId: message.id,
          receiveCount: message.receiveCount,
          sentAt: message.sentAt,
        }),
      );
      i += 1;
    }
    return records.length === 0 ? undefined : { Records: records };
  }

  /**
   * What Lambda's event source does with the handler's answer: deletes the messages that did not
   * fail; the failed ones stay invisible until their visibility timeout ends. `undefined` (the
   * invocation threw) or an item identifier that is not in the batch fails the whole batch.
   */
  settle(event: SQSEvent, response: SQSBatchResponse | undefined): void {
    const ids = new Set(event.Records.map((record) => record.messageId));
    const failures = response?.batchItemFailures.map((failure) => failure.itemIdentifier);
    const failed = failures === undefined || failures.some((id) => !ids.has(id)) ? ids : new Set(failures);
    for (let i = this.#messages.length - 1; i >= 0; i -= 1) {
      const id = (this.#messages[i] as Message).id;
      if (ids.has(id) && !failed.has(id)) this.#messages.splice(i, 1);
    }
  }

  /**
   * Receives and deletes at once: for callers that track completion themselves and never fail a
   * message (the benchmarks' queue).
   */
  take(batchSize = 10): SQSEvent | undefined {
    const event = this.receive(batchSize);
    if (event !== undefined) this.settle(event, { batchItemFailures: [] });
    return event;
  }

  depths(): QueueDepths {
    const now = this.#clock();
    const visible = this.#messages.filter((message) => message.visibleAt <= now).length;
    return {
      visible,
      inFlight: this.#messages.length - visible,
      deadLetter: this.#deadLetters.length,
    };
  }

  deadLetters(): readonly DeadLetter[] {
    return [...this.#deadLetters];
  }
}

function deadLetter(message: Message, now: number): DeadLetter {
  let keys: string[];
  try {
    keys = parseRefreshMessage(message.body).map(describeKey);
  } catch {
    keys = ['(unreadable message)'];
  }
  return {
    messageId: message.id,
    keys,
    receiveCount: message.receiveCount,
    sentAt: message.sentAt,
    deadLetteredAt: now,
  };
}
