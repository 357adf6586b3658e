import type { ClientCredentials } from '../credentials.js';
import { formatScopeParameter, type ScopeSet } from '../scopes.js';
import type { TokenGrant } from './token.js';

export const TOKEN_PATH = '/oauth/access_token';

export interface HubHttpRequest {
  readonly method: 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Builds the token endpoint request: HTTP Basic client authentication and a form-encoded body, as
 * Zaikio's own client sends it. Pure, so the exact bytes are testable without a server.
 */
export function buildTokenRequest(
  basePath: string,
  grant: TokenGrant,
  scopes: ScopeSet,
  credentials: ClientCredentials,
): HubHttpRequest {
  const form = new URLSearchParams({ grant_type: grant.type });
  if (grant.type === 'client_credentials') form.set('scope', formatScopeParameter(scopes));
  else form.set('refresh_token', grant.refreshToken);
  return {
    method: 'POST',
    path: `${basePath}${TOKEN_PATH}`,
    headers: {
      authorization: credentials.basicAuthorization(),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: form.toString(),
  };
}
