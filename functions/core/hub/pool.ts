/**
 * The keep-alive pool to the Hub, built from undici's pool and request modules rather than its index:
 * the index loads every undici feature (fetch, WebSocket, caches, mocks, proxies), about twice the
 * code the pool needs, and evaluates all of it when the function starts. The pool is also loaded on
 * the first Hub request rather than at import, so a mint answered from the table never loads it.
 * docs/BENCHMARKS.md ("Cold start") has the measurements.
 */
/// <reference path="./undici-parts.d.ts" />
import type { Dispatcher } from 'undici';

/** What the Hub client needs of a dispatcher: one request at a time, and closing it. */
export interface HubDispatcher {
  request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
  close(): Promise<void>;
}

export interface PoolOptions {
  readonly connections: number;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

/** A keep-alive pool to `origin`. */
export async function openPool(origin: string, options: PoolOptions): Promise<HubDispatcher> {
  const [{ default: Pool }, { default: request }] = await Promise.all([
    import('undici/lib/dispatcher/pool.js'),
    import('undici/lib/api/api-request.js'),
  ]);
  const pool = new Pool(origin, {
    connections: options.connections,
    connect: { timeout: options.connectTimeoutMs },
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
    keepAliveTimeout: 30_000,
  });
  return { request: (requestOptions) => request.call(pool, requestOptions), close: () => pool.close() };
}
