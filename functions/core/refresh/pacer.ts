import type { Clock, Sleep } from '../clock.js';

/**
 * Spaces the starts of Hub requests evenly: one slot every `intervalMs`. Each refresh worker gets
 * an equal share of the fleet's ceiling (hubRequestsPerSecond / refreshConcurrency), and the SQS
 * event source never runs more than refreshConcurrency workers, so the fleet stays under the
 * ceiling without any shared state or extra I/O.
 */
export class Pacer {
  #nextSlot = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly clock: Clock,
    private readonly sleep: Sleep,
  ) {}

  /** Resolves when the caller may start its request. */
  async next(): Promise<void> {
    const now = this.clock();
    const slot = Math.max(now, this.#nextSlot);
    this.#nextSlot = slot + this.intervalMs;
    if (slot > now) await this.sleep(slot - now);
  }
}
