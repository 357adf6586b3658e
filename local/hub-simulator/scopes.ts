/** Zaikio scope grammar `BEARER.APP.SCOPE.PERMISSION`, scope catalogue and grants. */
import type { SimulatorGrant } from './types.js';

const ID = '[a-z0-9-]+';
const APP = '[a-z][a-z0-9_]{2,}';
const NAME = '[a-z][a-z_]{2,}';
const PERM = 'rw|r|w';
const BEARER_RE = new RegExp(`^(Org|Per)/(${ID})$`);
const SCOPE_RE = new RegExp(`^(${APP}\\.${NAME})\\.(${PERM})$`);
const FULL_SCOPE_RE = new RegExp(`^(Org|Per)/(${ID})\\.(${APP}\\.${NAME})\\.(${PERM})$`);

/** Permission bit mask: r = 1, w = 2, rw = 3. */
export type PermMask = number;
const READ = 1;
const WRITE = 2;

export interface Bearer {
  readonly kind: 'Org' | 'Per';
  readonly id: string;
}

/** A scope without bearer: `resource` is `app.scope`, `perm` a mask. */
export interface Scope {
  readonly resource: string;
  readonly perm: PermMask;
}

export const bearerKey = (bearer: Bearer): string => `${bearer.kind}/${bearer.id}`;
export const bearerType = (bearer: Bearer): 'Organization' | 'Person' =>
  bearer.kind === 'Org' ? 'Organization' : 'Person';

const permMask = (text: string): PermMask =>
  (text.includes('r') ? READ : 0) | (text.includes('w') ? WRITE : 0);
const permText = (mask: PermMask): string => (mask & READ ? 'r' : '') + (mask & WRITE ? 'w' : '');

/** `warehouse.items.r` */
export const formatScope = (scope: Scope): string => `${scope.resource}.${permText(scope.perm)}`;
/** `Org/<id>.warehouse.items.r` */
export const formatFullScope = (bearer: Bearer, scope: Scope): string =>
  `${bearerKey(bearer)}.${formatScope(scope)}`;
/** `warehouse` */
export const scopeApp = (scope: Scope): string => scope.resource.slice(0, scope.resource.indexOf('.'));

export function parseBearer(text: string): Bearer | undefined {
  const m = BEARER_RE.exec(text);
  return m?.[1] !== undefined && m[2] !== undefined ? { kind: m[1] as Bearer['kind'], id: m[2] } : undefined;
}

/** Parses `warehouse.items.r`; also accepts a bearer-prefixed scope (the prefix is ignored). */
export function parseScope(text: string): Scope | undefined {
  const full = FULL_SCOPE_RE.exec(text);
  if (full?.[3] !== undefined && full[4] !== undefined) return { resource: full[3], perm: permMask(full[4]) };
  const m = SCOPE_RE.exec(text);
  return m?.[1] !== undefined && m[2] !== undefined ? { resource: m[1], perm: permMask(m[2]) } : undefined;
}

function parseScopeOrThrow(text: string): Scope {
  const scope = parseScope(text);
  if (scope === undefined) throw new RangeError(`malformed scope ${JSON.stringify(text)}`);
  return scope;
}

function parseBearerOrThrow(text: string): Bearer {
  const bearer = parseBearer(text);
  if (bearer === undefined) {
    throw new RangeError(`malformed bearer ${JSON.stringify(text)} (want Org/<id> or Per/<id>)`);
  }
  return bearer;
}

/** resource -> permission mask */
export class PermissionTable {
  readonly #masks = new Map<string, PermMask>();

  add(scope: Scope): void {
    this.#masks.set(scope.resource, (this.#masks.get(scope.resource) ?? 0) | scope.perm);
  }

  remove(scope: Scope): void {
    const left = (this.#masks.get(scope.resource) ?? 0) & ~scope.perm;
    if (left === 0) this.#masks.delete(scope.resource);
    else this.#masks.set(scope.resource, left);
  }

  covers(scope: Scope): boolean {
    return ((this.#masks.get(scope.resource) ?? 0) & scope.perm) === scope.perm;
  }

  merge(other: PermissionTable): void {
    for (const [resource, perm] of other.#masks) this.add({ resource, perm });
  }

  static of(scopes: readonly string[]): PermissionTable {
    const table = new PermissionTable();
    for (const text of scopes) table.add(parseScopeOrThrow(text));
    return table;
  }
}

/** What a bearer has granted to which app. */
export class GrantStore {
  readonly #entries: {
    readonly clientId: string | undefined;
    readonly bearer: string;
    readonly perms: PermissionTable;
  }[] = [];

  /** Validates and adds a grant; returns its scopes. Throws RangeError when malformed. */
  add(grant: SimulatorGrant): Scope[] {
    const bearer = bearerKey(parseBearerOrThrow(grant.bearer));
    const scopes = grant.scopes.map(parseScopeOrThrow);
    const perms = new PermissionTable();
    for (const scope of scopes) perms.add(scope);
    this.#entries.push({ clientId: grant.clientId, bearer, perms });
    return scopes;
  }

  /** Removes the given scopes (or every grant) of a bearer, for every app. */
  revoke(bearerText: string, scopes?: readonly string[]): void {
    const bearer = bearerKey(parseBearerOrThrow(bearerText));
    if (scopes === undefined) {
      for (let i = this.#entries.length - 1; i >= 0; i--) {
        if (this.#entries[i]?.bearer === bearer) this.#entries.splice(i, 1);
      }
      return;
    }
    const parsed = scopes.map(parseScopeOrThrow);
    for (const entry of this.#entries) {
      if (entry.bearer === bearer) for (const scope of parsed) entry.perms.remove(scope);
    }
  }

  /** The union of what the bearer granted to the app; undefined when the bearer has no grant for it. */
  lookup(clientId: string, bearer: Bearer): PermissionTable | undefined {
    const key = bearerKey(bearer);
    let table: PermissionTable | undefined;
    for (const entry of this.#entries) {
      if (entry.bearer !== key || (entry.clientId !== undefined && entry.clientId !== clientId)) continue;
      table ??= new PermissionTable();
      table.merge(entry.perms);
    }
    return table;
  }
}

export type ParsedScopes =
  | { readonly ok: true; readonly bearer: Bearer; readonly scopes: readonly Scope[] }
  | { readonly ok: false; readonly codes: readonly string[] };

/** Parses a client_credentials `scope` parameter (comma-separated, every scope with the same bearer). */
export function parseRequestedScopes(raw: string): ParsedScopes {
  const parts = raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const parsed: { bearer: Bearer; scope: Scope }[] = [];
  for (const part of parts) {
    const m = FULL_SCOPE_RE.exec(part);
    if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined || m[4] === undefined) {
      return { ok: false, codes: ['malformed_scope'] };
    }
    parsed.push({
      bearer: { kind: m[1] as Bearer['kind'], id: m[2] },
      scope: { resource: m[3], perm: permMask(m[4]) },
    });
  }
  const first = parsed[0];
  if (first === undefined) return { ok: false, codes: ['malformed_scope'] };
  if (parsed.some((p) => p.bearer.kind !== first.bearer.kind)) {
    return { ok: false, codes: ['different_bearer_types'] };
  }
  if (parsed.some((p) => p.bearer.id !== first.bearer.id)) {
    return { ok: false, codes: ['different_bearer_ids'] };
  }
  const unique = new Map<string, Scope>();
  for (const { scope } of parsed) unique.set(formatScope(scope), scope);
  return { ok: true, bearer: first.bearer, scopes: [...unique.values()] };
}

/** Removes permissions named in `drop` (`warehouse.items.w`, with or without bearer) from `scopes`. */
export function dropScopes(scopes: readonly Scope[], drop: readonly string[]): Scope[] {
  const dropped = PermissionTable.of(drop);
  const kept: Scope[] = [];
  for (const scope of scopes) {
    let perm = scope.perm;
    for (const bit of [READ, WRITE]) {
      if (perm & bit && dropped.covers({ resource: scope.resource, perm: bit })) perm &= ~bit;
    }
    if (perm !== 0) kept.push({ resource: scope.resource, perm });
  }
  return kept;
}
