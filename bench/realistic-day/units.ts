/**
 * The DynamoDB request units of each operation the day model counts, as the calibration measures
 * them (./calibrate.ts), and the numbers used when it cannot.
 */

/** Request units of one operation, the due index's writes included. */
export interface Units {
  readonly readUnits: number;
  readonly writeUnits: number;
}

export const OPERATIONS = {
  refreshRead: 'scheduled refresh under a read claim',
  refreshLease: 'scheduled refresh under a lease (for comparison)',
  retire: 'retire of an unused key',
  mintNew: 'mint on demand of a new key',
  mintExpired: 'mint on demand of an expired key',
  mintServed:
    "mint serving the stored token, recording its use (a consumer's use report, an Event Invoke; the previous consumer's hourly call)",
  consumerRead: "consumer's GetItem",
  sweepEmpty: 'sweep run with no due key (8 shard Queries)',
  sweepPerDueKey: 'sweep, per due key found',
} as const;
export type Operation = keyof typeof OPERATIONS;

export interface Calibration {
  /** `measured` on dynalite, or `fallback`: the numbers test/integration/refresh-writes.test.ts asserts, the rest assumed. */
  readonly source: 'measured' | 'fallback';
  readonly units: Readonly<Record<Operation, Units>>;
  /** Bytes of one token item as DynamoDB sizes it (names and values). */
  readonly itemBytes?: number;
  /** Keys each operation was measured on. */
  readonly keys?: number;
  readonly error?: string;
}

/**
 * The numbers test/integration/refresh-writes.test.ts asserts for 1–2 KB items (a read-claimed
 * refresh 1 RRU + 4 WRU, a leased one 6 WRU); the rest by DynamoDB's rules for such an item.
 */
export const FALLBACK_UNITS: Readonly<Record<Operation, Units>> = {
  refreshRead: { readUnits: 1, writeUnits: 4 },
  refreshLease: { readUnits: 0, writeUnits: 6 },
  retire: { readUnits: 1, writeUnits: 3 },
  mintNew: { readUnits: 1, writeUnits: 5 },
  mintExpired: { readUnits: 1, writeUnits: 6 },
  mintServed: { readUnits: 1, writeUnits: 2 },
  consumerRead: { readUnits: 0.5, writeUnits: 0 },
  sweepEmpty: { readUnits: 4, writeUnits: 0 },
  sweepPerDueKey: { readUnits: 0, writeUnits: 0 },
};
