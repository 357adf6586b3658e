/**
 * Finds keys whose refresh time has come and hands them to the workers. Reads grow with the
 * number of due items, never with the table: one Query per shard of the sparse "due" index.
 */
import type { Clock } from '../clock.js';
import type { BrokerSettings } from '../settings.js';
import type { TokenKey } from '../store/key.js';
import type { DueIndex } from '../store/repository.js';

/** Where due keys go: the SQS queue of the refresh workers. */
export interface RefreshQueue {
  /** Keys already queued and not yet done (approximate). */
  pendingKeys(): Promise<number>;
  /**
   * Sends the keys, grouped into messages, each with the time the sweep was scheduled for (`sweptAt`, see
   * messages.ts); resolves with the number of keys accepted.
   */
  send(messages: readonly (readonly TokenKey[])[], options?: { readonly sweptAt?: number }): Promise<number>;
}

export interface SweepResult {
  /** Due keys found in this run; a run reads at most its budget per shard, so this is a lower bound. */
  readonly due: number;
  readonly enqueued: number;
  /** How far past its refresh time the most overdue key is, in ms (0 when none is due). */
  readonly oldestOverdueMs: number;
  /** True when more keys are due than this run could hand out; the next run continues. */
  readonly backlog: boolean;
}

export class Sweeper {
  constructor(
    private readonly options: {
      readonly store: DueIndex;
      readonly queue: RefreshQueue;
      readonly settings: BrokerSettings;
      readonly clock: Clock;
    },
  ) {}

  /**
   * Hands out at most what the workers can refresh before the next run, minus what is still queued,
   * so a large backlog is worked off oldest first without flooding the queue with duplicates.
   */
  async sweep(deadlineAt: number, scheduledAt?: number): Promise<SweepResult> {
    const { store, queue, settings, clock } = this.options;
    const now = clock();
    const capacity = Math.ceil((settings.hubRequestsPerSecond * settings.scheduleIntervalMs) / 1000);
    const budget = Math.max(0, capacity - (await queue.pendingKeys()));

    const shards = Array.from({ length: settings.dueShards }, (_, shard) => shard);
    const found: Array<TokenKey & { dueAt: number }> = [];
    let backlog = false;
    await Promise.all(
      shards.map(async (shard) => {
        let startKey: Record<string, unknown> | undefined;
        let taken = 0;
        // Each shard returns its oldest keys first; more than the budget from one shard is never needed.
        do {
          if (clock() >= deadlineAt) {
            backlog = true;
            return;
          }
          const page = await store.queryDue(shard, { now, limit: Math.max(1, budget - taken), startKey });
          found.push(...page.keys);
          taken += page.keys.length;
          startKey = page.nextKey;
        } while (startKey !== undefined && taken < budget);
        if (startKey !== undefined) backlog = true;
      }),
    );
    found.sort((a, b) => a.dueAt - b.dueAt);
    if (found.length > budget) backlog = true;
    const chosen = found.slice(0, budget);
    const messages: TokenKey[][] = [];
    for (let i = 0; i < chosen.length; i += settings.keysPerMessage) {
      messages.push(chosen.slice(i, i + settings.keysPerMessage).map(({ pk, sk }) => ({ pk, sk })));
    }
    const enqueued =
      messages.length === 0 ? 0 : await queue.send(messages, { sweptAt: Math.min(now, scheduledAt ?? now) });
    const oldest = found[0];
    return {
      due: found.length,
      enqueued,
      // Measured from the time this sweep was scheduled for, not from when it started: a key that
      // became due after the previous scheduled sweep is under one interval late whatever the
      // start delay, so only a key some sweep missed reaches an interval.
      oldestOverdueMs:
        oldest === undefined ? 0 : Math.max(0, Math.min(now, scheduledAt ?? now) - oldest.dueAt),
      backlog,
    };
  }
}
