/**
 * Types for the two undici modules the Hub client loads by path (functions/core/hub/pool.ts); undici
 * ships types for its index only. A Pool loaded this way has no `request` method of its own (undici's
 * index adds the API to every dispatcher): the request function is called on it instead.
 */
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';

  const PoolClass: typeof Pool;
  export default PoolClass;
}

declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici';
  export default function request(
    this: Dispatcher,
    options: Dispatcher.RequestOptions,
  ): Promise<Dispatcher.ResponseData>;
}
