/** The Hub's `POST /oauth/access_token` logic, without HTTP plumbing and preemptive faults. */
import { randomUUID } from 'node:crypto';
import type { SuccessFault } from './faults.js';
import {
  invalidClient,
  invalidGrant,
  invalidRequest,
  jsonReply,
  type PresentedCredentials,
  type Reply,
  scopeErrors,
  secretsEqual,
} from './http.js';
import { opaqueToken, signJwt } from './jwt.js';
import {
  type Bearer,
  bearerType,
  dropScopes,
  formatFullScope,
  formatScope,
  type GrantStore,
  type PermissionTable,
  parseRequestedScopes,
  type Scope,
  scopeApp,
} from './scopes.js';

interface RefreshRecord {
  readonly clientId: string;
  readonly bearer: Bearer;
  readonly scopes: readonly Scope[];
  readonly expiresAt: number;
}

/** Single-use refresh tokens. */
export class RefreshStore {
  readonly #live = new Map<string, RefreshRecord>();
  readonly #used = new Set<string>();

  issue(record: RefreshRecord): string {
    const token = opaqueToken();
    this.#live.set(token, record);
    return token;
  }

  /** Takes a token out of use; a reason string when it cannot be used. */
  consume(token: string, clientId: string, nowMs: number): RefreshRecord | string {
    if (this.#used.has(token)) return 'The refresh token has already been used.';
    const record = this.#live.get(token);
    if (record === undefined) return 'The refresh token is unknown.';
    if (record.clientId !== clientId) return 'The refresh token was issued to another client.';
    this.#live.delete(token);
    this.#used.add(token);
    if (nowMs >= record.expiresAt) return 'The refresh token has expired.';
    return record;
  }
}

export interface EndpointState {
  readonly secrets: ReadonlyMap<string, string>;
  readonly grants: GrantStore;
  /** The scope catalogue. */
  readonly catalogue: PermissionTable;
  readonly refreshTokens: RefreshStore;
  readonly signingKey: Buffer;
  readonly tokenLifetimeSeconds: number;
  readonly issueRefreshTokens: boolean;
  readonly refreshTokenLifetimeSeconds: number;
  readonly nowMs: number;
}

export interface EndpointResult {
  readonly reply: Reply;
  /** Whether the success fault given was applied (only to success responses). */
  readonly faultApplied: boolean;
}

const error = (reply: Reply): EndpointResult => ({ reply, faultApplied: false });

export function tokenEndpoint(
  state: EndpointState,
  params: ReadonlyMap<string, string>,
  credentials: PresentedCredentials,
  fault: SuccessFault | undefined,
): EndpointResult {
  const grantType = params.get('grant_type');
  if (grantType === undefined || grantType === '') {
    return error(invalidRequest('Missing required parameter: grant_type.'));
  }
  if (grantType !== 'client_credentials' && grantType !== 'refresh_token') {
    return error(
      jsonReply(400, {
        error: 'unsupported_grant_type',
        error_description: 'The authorization grant type is not supported by the authorization server.',
      }),
    );
  }
  const { clientId, clientSecret } = credentials;
  const secret = clientId === undefined ? undefined : state.secrets.get(clientId);
  if (
    clientId === undefined ||
    clientSecret === undefined ||
    secret === undefined ||
    !secretsEqual(clientSecret, secret)
  ) {
    return error(invalidClient());
  }
  return grantType === 'client_credentials'
    ? clientCredentials(state, clientId, params.get('scope'), fault)
    : refresh(state, clientId, params.get('refresh_token'), fault);
}

function clientCredentials(
  state: EndpointState,
  clientId: string,
  rawScope: string | undefined,
  fault: SuccessFault | undefined,
): EndpointResult {
  if (rawScope === undefined || rawScope.trim() === '') {
    return error(invalidRequest('Missing required parameter: scope.'));
  }
  const parsed = parseRequestedScopes(rawScope);
  if (!parsed.ok) return error(scopeErrors(parsed.codes, 400));
  const granted = state.grants.lookup(clientId, parsed.bearer);
  if (granted === undefined) return error(scopeErrors(['bearer_does_not_exist']));
  // Scopes that do not exist are silently dropped, as the real Hub does.
  const known = parsed.scopes.filter((scope) => state.catalogue.covers(scope));
  if (known.length === 0 || known.some((scope) => !granted.covers(scope))) {
    return error(scopeErrors(['ungranted_scope']));
  }
  return issue(state, clientId, parsed.bearer, known, state.issueRefreshTokens, fault);
}

function refresh(
  state: EndpointState,
  clientId: string,
  token: string | undefined,
  fault: SuccessFault | undefined,
): EndpointResult {
  if (token === undefined || token === '') {
    return error(invalidRequest('Missing required parameter: refresh_token.'));
  }
  const record = state.refreshTokens.consume(token, clientId, state.nowMs);
  if (typeof record === 'string') return error(invalidGrant(record));
  const granted = state.grants.lookup(clientId, record.bearer);
  if (granted === undefined || record.scopes.some((scope) => !granted.covers(scope))) {
    return error(invalidGrant("The bearer's permissions changed since the refresh token was issued."));
  }
  return issue(state, clientId, record.bearer, record.scopes, true, fault);
}

function issue(
  state: EndpointState,
  clientId: string,
  bearer: Bearer,
  requested: readonly Scope[],
  withRefreshToken: boolean,
  fault: SuccessFault | undefined,
): EndpointResult {
  const scopes = fault?.kind === 'partialGrant' ? dropScopes(requested, fault.drop) : requested;
  const lifetime = state.tokenLifetimeSeconds;
  const iat = Math.floor(state.nowMs / 1000);
  const audiences = [...new Set(scopes.map(scopeApp))];
  const accessToken =
    fault?.kind === 'opaqueToken'
      ? opaqueToken()
      : signJwt(
          {
            iss: 'ZAI',
            sub: `${bearerType(bearer)}/${bearer.id}`,
            aud: audiences,
            jti: randomUUID(),
            nbf: iat,
            iat,
            exp: iat + lifetime - (fault?.kind === 'jwtExpEarlier' ? fault.bySeconds : 0),
            scope: scopes.map((scope) => formatFullScope(bearer, scope)),
          },
          state.signingKey,
        );
  const body: Record<string, unknown> = { access_token: accessToken };
  if (withRefreshToken) {
    body.refresh_token = state.refreshTokens.issue({
      clientId,
      bearer,
      scopes,
      expiresAt: state.nowMs + state.refreshTokenLifetimeSeconds * 1000,
    });
  }
  body.token_type = 'bearer';
  body.scope = scopes.map(formatScope).join(',');
  body.audiences = audiences;
  body.expires_in =
    fault?.kind === 'expiresInIso' ? new Date(state.nowMs + lifetime * 1000).toISOString() : lifetime;
  body.bearer = { id: bearer.id, type: bearerType(bearer) };
  if (fault?.kind === 'missingField') deletePath(body, fault.field);
  return { reply: jsonReply(200, body), faultApplied: fault !== undefined };
}

/** Deletes `field`, or a nested `a.b` field. */
function deletePath(body: Record<string, unknown>, field: string): void {
  const path = field.split('.');
  const last = path.pop();
  let target: unknown = body;
  for (const key of path) {
    target =
      typeof target === 'object' && target !== null ? (target as Record<string, unknown>)[key] : undefined;
  }
  if (last !== undefined && typeof target === 'object' && target !== null) {
    delete (target as Record<string, unknown>)[last];
  }
}
