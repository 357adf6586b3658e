/**
 * A grant as people write it (the construct's `grantTokenAccess` and `addConsumer`, the local
 * runtime's consumers file) turned into the policy the mint enforces (access.ts). One function for
 * both, so a grant means the same in AWS and on one machine. Pure.
 */
import { type AccessPolicy, ALL_BEARERS, DEFAULT_NEW_KEYS_PER_HOUR, isScopePattern } from './access.js';
import { assertBearerId, bearerKey } from './scopes.js';

export interface GrantOptions {
  /** Zaikio organization ids whose tokens the consumer may read and ask for. */
  readonly organizations?: readonly string[];
  /** Zaikio person ids whose tokens the consumer may read and ask for. */
  readonly persons?: readonly string[];
  /** Every bearer: must be said, never a default. Not together with organizations or persons. */
  readonly allBearers?: boolean;
  /** Scope patterns: `warehouse.items.r`, `warehouse.items.*`, `warehouse.*`, or `*` for all. */
  readonly scopes?: readonly string[];
  /** App names. @default the broker's default app only */
  readonly clients?: readonly string[];
  /** New keys one mint container creates for this consumer per hour. @default 100 */
  readonly newKeysPerHour?: number;
}

function fail(where: string, message: string): never {
  throw new Error(`${where}: ${message}`);
}

/**
 * The partition keys a grant covers, or `*`. A grant must name its bearers or say `allBearers:
 * true`: leaving them out never means everyone.
 */
export function grantedBearers(options: GrantOptions, where: string): typeof ALL_BEARERS | string[] {
  const { organizations, persons, allBearers } = options;
  if (allBearers === true) {
    if (organizations !== undefined || persons !== undefined) {
      fail(where, 'allBearers: true grants every bearer; leave out organizations and persons');
    }
    return ALL_BEARERS;
  }
  if (allBearers !== undefined && allBearers !== false) fail(where, 'allBearers must be true or left out');
  if (organizations === undefined && persons === undefined) {
    fail(
      where,
      'name the bearers (organizations and/or persons), or grant every bearer with allBearers: true',
    );
  }
  const keys: string[] = [];
  for (const [list, type, field] of [
    [organizations, 'Organization', 'organizations'],
    [persons, 'Person', 'persons'],
  ] as const) {
    if (list === undefined) continue;
    if (list.length === 0) fail(where, `${field} must not be empty; leave it out or name at least one id`);
    for (const id of list) {
      try {
        assertBearerId(id, `${type === 'Organization' ? 'organization' : 'person'} id`);
      } catch (error) {
        fail(where, `${field}: ${(error as Error).message}`);
      }
      keys.push(bearerKey({ type, id }));
    }
  }
  return [...new Set(keys)];
}

/** The policy the mint function enforces for this grant; `defaultClient` is the broker's default app. */
export function grantPolicy(options: GrantOptions, defaultClient: string, where: string): AccessPolicy {
  const { scopes, clients = [defaultClient], newKeysPerHour = DEFAULT_NEW_KEYS_PER_HOUR } = options;
  const bearers = grantedBearers(options, where);
  if (scopes === undefined || scopes.length === 0) {
    fail(where, 'scopes must name at least one scope pattern, e.g. ["warehouse.items.r"] or ["warehouse.*"]');
  }
  for (const pattern of scopes) {
    if (!isScopePattern(pattern)) {
      fail(
        where,
        `scope pattern ${JSON.stringify(pattern)} must be app.scope.permission, app.scope.*, app.* or *`,
      );
    }
  }
  if (clients.length === 0) fail(where, 'clients must not be empty; leave it out for the default app');
  if (!Number.isSafeInteger(newKeysPerHour) || newKeysPerHour < 0) {
    fail(where, 'newKeysPerHour must be a whole number, 0 or more');
  }
  return { bearers, scopes: [...new Set(scopes)], clients: [...new Set(clients)], newKeysPerHour };
}
