/**
 * The mint function's JSON contract (docs/consumers.md): parsing the request, shaping the
 * response. Strict: unknown fields and wrong types are rejected with a message naming the field.
 */
import { InvalidRequestError } from '../core/errors.js';
import type { Bearer } from '../core/scopes.js';
import { type IssuedToken, parseRequestScopes, type TokenRequest } from '../core/token-request.js';

/** The mint function's answer on the wire: an IssuedToken with its times as ISO 8601. */
export interface MintResponse {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** ISO 8601. */
  readonly issuedAt: string;
  /** ISO 8601. */
  readonly expiresAt: string;
  /** Granted scopes, `app.scope.permission`, sorted. */
  readonly scopes: readonly string[];
  readonly bearer: Bearer;
}

/** The answer to a use report (`useReport: true`): whether the use was written; never a token. */
export interface UseReportResponse {
  readonly useRecorded: boolean;
}

const FIELDS = new Set([
  'scope',
  'organizationId',
  'personId',
  'scopes',
  'client',
  'minValiditySeconds',
  'forceRefresh',
  'useReport',
]);

function bad(message: string): InvalidRequestError {
  return new InvalidRequestError('invalid_request', message);
}

export function parseMintRequest(event: unknown): TokenRequest {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw bad('the request must be a JSON object, e.g. {"scope": "Org/<uuid>.warehouse.items.r"}');
  }
  const fields = event as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((name) => !FIELDS.has(name));
  if (unknown.length > 0) throw bad(`unknown field(s): ${unknown.join(', ')}`);

  const { client, minValiditySeconds, forceRefresh, useReport } = fields;
  const scopes = parseRequestScopes(fields);
  if (client !== undefined && typeof client !== 'string') throw bad('"client" must be a string');
  if (minValiditySeconds !== undefined && typeof minValiditySeconds !== 'number') {
    throw bad('"minValiditySeconds" must be a number');
  }
  if (useReport !== undefined && typeof useReport !== 'boolean') throw bad('"useReport" must be a boolean');
  if (useReport === true && forceRefresh !== undefined && forceRefresh !== false) {
    throw bad('"useReport" reports a token in use; it cannot also force a refresh');
  }
  return {
    scopes,
    client,
    minValiditySeconds,
    forceRefresh: parseForceRefresh(forceRefresh),
    ...(useReport === true ? { useReport } : {}),
  };
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The rejected token, named by `{"accessTokenSha256": "<hex>"}`; `true`, the older form, names none
 * (lifecycle/mint.ts says what each replaces).
 */
function parseForceRefresh(value: unknown): TokenRequest['forceRefresh'] {
  if (value === undefined || typeof value === 'boolean') return value;
  const usage = '"forceRefresh" must be a boolean or name the rejected token: {"accessTokenSha256": "<hex>"}';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(usage);
  const fields = value as Record<string, unknown>;
  const keys = Object.keys(fields);
  const { accessTokenSha256 } = fields;
  if (keys.length !== 1 || typeof accessTokenSha256 !== 'string' || !SHA256_HEX.test(accessTokenSha256)) {
    throw bad(usage);
  }
  return { accessTokenSha256 };
}

export function mintResponse(token: IssuedToken): MintResponse {
  return {
    accessToken: token.accessToken,
    tokenType: token.tokenType,
    issuedAt: new Date(token.issuedAt).toISOString(),
    expiresAt: new Date(token.expiresAt).toISOString(),
    scopes: token.scopes,
    bearer: token.bearer,
  };
}
