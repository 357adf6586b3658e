/**
 * A consumer's token request, normalized once: the DynamoDB key it reads and the mint payload it
 * sends on a miss. Both forms of a request for the same scopes map to the same key.
 */
import { InvalidRequestError } from '../core/errors.js';
import { type TokenKey, tokenKey } from '../core/store/key.js';
import { assertMinValiditySeconds, parseRequestScopes } from '../core/token-request.js';

type RequestCommon = {
  /** The Zaikio app; the mint function's default app when omitted. */
  readonly client?: string;
  /** @default the client's minValiditySeconds (60) */
  readonly minValiditySeconds?: number;
};

/** One of three forms, as the mint function accepts them. */
export type AccessTokenRequest = RequestCommon &
  (
    | {
        readonly organizationId: string;
        /** `app.scope.permission`, e.g. `warehouse.items.r`. */
        readonly scopes: readonly string[];
        readonly personId?: never;
        readonly scope?: never;
      }
    | {
        readonly personId: string;
        readonly scopes: readonly string[];
        readonly organizationId?: never;
        readonly scope?: never;
      }
    | {
        /** Zaikio's string form: `Org/<uuid>.warehouse.items.r,Org/<uuid>.zaikio.organization.r`. */
        readonly scope: string;
        readonly organizationId?: never;
        readonly personId?: never;
        readonly scopes?: never;
      }
  );

/** The mint function's request (docs/consumers.md), in its organizationId/personId form. */
export interface MintPayload {
  readonly organizationId?: string;
  readonly personId?: string;
  readonly scopes: readonly string[];
  readonly client?: string;
  readonly minValiditySeconds: number;
  /** The rejected token's SHA-256 (hex); `true` when the client does not know which token it was. */
  readonly forceRefresh?: true | { readonly accessTokenSha256: string };
  /** A use report, not a request for a token (functions/consumer/mint.ts reportUse). */
  readonly useReport?: true;
}

export interface ResolvedRequest {
  readonly key: TokenKey;
  /** The key as one string: the in-memory cache's key. */
  readonly id: string;
  readonly minValidityMs: number;
  readonly payload: MintPayload;
}

function bad(message: string): InvalidRequestError {
  return new InvalidRequestError('invalid_request', message);
}

export function resolveRequest(
  request: AccessTokenRequest,
  defaults: { readonly defaultClient: string; readonly minValiditySeconds: number },
): ResolvedRequest {
  if (typeof request !== 'object' || request === null) throw bad('the request must be an object');
  const { client, minValiditySeconds = defaults.minValiditySeconds } = request;
  if (client !== undefined && (typeof client !== 'string' || client === '')) {
    throw bad('"client" must be a non-empty string');
  }
  assertMinValiditySeconds(minValiditySeconds);
  const scopes = parseRequestScopes(request);
  const key = tokenKey(client ?? defaults.defaultClient, scopes);
  const bearerField = scopes.bearer.type === 'Organization' ? 'organizationId' : 'personId';
  return {
    key,
    id: `${key.pk} ${key.sk}`,
    minValidityMs: minValiditySeconds * 1000,
    payload: {
      [bearerField]: scopes.bearer.id,
      scopes: scopes.scopes,
      // Always named: a consumer whose default differs from the broker's gets a clear unknown_client
      // error instead of reading one key and minting another.
      client: client ?? defaults.defaultClient,
      minValiditySeconds,
    },
  };
}
