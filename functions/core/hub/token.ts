import type { Bearer } from '../scopes.js';

/** A token as the Hub issued it, validated, with its expiry computed once as an absolute time. */
export interface HubToken {
  readonly accessToken: string;
  /** Always "Bearer": the Hub's "bearer" normalized to RFC 6750 spelling. */
  readonly tokenType: 'Bearer';
  /** Granted scopes, bare (`app.scope.permission`), sorted. */
  readonly grantedScopes: readonly string[];
  readonly bearer: Bearer;
  /** Epoch ms. */
  readonly issuedAt: number;
  /** Epoch ms: the earlier of `expires_in` and the JWT's `exp`. */
  readonly expiresAt: number;
  readonly refreshToken?: string;
}

export type TokenGrant =
  | { readonly type: 'client_credentials' }
  | { readonly type: 'refresh_token'; readonly refreshToken: string };
