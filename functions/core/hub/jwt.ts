/**
 * Reads claims from a JWT without verifying it. The broker only uses `exp` as a second opinion on
 * expiry and `scope` as a fallback list of granted scopes; the token's audience verifies it.
 */
export interface UnverifiedClaims {
  readonly exp?: number;
  readonly scope?: readonly string[] | string;
}

/** Returns undefined for anything that is not a three-part JWT with a JSON payload (opaque tokens). */
export function readUnverifiedClaims(token: string): UnverifiedClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { exp, scope } = payload as Record<string, unknown>;
  const claims: { exp?: number; scope?: readonly string[] | string } = {};
  if (typeof exp === 'number' && Number.isFinite(exp)) claims.exp = exp;
  if (typeof scope === 'string') claims.scope = scope;
  else if (Array.isArray(scope) && scope.every((item) => typeof item === 'string')) claims.scope = scope;
  return claims;
}
