/**
 * Counts what DynamoDB would bill: requests by operation, and the capacity units dynalite computes
 * with DynamoDB's rules (item size, consistency), asked for with ReturnConsumedCapacity on every
 * request. dynalite reports table units only; index writes are estimated here (see `indexWriteUnits`).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { percentile } from './stats.js';

export interface DynamoCounts {
  /** Requests by operation (GetItem, UpdateItem, Query, …), failed ones included. */
  readonly requests: Readonly<Record<string, number>>;
  readonly total: number;
  /** Read request units (table and index reads). */
  readonly readUnits: number;
  /** Write request units of the table, successful writes. */
  readonly writeUnits: number;
  /**
   * Estimated write units of the sparse `due` index: 2 when an update sets the index key (the entry
   * moves: a delete and a put of a keys-only entry under 1 KB), 1 when it only removes it.
   */
  readonly indexWriteUnits: number;
  /** Conditional writes that failed their condition. DynamoDB bills them like a write of the item. */
  readonly conditionalFailures: number;
  /** Items returned by Query (the sweeper's reads of the due index). */
  readonly queryItems: number;
  /** Requests that failed for another reason than a condition. */
  readonly errors: number;
  /** Client-side latency by operation, ms (p50 / p99), as the handlers saw it. */
  readonly latency: Readonly<Record<string, { readonly p50: number; readonly p99: number }>>;
}

const CAPACITY_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchWriteItem',
  'BatchGetItem',
]);
const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem']);

interface Capacity {
  readonly CapacityUnits?: number;
}

function units(consumed: unknown): number {
  const list = Array.isArray(consumed) ? consumed : consumed === undefined ? [] : [consumed];
  return list.reduce((sum: number, entry: Capacity) => sum + (entry.CapacityUnits ?? 0), 0);
}

export class DynamoCounter {
  #requests = new Map<string, number>();
  #readUnits = 0;
  #writeUnits = 0;
  #indexWriteUnits = 0;
  #conditionalFailures = 0;
  #queryItems = 0;
  #errors = 0;
  #latencies = new Map<string, number[]>();

  /** Adds the counting middleware to `client` and returns it. */
  attach<T extends DynamoDBClient>(client: T): T {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        this.#requests.set(operation, (this.#requests.get(operation) ?? 0) + 1);
        const input = args.input as Record<string, unknown>;
        if (CAPACITY_OPERATIONS.has(operation) && input.ReturnConsumedCapacity === undefined) {
          input.ReturnConsumedCapacity = 'TOTAL';
        }
        const startedAt = performance.now();
        try {
          const result = await next(args);
          const list = this.#latencies.get(operation) ?? [];
          list.push(performance.now() - startedAt);
          this.#latencies.set(operation, list);
          const output = result.output as { ConsumedCapacity?: unknown; Count?: number };
          const consumed = units(output.ConsumedCapacity);
          if (READS.has(operation)) this.#readUnits += consumed;
          else this.#writeUnits += consumed;
          if (operation === 'Query') this.#queryItems += output.Count ?? 0;
          if (operation === 'UpdateItem') this.#indexWriteUnits += indexUnits(input.UpdateExpression);
          return result;
        } catch (error) {
          if (error instanceof Error && error.name === 'ConditionalCheckFailedException') {
            this.#conditionalFailures += 1;
          } else {
            this.#errors += 1;
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'benchDynamoCounter', override: true },
    );
    return client;
  }

  snapshot(): DynamoCounts {
    const requests = Object.fromEntries([...this.#requests].sort(([a], [b]) => a.localeCompare(b)));
    return {
      requests,
      total: [...this.#requests.values()].reduce((sum, count) => sum + count, 0),
      readUnits: this.#readUnits,
      writeUnits: this.#writeUnits,
      indexWriteUnits: this.#indexWriteUnits,
      conditionalFailures: this.#conditionalFailures,
      queryItems: this.#queryItems,
      errors: this.#errors,
      latency: Object.fromEntries(
        [...this.#latencies].map(([operation, values]) => {
          const sorted = [...values].sort((a, b) => a - b);
          return [operation, { p50: percentile(sorted, 50), p99: percentile(sorted, 99) }];
        }),
      ),
    };
  }

  reset(): void {
    this.#requests = new Map();
    this.#readUnits = 0;
    this.#writeUnits = 0;
    this.#indexWriteUnits = 0;
    this.#conditionalFailures = 0;
    this.#queryItems = 0;
    this.#errors = 0;
    this.#latencies = new Map();
  }
}

/** The `due` index's keys are dueShard and dueAt: setting them moves the entry, removing drops it. */
function indexUnits(expression: unknown): number {
  if (typeof expression !== 'string') return 0;
  const [set = '', remove = ''] = expression.split(/\bREMOVE\b/);
  // Set only where absent (a recorded use re-filing a retired key): almost always present, no move.
  if (/\bdueAt\s*=\s*if_not_exists\b/.test(set)) return 0;
  if (/\bdueAt\s*=/.test(set)) return 2;
  if (/\bdueAt\b/.test(remove)) return 1;
  return 0;
}

/** Sums counts of several counters (e.g. consumers and broker). */
export function addCounts(...all: readonly DynamoCounts[]): DynamoCounts {
  const requests: Record<string, number> = {};
  for (const counts of all) {
    for (const [name, count] of Object.entries(counts.requests))
      requests[name] = (requests[name] ?? 0) + count;
  }
  const sum = (pick: (counts: DynamoCounts) => number) => all.reduce((total, c) => total + pick(c), 0);
  return {
    requests,
    total: sum((c) => c.total),
    readUnits: sum((c) => c.readUnits),
    writeUnits: sum((c) => c.writeUnits),
    indexWriteUnits: sum((c) => c.indexWriteUnits),
    conditionalFailures: sum((c) => c.conditionalFailures),
    queryItems: sum((c) => c.queryItems),
    errors: sum((c) => c.errors),
    // Percentiles do not add up; the first counter's are kept (the compare report does not show them).
    latency: all[0]?.latency ?? {},
  };
}
