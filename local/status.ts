/**
 * What the running local runtime tells the operator CLI, a separate process: a read-only JSON
 * document at `GET /local/status` on the Lambda endpoint's port. It holds counts, times and token
 * keys (bearer, app, scopes), never a token or a secret.
 */
import type { DeadLetter } from './refresh-queue.js';

export const LOCAL_STATUS_PATH = '/local/status';

export interface LocalSweepRecord {
  /** When the sweep started (ISO 8601). */
  readonly at: string;
  readonly durationMs: number;
  readonly due?: number;
  readonly enqueued?: number;
  readonly oldestOverdueMs?: number;
  readonly backlog?: boolean;
  /** Set when the sweep failed. */
  readonly error?: string;
}

export interface LocalStatus {
  /** When the runtime started (ISO 8601): no sweep yet is normal during the first interval. */
  readonly startedAt: string;
  readonly table: string;
  readonly dynamodbEndpoint: string;
  readonly scheduleIntervalMs: number;
  /** The last sweep of the scheduled refresh; null before the first one. */
  readonly lastSweep: LocalSweepRecord | null;
  readonly refreshQueue: {
    readonly visible: number;
    readonly inFlight: number;
    readonly visibilityTimeoutMs: number;
    readonly maxReceiveCount: number;
  };
  readonly deadLetterQueue: {
    readonly messages: number;
    readonly deadLetters: readonly DeadLetter[];
  };
}
