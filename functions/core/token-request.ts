/**
 * What a caller asks the broker for and what it is handed, and the request rules the mint function
 * and the consumer client share. Pure (errors and scopes only), so the consumer bundle may carry it.
 */
import { InvalidRequestError } from './errors.js';
import type { ForceRefresh } from './lifecycle/mint.js';
import { assertBearerId, type Bearer, parseScopeString, type ScopeSet, scopeSet } from './scopes.js';

export interface TokenRequest {
  readonly scopes: ScopeSet;
  /** App name; the default app when omitted. */
  readonly client?: string | undefined;
  /** @default settings.minValiditySeconds (60) */
  readonly minValiditySeconds?: number | undefined;
  /**
   * Mint anew even though the stored token looks valid: an API rejected it. Name the rejected token
   * (lifecycle's ForceRefresh), so a token someone already replaced is served instead; `true`
   * replaces only a token older than lifecycle's UNNAMED_FORCE_MIN_AGE_MS.
   */
  readonly forceRefresh?: ForceRefresh | undefined;
  /**
   * Not a request for a token: the caller uses the stored one past its check point (a consumer's
   * use report, lifecycle/serve.ts). The mint records the use, and never mints or answers a token.
   */
  readonly useReport?: true | undefined;
}

/** A token as the broker hands it out; the mint response is its JSON form (mint/payload.ts). */
export interface IssuedToken {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Epoch ms: when the Hub issued it (consumers time their report of use from it, lifecycle/serve.ts). */
  readonly issuedAt: number;
  /** Epoch ms. */
  readonly expiresAt: number;
  /** Granted scopes, `app.scope.permission`, sorted. */
  readonly scopes: readonly string[];
  readonly bearer: Bearer;
}

/** The mint function's default and the consumer client's. */
export const DEFAULT_MIN_VALIDITY_SECONDS = 60;
/** Zaikio tokens live at most an hour, so no caller can need more validity than that. */
export const MAX_MIN_VALIDITY_SECONDS = 3600;

function bad(message: string): InvalidRequestError {
  return new InvalidRequestError('invalid_request', message);
}

export function assertMinValiditySeconds(value: unknown): asserts value is number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 0 ||
    value > MAX_MIN_VALIDITY_SECONDS
  ) {
    throw bad(`minValiditySeconds must be a whole number from 0 to ${MAX_MIN_VALIDITY_SECONDS}`);
  }
}

/**
 * The scope set of a request in one of its three forms: `scope` (Zaikio's string form), or
 * `organizationId` / `personId` with `scopes`. Exactly one form; the rules of scopes.ts apply.
 */
export function parseRequestScopes(fields: Readonly<Record<string, unknown>>): ScopeSet {
  const { scope, organizationId, personId, scopes } = fields;
  const forms = [scope, organizationId, personId].filter((value) => value !== undefined).length;
  if (forms !== 1) {
    throw bad(
      'give exactly one of "scope" (Zaikio string form), "organizationId" or "personId" (with "scopes")',
    );
  }
  if (scope !== undefined) {
    if (scopes !== undefined) throw bad('"scopes" goes with organizationId or personId, not with "scope"');
    return parseScopeString(scope);
  }
  const id = organizationId ?? personId;
  assertBearerId(id, organizationId === undefined ? 'personId' : 'organizationId');
  if (!Array.isArray(scopes)) throw bad('"scopes" must be an array like ["warehouse.items.r"]');
  return scopeSet({ type: organizationId === undefined ? 'Person' : 'Organization', id }, scopes);
}
