/**
 * fetch for Zaikio APIs: adds `Authorization: Bearer <token>` for one token request. When the API
 * says the token is expired or invalid (401/403 naming jwt_expired or invalid_jwt), it has the mint
 * function replace the token and sends the request once more; a second refusal is returned as it is.
 */
import type { AccessTokenRequest } from './request.js';
import type { AccessToken, ForceRefreshOptions } from './token-client.js';

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** What the wrapper needs of a TokenClient. */
export interface TokenSource {
  getAccessToken(request: AccessTokenRequest): Promise<AccessToken>;
  forceRefresh(request: AccessTokenRequest, options?: ForceRefreshOptions): Promise<AccessToken>;
}

export interface ZaikioFetchOptions {
  /** Relative URLs are resolved against it, e.g. `https://warehouse.sandbox.zaikio.com`. */
  readonly baseUrl?: string;
  /** @default globalThis.fetch */
  readonly fetch?: Fetch;
}

/** The codes Zaikio APIs use for a token that a new one would fix. */
const REJECTED_TOKEN = /\b(?:jwt_expired|invalid_jwt)\b/;

async function refusesToken(response: Response): Promise<boolean> {
  if (response.status !== 401 && response.status !== 403) return false;
  if (REJECTED_TOKEN.test(response.headers.get('www-authenticate') ?? '')) return true;
  // A clone, so the caller can still read the body of a refusal we do not retry.
  const body = await response
    .clone()
    .text()
    .catch(() => '');
  return REJECTED_TOKEN.test(body);
}

export function createZaikioFetch(
  tokens: TokenSource,
  request: AccessTokenRequest,
  options: ZaikioFetchOptions = {},
): Fetch {
  const send = options.fetch ?? globalThis.fetch;
  const { baseUrl } = options;
  const withToken = (original: Request, token: string): Request => {
    const headers = new Headers(original.headers);
    headers.set('Authorization', `Bearer ${token}`);
    return new Request(original, { headers });
  };
  return async (input, init) => {
    const url = input instanceof Request || baseUrl === undefined ? input : new URL(input, baseUrl);
    const original = new Request(url, init);
    const first = await tokens.getAccessToken(request);
    // A clone keeps the body for the retry.
    const response = await send(withToken(original.clone(), first.accessToken));
    if (!(await refusesToken(response))) return response;
    await response.body?.cancel().catch(() => undefined);
    const fresh = await tokens.forceRefresh(request, { rejectedToken: first.accessToken });
    return send(withToken(original, fresh.accessToken));
  };
}
