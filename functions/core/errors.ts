/**
 * Every error the broker raises. One root class, stable `code`s, `cause` kept.
 *
 * Rules: a message says what is wrong and what to do; it never contains a client secret, an access
 * token, a refresh token or a raw Hub response body. Structured details live in `details`, which is
 * also never a place for secrets. The class `name` is what AWS Lambda reports as `errorType`, so the
 * five public names below are part of the mint function's contract (docs/consumers.md).
 */

export type BrokerErrorCode =
  | 'invalid_request'
  | 'malformed_scope'
  | 'scope_not_granted'
  | 'partial_grant'
  | 'invalid_client'
  | 'secret_unavailable'
  | 'secret_malformed'
  | 'unknown_client'
  | 'invalid_grant'
  | 'rate_limited'
  | 'hub_unavailable'
  | 'hub_timeout'
  | 'hub_invalid_response'
  | 'lease_wait_timeout'
  | 'corrupt_item'
  | 'store_unavailable'
  | 'mint_unavailable';

export interface BrokerErrorDetails {
  /** Scope error codes exactly as the Hub sent them (e.g. `ungranted_scope`). */
  readonly hubCodes?: readonly string[];
  /** Requested scopes the Hub did not grant, in `Org/<id>.app.scope.perm` form. */
  readonly missingScopes?: readonly string[];
  /** When a rate-limited caller may try again (ISO 8601). */
  readonly retryAt?: string;
  /** HTTP status of the Hub response that caused the error, if any. */
  readonly hubStatus?: number;
}

export abstract class BrokerError extends Error {
  abstract readonly code: BrokerErrorCode;
  readonly details: BrokerErrorDetails;
  /** Whether trying again later can succeed without anyone changing anything. */
  abstract readonly transient: boolean;

  constructor(message: string, details: BrokerErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.details = details;
  }

  toJSON(): { name: string; code: BrokerErrorCode; message: string; details: BrokerErrorDetails } {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/** The caller's payload or scope is wrong. Fix the request; retrying it unchanged fails again. */
export class InvalidRequestError extends BrokerError {
  override readonly name = 'InvalidRequestError';
  readonly transient = false;
  constructor(
    readonly code: 'invalid_request' | 'malformed_scope' | 'unknown_client',
    message: string,
    details?: BrokerErrorDetails,
  ) {
    super(message, details);
  }
}

/** The organization or person has not granted (all of) the scopes to the app. */
export class ScopeNotGrantedError extends BrokerError {
  override readonly name = 'ScopeNotGrantedError';
  readonly transient = false;
  constructor(
    readonly code: 'scope_not_granted' | 'partial_grant',
    message: string,
    details: BrokerErrorDetails,
    options?: { cause?: unknown },
  ) {
    super(message, details, options);
  }
}

/** The app's credentials were refused by the Hub, or its secret is missing or malformed. */
export class InvalidClientError extends BrokerError {
  override readonly name = 'InvalidClientError';
  readonly transient = false;
  constructor(
    readonly code: 'invalid_client' | 'secret_unavailable' | 'secret_malformed',
    message: string,
    details?: BrokerErrorDetails,
    options?: { cause?: unknown },
  ) {
    super(message, details, options);
  }
}

/** The Hub refused a refresh token (spent, expired, or permissions changed). Handled internally. */
export class InvalidGrantError extends BrokerError {
  override readonly name = 'InvalidGrantError';
  readonly code = 'invalid_grant';
  readonly transient = false;
}

/** The Hub asked us to slow down. `details.retryAt` says when. */
export class RateLimitedError extends BrokerError {
  override readonly name = 'RateLimitedError';
  readonly code = 'rate_limited';
  readonly transient = true;
  constructor(
    message: string,
    readonly retryAt: Date,
    details: BrokerErrorDetails = {},
  ) {
    super(message, { ...details, retryAt: retryAt.toISOString() });
  }
}

/**
 * No token could be had now: the Hub did not answer usefully (5xx, timeout, reset, unparsable body),
 * another container's mint did not finish in time, or the token table could not be read. Try again.
 */
export class HubUnavailableError extends BrokerError {
  override readonly name = 'HubUnavailableError';
  readonly transient = true;
  constructor(
    readonly code:
      | 'hub_unavailable'
      | 'hub_timeout'
      | 'hub_invalid_response'
      | 'lease_wait_timeout'
      | 'corrupt_item'
      | 'store_unavailable'
      | 'mint_unavailable',
    message: string,
    details?: BrokerErrorDetails,
    options?: { cause?: unknown },
  ) {
    super(message, details, options);
  }
}

/** The error names the mint function may report as `errorType`. */
export const PUBLIC_ERROR_TYPES = [
  'InvalidRequestError',
  'ScopeNotGrantedError',
  'InvalidClientError',
  'RateLimitedError',
  'HubUnavailableError',
] as const;
export type PublicErrorType = (typeof PUBLIC_ERROR_TYPES)[number];

/**
 * Rebuilds a public error from its parts: used for failures recorded on a token item and, in the
 * consumer client, for errors reported by the mint function.
 */
export function reviveError(parts: {
  readonly errorType: string;
  readonly code?: string;
  readonly message: string;
  readonly details?: BrokerErrorDetails;
}): BrokerError {
  const { message, details = {} } = parts;
  const code = parts.code;
  switch (parts.errorType) {
    case 'ScopeNotGrantedError':
      return new ScopeNotGrantedError(
        code === 'partial_grant' ? code : 'scope_not_granted',
        message,
        details,
      );
    case 'InvalidClientError':
      return new InvalidClientError(
        code === 'secret_unavailable' || code === 'secret_malformed' ? code : 'invalid_client',
        message,
        details,
      );
    case 'InvalidRequestError':
      return new InvalidRequestError(
        code === 'malformed_scope' || code === 'unknown_client' ? code : 'invalid_request',
        message,
        details,
      );
    case 'RateLimitedError': {
      const retryAt = details.retryAt === undefined ? Number.NaN : Date.parse(details.retryAt);
      return new RateLimitedError(message, new Date(Number.isNaN(retryAt) ? Date.now() : retryAt), details);
    }
    default: {
      const known = [
        'hub_unavailable',
        'hub_timeout',
        'hub_invalid_response',
        'lease_wait_timeout',
        'corrupt_item',
        'store_unavailable',
        'mint_unavailable',
      ];
      const hubCode = known.includes(code ?? '') ? (code as HubUnavailableError['code']) : 'hub_unavailable';
      return new HubUnavailableError(hubCode, message, details);
    }
  }
}
