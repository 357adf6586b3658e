/**
 * Lambda's scaling, in process: each concurrent invocation gets a container of its own (an idle one,
 * or a new one: a cold start), and a container handles one invocation at a time. Counts invocations,
 * containers and billed duration (each invocation rounded up to 1 ms, as Lambda bills).
 */
import { median } from './stats.js';

export interface Container<E, R> {
  handle(event: E, context?: unknown): Promise<R>;
  /**
   * Time the invocation spent in waits that a simulated clock skipped (the refresh worker's pacer),
   * in ms since the container started; billed as if it had been waited for real.
   */
  skippedMs?(): number;
}

export interface PoolStats {
  readonly invocations: number;
  readonly containers: number;
  readonly billedMs: number;
  readonly errors: number;
  /** Median invocation duration, real ms (skipped waits included). */
  readonly medianMs: number;
}

export class FunctionPool<E, R> {
  readonly #create: (index: number) => Container<E, R>;
  readonly #idle: Container<E, R>[] = [];
  #containers = 0;
  #invocations = 0;
  #billedMs = 0;
  #errors = 0;
  #durations: number[] = [];

  constructor(create: (index: number) => Container<E, R>) {
    this.#create = create;
  }

  async invoke(event: E, context?: unknown): Promise<R> {
    const container = this.#idle.pop() ?? this.#create(this.#containers++);
    this.#invocations += 1;
    const skippedBefore = container.skippedMs?.() ?? 0;
    const startedAt = performance.now();
    try {
      return await container.handle(event, context);
    } catch (error) {
      this.#errors += 1;
      throw error;
    } finally {
      const skipped = (container.skippedMs?.() ?? 0) - skippedBefore;
      const duration = performance.now() - startedAt + skipped;
      this.#billedMs += Math.ceil(duration);
      this.#durations.push(duration);
      this.#idle.push(container);
    }
  }

  stats(): PoolStats {
    return {
      invocations: this.#invocations,
      containers: this.#containers,
      billedMs: this.#billedMs,
      errors: this.#errors,
      medianMs: median(this.#durations),
    };
  }
}
