/**
 * Every error the broker raises. One root class, stable `code`s, `cause` kept.
 *
 * Rules: a message says what is wrong and what to do; it never contains a client secret, an access
 * token, a refresh token or a raw Hub response body. Structured details live in `details`, which is
 * also never a place for secrets. The class `name` is what AWS Lambda reports as `errorType`, so the
 * public names below are part of the mint function's contract (docs/consumers.md).
 */

/**
 * Every error code, once, grouped by the class that carries it. The first code of each group is the
 * one a revived error falls back to when the recorded code is not one of its own.
 */
export const ERROR_CODES = {
  InvalidRequestError: ['invalid_request', 'malformed_scope', 'unknown_client'],
  ScopeNotGrantedError: ['scope_not_granted', 'partial_grant'],
  AccessDeniedError: [
    'access_denied',
    'unidentified_caller',
    'bearer_not_allowed',
    'scope_not_allowed',
    'client_not_allowed',
    'new_key_limit',
  ],
  InvalidClientError: ['invalid_client', 'secret_unavailable', 'secret_malformed'],
  InvalidGrantError: ['invalid_grant'],
  RateLimitedError: ['rate_limited'],
  HubUnavailableError: [
    'hub_unavailable',
    'hub_timeout',
    'hub_invalid_response',
    'lease_wait_timeout',
    'corrupt_item',
  ],
  DependencyUnavailableError: [
    'dependency_unavailable',
    'store_unavailable',
    'mint_unavailable',
    'secrets_unavailable',
  ],
} as const;

type CodesOf<T extends keyof typeof ERROR_CODES> = (typeof ERROR_CODES)[T][number];
export type BrokerErrorCode = CodesOf<keyof typeof ERROR_CODES>;

/** `code` when it belongs to `type`, else that type's first code. */
function codeOf<T extends keyof typeof ERROR_CODES>(type: T, code: string | undefined): CodesOf<T> {
  const codes: readonly string[] = ERROR_CODES[type];
  return (codes.includes(code ?? '') ? code : codes[0]) as CodesOf<T>;
}

export interface BrokerErrorDetails {
  /** Scope error codes exactly as the Hub sent them (e.g. `ungranted_scope`). */
  readonly hubCodes?: readonly string[];
  /** Requested scopes the Hub did not grant, in `Org/<id>.app.scope.perm` form. */
  readonly missingScopes?: readonly string[];
  /** When a rate-limited caller may try again (ISO 8601). */
  readonly retryAt?: string;
  /** HTTP status of the Hub response that caused the error, if any. */
  readonly hubStatus?: number;
  /** The consumer (grant) the mint function identified the caller as. */
  readonly consumer?: string;
  /** What a grant does not cover: bearers (`Org/<id>`), scopes or apps. */
  readonly refused?: readonly string[];
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
    readonly code: CodesOf<'InvalidRequestError'>,
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
    readonly code: CodesOf<'ScopeNotGrantedError'>,
    message: string,
    details: BrokerErrorDetails,
    options?: { cause?: unknown },
  ) {
    super(message, details, options);
  }
}

/**
 * The caller's grant does not cover the request: the caller could not be identified (an unqualified
 * invocation), or its grant does not include the bearer, a scope or the app, or it created more new
 * keys this hour than its grant allows. Nothing was read from or written to the table for it.
 */
export class AccessDeniedError extends BrokerError {
  override readonly name = 'AccessDeniedError';
  constructor(
    readonly code: CodesOf<'AccessDeniedError'>,
    message: string,
    details?: BrokerErrorDetails,
  ) {
    super(message, details);
  }
  /** Only the hourly ceiling on new keys lifts by itself; every other refusal needs a changed grant. */
  get transient(): boolean {
    return this.code === 'new_key_limit';
  }
}

/** The app's credentials were refused by the Hub, or its secret is missing or malformed. */
export class InvalidClientError extends BrokerError {
  override readonly name = 'InvalidClientError';
  readonly transient = false;
  constructor(
    readonly code: CodesOf<'InvalidClientError'>,
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
  readonly code = ERROR_CODES.InvalidGrantError[0];
  readonly transient = false;
}

/** The Hub asked us to slow down. `details.retryAt` says when. */
export class RateLimitedError extends BrokerError {
  override readonly name = 'RateLimitedError';
  readonly code = ERROR_CODES.RateLimitedError[0];
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
    readonly code: CodesOf<'HubUnavailableError'>,
    message: string,
    details?: BrokerErrorDetails,
    options?: { cause?: unknown },
  ) {
    super(message, details, options);
  }
}

/**
 * An AWS service the broker depends on (DynamoDB, Lambda, Secrets Manager) failed or throttled: not
 * the Hub, not the caller, not the app's credentials. Try again.
 */
export class DependencyUnavailableError extends BrokerError {
  override readonly name = 'DependencyUnavailableError';
  readonly transient = true;
  constructor(
    readonly code: CodesOf<'DependencyUnavailableError'>,
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
  'AccessDeniedError',
  'InvalidClientError',
  'RateLimitedError',
  'HubUnavailableError',
  'DependencyUnavailableError',
] as const;
export type PublicErrorType = (typeof PUBLIC_ERROR_TYPES)[number];

/** Failures that are the caller's to fix (its request, or a grant it lacks); all others are the broker's or the Hub's. */
const CALLER_ERROR_TYPES: ReadonlySet<string> = new Set([
  'InvalidRequestError',
  'ScopeNotGrantedError',
  'AccessDeniedError',
]);

export function isCallerError(error: unknown): boolean {
  return error instanceof BrokerError && CALLER_ERROR_TYPES.has(error.name);
}

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
  const { message, details = {}, code } = parts;
  switch (parts.errorType) {
    case 'ScopeNotGrantedError':
      return new ScopeNotGrantedError(codeOf('ScopeNotGrantedError', code), message, details);
    case 'AccessDeniedError':
      return new AccessDeniedError(codeOf('AccessDeniedError', code), message, details);
    case 'InvalidClientError':
      return new InvalidClientError(codeOf('InvalidClientError', code), message, details);
    case 'InvalidRequestError':
      return new InvalidRequestError(codeOf('InvalidRequestError', code), message, details);
    case 'DependencyUnavailableError':
      return new DependencyUnavailableError(codeOf('DependencyUnavailableError', code), message, details);
    case 'RateLimitedError': {
      const retryAt = details.retryAt === undefined ? Number.NaN : Date.parse(details.retryAt);
      return new RateLimitedError(message, new Date(Number.isNaN(retryAt) ? Date.now() : retryAt), details);
    }
    default:
      return new HubUnavailableError(codeOf('HubUnavailableError', code), message, details);
  }
}
