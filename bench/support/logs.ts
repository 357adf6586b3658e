/**
 * Loggers for the handlers under benchmark: nothing is printed (logging 100,000 lines would measure
 * the terminal), but the refresh worker's and sweeper's summaries are kept as counts.
 */
import type { EventLogger } from '../../functions/core/logger.js';
import { noOutcomes, type RefreshOutcome } from '../../functions/core/refresh/refresher.js';
import type { SweepResult } from '../../functions/core/refresh/sweeper.js';

export type OutcomeCounts = Record<RefreshOutcome, number>;

const quiet = (): void => undefined;

export function silentLogger(): EventLogger {
  return { info: quiet, warn: quiet, error: quiet } as unknown as EventLogger;
}

export class HandlerLog {
  readonly outcomes: OutcomeCounts = noOutcomes();
  readonly sweeps: SweepResult[] = [];
  /** Failed and revoked refreshes by error code (e.g. hub_timeout, rate_limited). */
  readonly failures: Record<string, number> = {};
  crashes = 0;
  #onBatch: (() => void) | undefined;

  /** Called after each worker invocation's summary. */
  onBatch(listener: () => void): void {
    this.#onBatch = listener;
  }

  logger(): EventLogger {
    const info = (message: string, extra?: Record<string, unknown>) => {
      if (message === 'refresh batch' && extra !== undefined) {
        for (const outcome of Object.keys(this.outcomes) as RefreshOutcome[]) {
          const count = extra[outcome];
          if (typeof count === 'number') this.outcomes[outcome] += count;
        }
        this.#onBatch?.();
      } else if (message === 'sweep' && extra !== undefined) {
        this.sweeps.push(extra as unknown as SweepResult);
      }
    };
    const warn = (message: string, extra?: Record<string, unknown>) => {
      if (message === 'refresh' && extra !== undefined) {
        const code = typeof extra.code === 'string' ? extra.code : String(extra.errorType ?? 'unknown');
        this.failures[code] = (this.failures[code] ?? 0) + 1;
      }
    };
    const error = (message: string) => {
      if (message === 'refresh crashed') this.crashes += 1;
    };
    return { info, warn, error } as unknown as EventLogger;
  }

  /** Keys that got a new token. */
  renewed(): number {
    return this.outcomes.refreshed + this.outcomes['fell-back'];
  }
}
