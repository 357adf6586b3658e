/**
 * Who uses which key when, over a warm-up and one day: a skewed popularity, each key used by one
 * consumer container. Hot keys are used every minute (at a fixed offset into it), warm keys once an
 * hour at a random time within it, cold keys a few times a day at random times (the same times every
 * day, so the warm-up sees yesterday's tail). Seeded, so both policies see the same calls.
 */
import { seededRandom } from '../support/random.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export type KeyClass = 'hot' | 'warm' | 'cold';
export const CLASSES: readonly KeyClass[] = ['hot', 'warm', 'cold'];
export const HOT = 0;
export const WARM = 1;
export const COLD = 2;

/** Shares of hot and warm keys; the rest are cold. */
export interface Mix {
  readonly name: 'realistic' | 'all-hot';
  readonly hot: number;
  readonly warm: number;
}
export const REALISTIC: Mix = { name: 'realistic', hot: 0.01, warm: 0.1 };
export const ALL_HOT: Mix = { name: 'all-hot', hot: 1, warm: 0 };
/** Uses a day of a cold key, drawn uniformly from these (inclusive). */
export const COLD_USES_PER_DAY = { min: 3, max: 6 } as const;

export interface Population {
  readonly keys: number;
  readonly mix: Mix;
  readonly counts: Readonly<Record<KeyClass, number>>;
  /** HOT, WARM or COLD per key. */
  readonly classOf: Uint8Array;
  /** Milliseconds into every minute at which each hot key is used. */
  readonly hotOffset: Float64Array;
  /** Time before the counted day (ms) during which the same pattern runs, counting nothing. */
  readonly warmUpMs: number;
  readonly minutes: number;
  /** Warm and cold uses, minute by minute from the start of the warm-up (CSR: calls of minute m are [first[m], first[m + 1])). */
  readonly first: Int32Array;
  readonly callKey: Int32Array;
  /** Ms from the start of the counted day (negative in the warm-up), ascending within a minute. */
  readonly callAt: Float64Array;
}

export function buildPopulation(keys: number, mix: Mix, seed: number, warmUpMs: number): Population {
  const random = seededRandom(seed);
  const hot = Math.round(keys * mix.hot);
  const warm = Math.min(keys - hot, Math.round(keys * mix.warm));
  const classOf = new Uint8Array(keys);
  const hotOffset = new Float64Array(keys);
  const keyOf: number[] = [];
  const at: number[] = [];
  for (let key = 0; key < keys; key++) {
    if (key < hot) {
      classOf[key] = HOT;
      hotOffset[key] = Math.floor(random() * MINUTE);
    } else if (key < hot + warm) {
      classOf[key] = WARM;
      for (let hour = -Math.ceil(warmUpMs / HOUR); hour < 24; hour++) {
        const time = hour * HOUR + Math.floor(random() * HOUR);
        if (time >= -warmUpMs) {
          keyOf.push(key);
          at.push(time);
        }
      }
    } else {
      classOf[key] = COLD;
      const { min, max } = COLD_USES_PER_DAY;
      const uses = min + Math.floor(random() * (max - min + 1));
      for (let use = 0; use < uses; use++) {
        const time = Math.floor(random() * DAY);
        keyOf.push(key);
        at.push(time);
        if (time - DAY >= -warmUpMs) {
          keyOf.push(key);
          at.push(time - DAY);
        }
      }
    }
  }
  const minutes = Math.ceil((warmUpMs + DAY) / MINUTE);
  const minuteOf = (time: number) => Math.floor((time + warmUpMs) / MINUTE);
  // Counting sort by minute, then by time within each minute.
  const first = new Int32Array(minutes + 1);
  for (const time of at) {
    const next = minuteOf(time) + 1;
    first[next] = (first[next] ?? 0) + 1;
  }
  for (let m = 0; m < minutes; m++) first[m + 1] = (first[m + 1] ?? 0) + (first[m] ?? 0);
  const fill = first.slice(0, minutes);
  const order = new Int32Array(at.length);
  for (let call = 0; call < at.length; call++) {
    const m = minuteOf(at[call] as number);
    const slot = fill[m] ?? 0;
    order[slot] = call;
    fill[m] = slot + 1;
  }
  const callKey = new Int32Array(at.length);
  const callAt = new Float64Array(at.length);
  for (let m = 0; m < minutes; m++) {
    const calls = Array.from(order.subarray(first[m], first[m + 1])).sort(
      (a, b) => (at[a] as number) - (at[b] as number),
    );
    calls.forEach((call, index) => {
      callKey[(first[m] as number) + index] = keyOf[call] as number;
      callAt[(first[m] as number) + index] = at[call] as number;
    });
  }
  return {
    keys,
    mix,
    counts: { hot, warm, cold: keys - hot - warm },
    classOf,
    hotOffset,
    warmUpMs,
    minutes,
    first,
    callKey,
    callAt,
  };
}
