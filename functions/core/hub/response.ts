/**
 * Turns one HTTP answer of the token endpoint into a validated HubToken or a typed error.
 * Pure: no I/O, the clock is an argument, so every shape the Hub may send is testable alone.
 */
import {
  type BrokerError,
  type BrokerErrorDetails,
  HubUnavailableError,
  InvalidClientError,
  InvalidGrantError,
  InvalidRequestError,
  RateLimitedError,
  ScopeNotGrantedError,
} from '../errors.js';
import { fullScope, missingScopes, parseGrantedScopes, type ScopeSet } from '../scopes.js';
import { readUnverifiedClaims } from './jwt.js';
import type { HubToken } from './token.js';

export interface HubHttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** Hub scope codes that mean our request was malformed rather than not granted. */
const MALFORMED_SCOPE_CODES = new Set(['malformed_scope', 'different_bearer_types', 'different_bearer_ids']);
/** Used when a 429 names no reset time. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 5_000;
/** Zaikio tokens live minutes to an hour; a longer claimed lifetime is a broken response, not a gift. */
const MAX_LIFETIME_MS = 7 * 24 * 3600_000;
/** Hub codes are short snake_case words; anything else is not echoed into our messages. */
const HUB_CODE = /^[a-z][a-z0-9_]{0,63}$/;

export function processTokenResponse(response: HubHttpResponse, requested: ScopeSet, now: number): HubToken {
  if (response.status >= 200 && response.status < 300) return parseSuccess(response, requested, now);
  throw errorFromResponse(response, requested, now);
}

function invalid(message: string, status: number, details: BrokerErrorDetails = {}): HubUnavailableError {
  return new HubUnavailableError(
    'hub_invalid_response',
    `the Zaikio Hub sent an unusable token response: ${message}`,
    { ...details, hubStatus: status },
  );
}

function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function parseSuccess(response: HubHttpResponse, requested: ScopeSet, now: number): HubToken {
  const { status } = response;
  const json = parseJsonObject(response.body);
  if (json === undefined) throw invalid('the body is not a JSON object', status);
  const { access_token, token_type, refresh_token, expires_in, scope, bearer } = json;
  if (typeof access_token !== 'string' || access_token === '')
    throw invalid('access_token is missing', status);
  if (typeof token_type !== 'string' || token_type.toLowerCase() !== 'bearer') {
    throw invalid('token_type is missing or not "bearer"', status);
  }
  if (refresh_token !== undefined && refresh_token !== null && typeof refresh_token !== 'string') {
    throw invalid('refresh_token is not a string', status);
  }
  assertBearerMatches(bearer, requested, status);

  const claims = readUnverifiedClaims(access_token);
  const expiresAt = computeExpiry(expires_in, claims?.exp, now, status);

  const grantedSource = typeof scope === 'string' || isStringArray(scope) ? scope : claims?.scope;
  if (grantedSource === undefined) throw invalid('scope is missing', status);
  const grantedScopes = parseGrantedScopes(requested.bearer, grantedSource);
  const missing = missingScopes(requested.scopes, grantedScopes);
  if (missing.length > 0) {
    throw new ScopeNotGrantedError(
      'partial_grant',
      `the Zaikio Hub granted only some of the requested scopes; missing: ${missing
        .map((s) => fullScope(requested.bearer, s))
        .join(
          ', ',
        )}. Ask the ${requested.bearer.type.toLowerCase()} to grant them to the app, or request fewer`,
      { missingScopes: missing.map((s) => fullScope(requested.bearer, s)), hubStatus: status },
    );
  }
  return {
    accessToken: access_token,
    tokenType: 'Bearer',
    grantedScopes,
    bearer: requested.bearer,
    issuedAt: now,
    expiresAt,
    ...(typeof refresh_token === 'string' && refresh_token !== '' ? { refreshToken: refresh_token } : {}),
  };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function assertBearerMatches(bearer: unknown, requested: ScopeSet, status: number): void {
  if (bearer === undefined || bearer === null) return;
  if (typeof bearer !== 'object') throw invalid('bearer is not an object', status);
  const { id, type } = bearer as Record<string, unknown>;
  if (id !== requested.bearer.id || (type !== undefined && type !== requested.bearer.type)) {
    throw invalid('the token was issued for another bearer than requested', status);
  }
}

/**
 * `expires_in` is integer seconds in practice, an ISO-8601 timestamp in one old example; the JWT's
 * `exp` is a second opinion. The earlier of the two wins, so we never trust a token longer than
 * either source says.
 */
function computeExpiry(expiresIn: unknown, jwtExp: number | undefined, now: number, status: number): number {
  let fromResponse: number | undefined;
  if (typeof expiresIn === 'number') {
    if (!Number.isFinite(expiresIn) || expiresIn <= 0)
      throw invalid('expires_in is not a positive number', status);
    fromResponse = now + expiresIn * 1000;
  } else if (typeof expiresIn === 'string') {
    if (/^\d+$/.test(expiresIn)) {
      fromResponse = now + Number(expiresIn) * 1000;
    } else {
      const at = Date.parse(expiresIn);
      if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}T/.test(expiresIn)) {
        throw invalid('expires_in is neither seconds nor an ISO-8601 timestamp', status);
      }
      fromResponse = at;
    }
  } else if (expiresIn !== undefined && expiresIn !== null) {
    throw invalid('expires_in is neither seconds nor an ISO-8601 timestamp', status);
  }
  const fromJwt = jwtExp === undefined ? undefined : jwtExp * 1000;
  const candidates = [fromResponse, fromJwt].filter((value): value is number => value !== undefined);
  if (candidates.length === 0) throw invalid('expires_in is missing and the token carries no exp', status);
  const expiresAt = Math.min(...candidates);
  if (expiresAt <= now) throw invalid('the token is already expired', status);
  if (expiresAt - now > MAX_LIFETIME_MS)
    throw invalid('expires_in is beyond any sane token lifetime', status);
  return expiresAt;
}

function header(response: HubHttpResponse, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const value = Object.entries(response.headers).find(([key]) => key.toLowerCase() === wanted)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

/** The longest wait a 429 may impose when its `RateLimit-Rule` names no window. */
export const MAX_RATE_LIMIT_WAIT_MS = 5 * 60_000;

/** The window of a `RateLimit-Rule` such as `300reqs/60s` (also `m`, `h`, or bare seconds), in ms. */
export function rateLimitWindowMs(rule: string | undefined): number | undefined {
  const match = rule === undefined ? null : /\/\s*(\d+(?:\.\d+)?)\s*([smh]?)\b/i.exec(rule);
  if (match === null) return undefined;
  const unit = { '': 1000, s: 1000, m: 60_000, h: 3600_000 }[(match[2] ?? '').toLowerCase()] ?? 1000;
  const window = Number(match[1]) * unit;
  return window > 0 ? window : undefined;
}

/**
 * A number of seconds or a timestamp, told apart by size: delta seconds are small, UNIX seconds are
 * past 10^9 (2001), UNIX milliseconds past 10^12.
 */
function resetTime(value: number, now: number): number {
  if (value > 1e12) return value;
  if (value > 1e9) return value * 1000;
  return now + value * 1000;
}

/**
 * When a rate-limited app may ask again. RateLimit-Reset is a UNIX timestamp at Zaikio and delta
 * seconds in the IETF draft; Retry-After is seconds or an HTTP date. No value is trusted beyond the
 * window `RateLimit-Rule` names (or MAX_RATE_LIMIT_WAIT_MS without one): a value in the wrong unit or
 * a bogus date would otherwise block the whole app in this container for years.
 */
export function retryTimeFrom(response: HubHttpResponse, now: number): number {
  const bound = now + (rateLimitWindowMs(header(response, 'ratelimit-rule')) ?? MAX_RATE_LIMIT_WAIT_MS);
  const reset = header(response, 'ratelimit-reset')?.trim();
  const retryAfter = header(response, 'retry-after')?.trim();
  let at: number | undefined;
  if (reset !== undefined && /^\d+(\.\d+)?$/.test(reset)) {
    at = resetTime(Number(reset), now);
  } else if (retryAfter !== undefined && /^\d+(\.\d+)?$/.test(retryAfter)) {
    at = resetTime(Number(retryAfter), now);
  } else if (retryAfter !== undefined) {
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) at = date;
  }
  return Math.min(bound, Math.max(now, at ?? now + DEFAULT_RATE_LIMIT_WAIT_MS));
}

/** Scope error codes Zaikio is known to send (zaikio-hub-api.md); other keys' codes must be one of them. */
const KNOWN_SCOPE_CODES = new Set([
  'ungranted_scope',
  'bearer_does_not_exist',
  'different_bearer_types',
  'malformed_scope',
  'scope_is_not_included_in_desired_scopes',
  'different_bearer_ids',
  'unpermitted_bearer_id',
  'scope_was_not_granted_in_parent',
  'unconnected_app',
]);

function errorCodes(json: Record<string, unknown> | undefined): string[] {
  const errors = json?.errors;
  if (typeof errors !== 'object' || errors === null) return [];
  const values = Array.isArray(errors) ? errors : Object.values(errors);
  return values.flat().filter((code): code is string => typeof code === 'string' && HUB_CODE.test(code));
}

/**
 * Scope codes from `{"errors": {"scopes": [...]}}` (any code-shaped string there), plus known scope
 * codes found elsewhere in `errors`. A code we do not know outside `scopes` is not a refusal.
 */
function scopeCodes(json: Record<string, unknown> | undefined): string[] {
  const errors = json?.errors;
  if (typeof errors !== 'object' || errors === null) return [];
  const codeShaped = (value: unknown): value is string => typeof value === 'string' && HUB_CODE.test(value);
  const underScopes = Array.isArray(errors) ? [] : (errors as Record<string, unknown>).scopes;
  const fromScopes = Array.isArray(underScopes) ? underScopes.filter(codeShaped) : [];
  const elsewhere = (Array.isArray(errors) ? errors : Object.values(errors))
    .flat()
    .filter((code): code is string => codeShaped(code) && KNOWN_SCOPE_CODES.has(code));
  return [...new Set([...fromScopes, ...elsewhere])];
}

function errorFromResponse(response: HubHttpResponse, requested: ScopeSet, now: number): BrokerError {
  const { status } = response;
  const json = parseJsonObject(response.body);
  const error = typeof json?.error === 'string' && HUB_CODE.test(json.error) ? json.error : undefined;
  const codes = scopeCodes(json);
  // Every code the Hub sent goes into the details for diagnosis; only scope codes decide the type.
  const allCodes = errorCodes(json);
  const details = { hubStatus: status, ...(allCodes.length > 0 ? { hubCodes: allCodes } : {}) };

  if (status === 429) {
    const retryAt = new Date(retryTimeFrom(response, now));
    return new RateLimitedError(
      `the Zaikio Hub rate-limited the app; retry after ${retryAt.toISOString()}`,
      retryAt,
      details,
    );
  }
  // An outage is an outage whatever its body says: never a refusal that would revoke a token.
  if (status >= 500 || status === 408) {
    return new HubUnavailableError(
      'hub_unavailable',
      `the Zaikio Hub is unavailable (HTTP ${status}); try again shortly`,
      details,
    );
  }
  if (error === 'invalid_client' || error === 'unauthorized_client' || status === 401) {
    return new InvalidClientError(
      'invalid_client',
      'the Zaikio Hub refused the app credentials; check clientId and clientSecret in the secret ' +
        'and that the app is an OAuth confidential app',
      details,
    );
  }
  if (error === 'invalid_grant') {
    return new InvalidGrantError('the Zaikio Hub refused the refresh token', details);
  }
  if (codes.length > 0 || error === 'invalid_scope') {
    const hubCodes = codes.length > 0 ? codes : ['invalid_scope'];
    if (hubCodes.every((code) => MALFORMED_SCOPE_CODES.has(code))) {
      return new InvalidRequestError(
        'malformed_scope',
        `the Zaikio Hub rejected the scope as malformed (${hubCodes.join(', ')})`,
        { ...details, hubCodes },
      );
    }
    const scopes = requested.scopes.map((scope) => fullScope(requested.bearer, scope));
    return new ScopeNotGrantedError(
      'scope_not_granted',
      `the Zaikio Hub refused the scopes (${hubCodes.join(', ')}); the ${requested.bearer.type.toLowerCase()} ` +
        'must connect the app and grant the scopes first',
      { ...details, hubCodes, missingScopes: scopes },
    );
  }
  if (error === 'invalid_request' || error === 'unsupported_grant_type') {
    return new InvalidRequestError(
      'invalid_request',
      `the Zaikio Hub rejected the token request (${error})`,
      details,
    );
  }
  return invalid(`unexpected HTTP ${status}${error === undefined ? '' : ` (${error})`}`, status, details);
}
