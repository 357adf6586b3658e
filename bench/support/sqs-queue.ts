/**
 * The refresh queue as SQS behaves towards the sweeper and Lambda's event source, in process: the
 * repository's LocalRefreshQueue holds the messages; this adds what SQS has and it lacks, messages in
 * flight (received by a worker, deleted when its invocation succeeds), so the sweeper's
 * `pendingKeys()` sees visible + in-flight messages as SqsRefreshQueue does through
 * GetQueueAttributes. It also counts the SQS requests each step would make.
 */
import type { SQSEvent } from 'aws-lambda';
import type { RefreshQueue } from '../../functions/core/refresh/sweeper.js';
import type { TokenKey } from '../../functions/core/store/key.js';
import { LocalRefreshQueue } from '../../local/refresh-queue.js';

/** SQS's limit per SendMessageBatch call. */
const SEND_BATCH = 10;

export interface SqsRequests {
  readonly getQueueAttributes: number;
  readonly sendMessageBatch: number;
  /** One receive per delivered batch (Lambda's pollers); empty long polls are not counted here. */
  readonly receiveMessage: number;
  /** One DeleteMessageBatch per successful batch. */
  readonly deleteMessageBatch: number;
}

export interface Delivery {
  readonly event: SQSEvent;
  /** The invocation ended: its messages are deleted (failed ones would come back; none do here). */
  done(): void;
}

export class BenchRefreshQueue implements RefreshQueue {
  readonly #inner: LocalRefreshQueue;
  readonly #keysPerMessage: number;
  #visible = 0;
  #inFlight = 0;
  #messagesSent = 0;
  #keysSent = 0;
  #requests = { getQueueAttributes: 0, sendMessageBatch: 0, receiveMessage: 0, deleteMessageBatch: 0 };
  #waiters: Array<() => void> = [];

  constructor(keysPerMessage: number) {
    this.#inner = new LocalRefreshQueue(keysPerMessage);
    this.#keysPerMessage = keysPerMessage;
  }

  async pendingKeys(): Promise<number> {
    this.#requests.getQueueAttributes += 1;
    return (this.#visible + this.#inFlight) * this.#keysPerMessage;
  }

  async send(
    messages: readonly (readonly TokenKey[])[],
    options: { readonly sweptAt?: number } = {},
  ): Promise<number> {
    this.#requests.sendMessageBatch += Math.ceil(messages.length / SEND_BATCH);
    const accepted = await this.#inner.send(messages, options);
    this.#visible += messages.length;
    this.#messagesSent += messages.length;
    this.#keysSent += accepted;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
    return accepted;
  }

  /** Up to `batchSize` visible messages as one Lambda SQS event, or undefined when none is visible. */
  receive(batchSize: number): Delivery | undefined {
    const event = this.#inner.take(batchSize);
    if (event === undefined) return undefined;
    const count = event.Records.length;
    this.#visible -= count;
    this.#inFlight += count;
    this.#requests.receiveMessage += 1;
    let finished = false;
    return {
      event,
      done: () => {
        if (finished) return;
        finished = true;
        this.#inFlight -= count;
        this.#requests.deleteMessageBatch += 1;
      },
    };
  }

  /** Resolves when messages are sent, or after `timeoutMs` (a long poll that came back empty). */
  waitForMessages(timeoutMs: number): Promise<void> {
    if (this.#visible > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  get visible(): number {
    return this.#visible;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  stats(): { messagesSent: number; keysSent: number; requests: SqsRequests } {
    return { messagesSent: this.#messagesSent, keysSent: this.#keysSent, requests: { ...this.#requests } };
  }
}
