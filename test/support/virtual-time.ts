/**
 * A fake clock for code that takes a clock and a sleep and also does real I/O on loopback (dynalite,
 * the Hub simulator). A fake sleep that just moves the clock by its own length makes concurrent
 * sleeps add up instead of overlapping, and scaling real time keeps a test slow. Here sleeps wake in
 * the order of their wake-up times, and the clock jumps to the earliest one only while none of the
 * I/O this clock tracks is in flight: concurrent sleeps overlap as they do in real time, and a
 * request takes no time at all, so nothing the test measures depends on how busy the machine is.
 */
import { Readable } from 'node:stream';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type Dispatcher, Pool } from 'undici';

interface Sleeper {
  readonly at: number;
  readonly order: number;
  readonly wake: () => void;
}

export class VirtualTime {
  #now: number;
  readonly #onAdvance: (now: number) => void;
  readonly #sleepers: Sleeper[] = [];
  #ordered = 0;
  #inFlight = 0;
  #checkQueued = false;

  /** `onAdvance` hears every new time, e.g. to keep a Hub simulator's clock in step. */
  constructor(start: number, onAdvance: (now: number) => void = () => undefined) {
    this.#now = start;
    this.#onAdvance = onAdvance;
  }

  readonly clock = (): number => this.#now;

  readonly sleep = (ms: number): Promise<void> =>
    new Promise((wake) => {
      this.#sleepers.push({ at: this.#now + Math.max(0, ms), order: this.#ordered++, wake });
      this.#queueCheck();
    });

  /** Moves the clock forward by hand (sleepers whose time comes wake in order). */
  advance(ms: number): void {
    this.#set(this.#now + ms);
    this.#queueCheck();
  }

  /** Runs `io` with the clock stopped: while any tracked I/O is in flight, no sleeper wakes. */
  async track<T>(io: () => Promise<T>): Promise<T> {
    this.#inFlight += 1;
    try {
      return await io();
    } finally {
      this.#inFlight -= 1;
      this.#queueCheck();
    }
  }

  /** Tracks every command `client` sends (retries included). */
  trackClient(client: DynamoDBClient): DynamoDBClient {
    client.middlewareStack.add((next) => (args) => this.track(() => next(args)), {
      step: 'initialize',
      name: 'virtualTimeIO',
    });
    return client;
  }

  /**
   * A dispatcher for the broker's Hub client (`hub.dispatcher`) whose requests are tracked until their
   * body has arrived. The Hub client does not close a dispatcher it was given: call `close()`.
   */
  hubDispatcher(origin: string): Dispatcher {
    const pool = new Pool(origin);
    const tracked = {
      request: (options: Dispatcher.RequestOptions) =>
        this.track(async () => {
          const response = await pool.request(options);
          const body = Buffer.from(await response.body.arrayBuffer());
          return { ...response, body: Readable.from([body]) };
        }),
      close: () => pool.close(),
    };
    // The Hub client calls nothing else of a dispatcher.
    return tracked as unknown as Dispatcher;
  }

  #set(now: number): void {
    if (now <= this.#now) return;
    this.#now = now;
    this.#onAdvance(now);
  }

  /**
   * After the microtasks now queued have run: whatever a woken sleeper or a finished request does next
   * (another request, another sleep) has begun by then, so an idle moment is a real one.
   */
  #queueCheck(): void {
    if (this.#checkQueued) return;
    this.#checkQueued = true;
    setImmediate(() => {
      this.#checkQueued = false;
      this.#wakeNext();
    });
  }

  #wakeNext(): void {
    if (this.#sleepers.length === 0) return;
    this.#sleepers.sort((a, b) => a.at - b.at || a.order - b.order);
    const [first] = this.#sleepers as [Sleeper];
    // A sleeper whose time has come wakes even while I/O is in flight; time itself waits for the I/O.
    if (first.at > this.#now && this.#inFlight > 0) return;
    this.#sleepers.shift();
    this.#set(first.at);
    first.wake();
    this.#queueCheck();
  }
}
