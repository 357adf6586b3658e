/**
 * Zaikio scopes: `BEARER.APP.SCOPE.PERMISSION`, e.g. `Org/b1475f65-….warehouse.items.r`.
 * A request names one bearer and a set of scopes; the set is sorted and de-duplicated so that the
 * same request always maps to the same stored token.
 */
import { InvalidRequestError } from './errors.js';

export type BearerType = 'Organization' | 'Person';
export interface Bearer {
  readonly type: BearerType;
  readonly id: string;
}

/** One bearer and its scopes in `app.scope.permission` form, sorted and unique. */
export interface ScopeSet {
  readonly bearer: Bearer;
  readonly scopes: readonly string[];
}

const BEARER_PREFIX: Readonly<Record<string, BearerType>> = { Org: 'Organization', Per: 'Person' };
const PREFIX_OF: Readonly<Record<BearerType, string>> = { Organization: 'Org', Person: 'Per' };
const BEARER_ID = /^[a-z0-9-]+$/;
const APP = /^[a-z][a-z0-9_]{2,}$/;
const SCOPE = /^[a-z][a-z_]{2,}$/;
const PERMISSIONS = new Set(['r', 'w', 'rw']);
/** Far above any real request; keeps a hostile payload from making a huge key. */
const MAX_SCOPES = 50;

function malformed(message: string): InvalidRequestError {
  return new InvalidRequestError('malformed_scope', message);
}

/** Caller input quoted in a message, cut short: errors and log lines must stay small. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

export function assertBearerId(id: unknown, field = 'bearer id'): asserts id is string {
  if (typeof id !== 'string' || !BEARER_ID.test(id) || id.length > 64) {
    throw malformed(`${field} must be a lowercase id of letters, digits and '-' (a UUID in practice)`);
  }
}

/** Validates one `app.scope.permission` and returns it unchanged. */
export function parseBareScope(scope: unknown): string {
  if (typeof scope !== 'string' || scope.length === 0) {
    throw malformed('each scope must be a non-empty string like "warehouse.items.r"');
  }
  const parts = scope.split('.');
  const [app, name, permission] = parts;
  if (parts.length !== 3 || app === undefined || name === undefined || permission === undefined) {
    throw malformed(
      `scope ${quoted(scope)} must have the form app.scope.permission, e.g. "warehouse.items.r"`,
    );
  }
  if (!APP.test(app)) throw malformed(`scope ${quoted(scope)}: app ${quoted(app)} must match ${APP.source}`);
  if (!SCOPE.test(name))
    throw malformed(`scope ${quoted(scope)}: scope name ${quoted(name)} must match ${SCOPE.source}`);
  if (!PERMISSIONS.has(permission)) {
    throw malformed(`scope ${quoted(scope)}: permission ${quoted(permission)} must be r, w or rw`);
  }
  return scope;
}

function parseBearer(text: string, whole: string): Bearer {
  const slash = text.indexOf('/');
  const prefix = text.slice(0, slash);
  const type = slash > 0 ? BEARER_PREFIX[prefix] : undefined;
  if (type === undefined) {
    throw malformed(`scope ${quoted(whole)} must start with a bearer "Org/<id>." or "Per/<id>."`);
  }
  const id = text.slice(slash + 1);
  assertBearerId(id, `bearer id in ${quoted(whole)}`);
  return { type, id };
}

/** Builds a normalized set from a bearer and bare scopes. */
export function scopeSet(bearer: Bearer, scopes: readonly unknown[]): ScopeSet {
  if (scopes.length === 0) throw malformed('at least one scope is required');
  if (scopes.length > MAX_SCOPES) throw malformed(`at most ${MAX_SCOPES} scopes per request`);
  const unique = [...new Set(scopes.map(parseBareScope))].sort();
  return { bearer, scopes: unique };
}

/** Parses Zaikio's string form: comma-separated scopes that all carry the same bearer. */
export function parseScopeString(text: unknown): ScopeSet {
  if (typeof text !== 'string' || text.trim() === '') {
    throw malformed('scope must be a non-empty string like "Org/<uuid>.warehouse.items.r"');
  }
  let bearer: Bearer | undefined;
  const bare: string[] = [];
  for (const raw of text.split(',')) {
    const full = raw.trim();
    // The bearer id may not contain dots, so the first dot ends it.
    const dot = full.indexOf('.');
    const found = parseBearer(dot < 0 ? full : full.slice(0, dot), full);
    if (dot < 0) throw malformed(`scope ${quoted(full)} names a bearer but no app.scope.permission`);
    if (bearer === undefined) bearer = found;
    else if (bearer.type !== found.type) {
      throw malformed(`all scopes must name the same bearer type; ${quoted(full)} differs from the first`);
    } else if (bearer.id !== found.id) {
      throw malformed(`all scopes must name the same bearer id; ${quoted(full)} differs from the first`);
    }
    bare.push(full.slice(dot + 1));
  }
  if (bearer === undefined) throw malformed('scope names no bearer');
  return scopeSet(bearer, bare);
}

/** `Org/<id>` or `Per/<id>`: the token's partition key and the prefix of every full scope. */
export function bearerKey(bearer: Bearer): string {
  return `${PREFIX_OF[bearer.type]}/${bearer.id}`;
}

export function fullScope(bearer: Bearer, scope: string): string {
  return `${bearerKey(bearer)}.${scope}`;
}

/** The `scope` parameter the Hub expects: comma-separated full scopes. */
export function formatScopeParameter(set: ScopeSet): string {
  return set.scopes.map((scope) => fullScope(set.bearer, scope)).join(',');
}

/** `rw` covers a request for `r` or `w`; everything else must match exactly. */
function covers(granted: ReadonlySet<string>, requested: string): boolean {
  if (granted.has(requested)) return true;
  const cut = requested.lastIndexOf('.');
  const permission = requested.slice(cut + 1);
  return permission !== 'rw' && granted.has(`${requested.slice(0, cut)}.rw`);
}

/** Requested scopes (bare form) that the granted list does not cover. */
export function missingScopes(requested: readonly string[], granted: readonly string[]): string[] {
  const grantedSet = new Set(granted);
  return requested.filter((scope) => !covers(grantedSet, scope));
}

/**
 * Normalizes the Hub's `scope` answer: comma-separated, normally without the bearer prefix, but a
 * prefixed form (or a JSON array) is accepted too. A prefix naming another bearer is dropped, not
 * trusted.
 */
export function parseGrantedScopes(bearer: Bearer, granted: string | readonly string[]): string[] {
  const prefix = `${bearerKey(bearer)}.`;
  const items = typeof granted === 'string' ? granted.split(/[,\s]+/) : granted;
  const result = new Set<string>();
  for (const item of items) {
    const scope = item.trim();
    if (scope === '') continue;
    if (scope.includes('/')) {
      if (scope.startsWith(prefix)) result.add(scope.slice(prefix.length));
    } else {
      result.add(scope);
    }
  }
  return [...result].sort();
}
