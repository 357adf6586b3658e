/**
 * Talks to the Hub's token endpoint over a keep-alive undici pool. Retries transient failures
 * (5xx, timeouts, resets, 429) with exponential backoff and full jitter, always inside a deadline.
 */
import type { Dispatcher } from 'undici';
import { type Clock, realSleep, type Sleep, systemClock } from '../clock.js';
import type { ClientCredentials } from '../credentials.js';
import { BrokerError, HubUnavailableError, RateLimitedError } from '../errors.js';
import type { ScopeSet } from '../scopes.js';
import { type HubDispatcher, openPool } from './pool.js';
import { buildTokenRequest } from './request.js';
import { processTokenResponse } from './response.js';
import type { HubToken, TokenGrant } from './token.js';

export interface HubClientOptions {
  /** From resolveHubBaseUrl: an environment's URL or a custom one. */
  readonly baseUrl: string;
  /** @default 3000 */
  readonly connectTimeoutMs?: number;
  /** Time to the response headers of one attempt. @default 5000 */
  readonly headersTimeoutMs?: number;
  /** Time between body chunks of one attempt. @default 5000 */
  readonly bodyTimeoutMs?: number;
  /** Attempts per exchange, the first included. @default 4 */
  readonly maxAttempts?: number;
  /** @default 200 */
  readonly backoffBaseMs?: number;
  /** @default 2000 */
  readonly backoffMaxMs?: number;
  /** Keep-alive sockets to the Hub. @default 8 */
  readonly connections?: number;
  readonly clock?: Clock;
  readonly sleep?: Sleep;
  readonly random?: () => number;
  /** Replaces the pool, e.g. to route through a proxy. */
  readonly dispatcher?: Dispatcher;
}

/** Bodies of token responses are a few KB; a larger one is not a token response. */
const MAX_BODY_BYTES = 256 * 1024;

export class HubClient {
  readonly #basePath: string;
  readonly #origin: string;
  /** The caller's dispatcher, or the pool, opened by the first request (pool.ts says why). */
  #dispatcher: Promise<HubDispatcher> | undefined;
  readonly #ownsDispatcher: boolean;
  readonly #options: Required<Omit<HubClientOptions, 'dispatcher' | 'baseUrl'>>;
  /** Per client id, set by a 429: until then no request leaves this container for that app. */
  readonly #blockedUntil = new Map<string, number>();

  constructor(options: HubClientOptions) {
    this.#options = {
      connectTimeoutMs: 3000,
      headersTimeoutMs: 5000,
      bodyTimeoutMs: 5000,
      maxAttempts: 4,
      backoffBaseMs: 200,
      backoffMaxMs: 2000,
      connections: 8,
      clock: systemClock,
      sleep: realSleep,
      random: Math.random,
      ...withoutUndefined(options),
    };
    const url = new URL(options.baseUrl);
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#origin = url.origin;
    this.#ownsDispatcher = options.dispatcher === undefined;
    const { dispatcher } = options;
    if (dispatcher !== undefined) {
      this.#dispatcher = Promise.resolve({
        request: (request) => dispatcher.request(request),
        close: () => dispatcher.close(),
      });
    }
  }

  #open(): Promise<HubDispatcher> {
    if (this.#dispatcher === undefined) {
      const opening = openPool(this.#origin, this.#options);
      this.#dispatcher = opening;
      // A failed load is tried again by the next request rather than remembered.
      opening.catch(() => {
        if (this.#dispatcher === opening) this.#dispatcher = undefined;
      });
    }
    return this.#dispatcher;
  }

  /**
   * One token exchange, retried on transient errors until `deadlineAt` (epoch ms). `beforeAttempt`
   * runs before every request, retries included: the refresh worker paces the Hub there.
   */
  async requestToken(
    grant: TokenGrant,
    scopes: ScopeSet,
    credentials: ClientCredentials,
    deadlineAt: number,
    options: { readonly beforeAttempt?: () => Promise<void> } = {},
  ): Promise<HubToken> {
    const { clock, sleep, random, maxAttempts, backoffBaseMs, backoffMaxMs } = this.#options;
    for (let attempt = 1; ; attempt++) {
      try {
        this.#throwIfRateLimited(credentials.clientId);
        await options.beforeAttempt?.();
        return await this.#attempt(grant, scopes, credentials, deadlineAt);
      } catch (error) {
        if (error instanceof RateLimitedError) {
          // The limit is the app's, not this key's: every exchange in this container waits for it.
          const until = Math.max(this.#blockedUntil.get(credentials.clientId) ?? 0, error.retryAt.getTime());
          this.#blockedUntil.set(credentials.clientId, until);
        }
        if (!(error instanceof BrokerError) || !isRetryable(error) || attempt >= maxAttempts) throw error;
        let wait = random() * Math.min(backoffMaxMs, backoffBaseMs * 2 ** (attempt - 1));
        if (error instanceof RateLimitedError) wait += Math.max(0, error.retryAt.getTime() - clock());
        if (clock() + wait >= deadlineAt) throw error;
        await sleep(wait);
      }
    }
  }

  #throwIfRateLimited(clientId: string): void {
    const blockedUntil = this.#blockedUntil.get(clientId) ?? 0;
    if (this.#options.clock() < blockedUntil) {
      const retryAt = new Date(blockedUntil);
      throw new RateLimitedError(
        `the Zaikio Hub rate-limited the app; retry after ${retryAt.toISOString()}`,
        retryAt,
      );
    }
  }

  async #attempt(
    grant: TokenGrant,
    scopes: ScopeSet,
    credentials: ClientCredentials,
    deadlineAt: number,
  ): Promise<HubToken> {
    const { clock, headersTimeoutMs, bodyTimeoutMs } = this.#options;
    const dispatcher = await this.#open();
    // Expiry counts from before the request: the Hub's clock started while our request was on its way.
    const sentAt = clock();
    // Timers want whole milliseconds.
    const remaining = Math.ceil(deadlineAt - sentAt);
    if (remaining <= 0) throw new HubUnavailableError('hub_timeout', 'no time left to ask the Zaikio Hub');
    const request = buildTokenRequest(this.#basePath, grant, scopes, credentials);
    let status: number;
    let headers: Record<string, string | string[] | undefined>;
    let body: string;
    try {
      const response = await dispatcher.request({
        ...request,
        headersTimeout: Math.min(headersTimeoutMs, remaining),
        bodyTimeout: Math.min(bodyTimeoutMs, remaining),
        signal: AbortSignal.timeout(remaining),
      });
      status = response.statusCode;
      headers = response.headers;
      body = await readLimited(response.body);
    } catch (error) {
      throw transportError(error);
    }
    return processTokenResponse({ status, headers, body }, scopes, sentAt);
  }

  async close(): Promise<void> {
    const dispatcher = await this.#dispatcher?.catch(() => undefined);
    if (this.#ownsDispatcher) await dispatcher?.close();
  }
}

async function readLimited(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      body.destroy();
      throw new HubUnavailableError('hub_invalid_response', 'the Zaikio Hub sent an oversized response');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ABORT_ERR',
  'ETIMEDOUT',
]);

/** Maps network failures to typed errors; the cause is kept (undici errors carry no credentials). */
function transportError(error: unknown): BrokerError {
  if (error instanceof BrokerError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const name = error instanceof Error ? error.name : '';
  if (
    (typeof code === 'string' && TIMEOUT_CODES.has(code)) ||
    name === 'TimeoutError' ||
    name === 'AbortError'
  ) {
    return new HubUnavailableError(
      'hub_timeout',
      'the Zaikio Hub did not answer in time; try again shortly',
      {},
      {
        cause: error,
      },
    );
  }
  return new HubUnavailableError(
    'hub_unavailable',
    `could not reach the Zaikio Hub (${typeof code === 'string' ? code : name || 'network error'}); try again shortly`,
    {},
    { cause: error },
  );
}

/** Transient errors are retried, except a 4xx the Hub will answer the same way again (a wrong path). */
function isRetryable(error: BrokerError): boolean {
  const status = error.details.hubStatus;
  const clientError =
    status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
  return error.transient && !clientError;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
