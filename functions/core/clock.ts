/** Milliseconds since the epoch. Passed in everywhere so tests can move time. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();

/** Waits; injectable for the same reason as the clock. */
export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
