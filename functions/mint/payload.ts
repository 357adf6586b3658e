/**
 * The mint function's JSON contract (docs/consumers.md): parsing the request, shaping the
 * response. Strict: unknown fields and wrong types are rejected with a message naming the field.
 */
import { InvalidRequestError } from '../core/errors.js';
import { assertBearerId, type Bearer, parseScopeString, scopeSet } from '../core/scopes.js';
import type { IssuedToken, TokenRequest } from '../core/token-service.js';

export interface MintResponse {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** ISO 8601. */
  readonly expiresAt: string;
  /** Granted scopes, `app.scope.permission`, sorted. */
  readonly scopes: readonly string[];
  readonly bearer: Bearer;
}

const FIELDS = new Set([
  'scope',
  'organizationId',
  'personId',
  'scopes',
  'client',
  'minValiditySeconds',
  'forceRefresh',
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

  const { scope, organizationId, personId, scopes, client, minValiditySeconds, forceRefresh } = fields;
  const forms = [scope !== undefined, organizationId !== undefined, personId !== undefined].filter(
    Boolean,
  ).length;
  if (forms !== 1) {
    throw bad(
      'give exactly one of "scope" (Zaikio string form), "organizationId" or "personId" (with "scopes")',
    );
  }
  let parsed: TokenRequest['scopes'];
  if (scope !== undefined) {
    if (scopes !== undefined) throw bad('"scopes" goes with organizationId or personId, not with "scope"');
    parsed = parseScopeString(scope);
  } else {
    const id = organizationId ?? personId;
    assertBearerId(id, organizationId === undefined ? 'personId' : 'organizationId');
    if (!Array.isArray(scopes)) throw bad('"scopes" must be an array like ["warehouse.items.r"]');
    parsed = scopeSet({ type: organizationId === undefined ? 'Person' : 'Organization', id }, scopes);
  }
  if (client !== undefined && typeof client !== 'string') throw bad('"client" must be a string');
  if (minValiditySeconds !== undefined && typeof minValiditySeconds !== 'number') {
    throw bad('"minValiditySeconds" must be a number');
  }
  if (forceRefresh !== undefined && typeof forceRefresh !== 'boolean')
    throw bad('"forceRefresh" must be a boolean');
  return { scopes: parsed, client, minValiditySeconds, forceRefresh };
}

export function mintResponse(token: IssuedToken): MintResponse {
  return {
    accessToken: token.accessToken,
    tokenType: token.tokenType,
    expiresAt: new Date(token.expiresAt).toISOString(),
    scopes: token.scopes,
    bearer: token.bearer,
  };
}
