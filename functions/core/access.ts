/**
 * Who may have which tokens (docs/deploy.md, "Security"). The mint function knows its caller by
 * the alias IAM let it invoke: Lambda reports the qualifier it authorized in `invokedFunctionArn`,
 * and a consumer's policy allows Invoke on its own alias only, so the alias names the grant. The
 * grant lists the bearers, scope patterns and apps the consumer may ask for. Pure: no SDK, no
 * Lambda types; the construct encodes grants with `encodeGrants`, the mint reads them with
 * `parseGrants`.
 */
import { AccessDeniedError, type BrokerErrorDetails, InvalidRequestError } from './errors.js';
import { bearerKey, type ScopeSet } from './scopes.js';

/** Every bearer, said explicitly (`allBearers: true` in the construct). */
export const ALL_BEARERS = '*';

export interface AccessPolicy {
  /** Partition keys (`Org/<id>`, `Per/<id>`) the consumer may have tokens of, or `*` for all. */
  readonly bearers: typeof ALL_BEARERS | readonly string[];
  /** Scope patterns: `app.scope.permission`, `app.scope.*`, `app.*` or `*`. */
  readonly scopes: readonly string[];
  /** The apps (client names) the consumer may ask for. */
  readonly clients: readonly string[];
  /** New keys (no item yet) one mint container creates for this consumer per hour. */
  readonly newKeysPerHour: number;
}

/** Consumer name (the mint alias) → its policy. */
export type AccessGrants = Readonly<Record<string, AccessPolicy>>;

/** What `newKeysPerHour` is when a grant does not say. */
export const DEFAULT_NEW_KEYS_PER_HOUR = 100;

/** A Lambda alias name that cannot be mistaken for a version ($LATEST, digits). */
const CONSUMER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const BEARER_KEY = /^(Org|Per)\/[a-z0-9-]{1,64}$/;
const PATTERN = /^(\*|[a-z][a-z0-9_]{2,}\.(\*|[a-z][a-z_]{2,}\.(\*|r|w|rw)))$/;
const CLIENT = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const HOUR_MS = 3_600_000;

export function isConsumerName(name: unknown): name is string {
  return typeof name === 'string' && CONSUMER_NAME.test(name);
}

export function isScopePattern(pattern: unknown): pattern is string {
  return typeof pattern === 'string' && PATTERN.test(pattern);
}

/**
 * Whether one granted pattern covers one requested scope (`app.scope.permission`). A granted `rw`
 * covers `r` and `w` too, as the Hub's own grants do.
 */
export function patternCovers(pattern: string, scope: string): boolean {
  if (pattern === '*' || pattern === scope) return true;
  const [app, name, permission] = scope.split('.');
  const [pApp, pName, pPermission] = pattern.split('.');
  if (pApp !== app) return false;
  if (pName === '*') return true;
  if (pName !== name) return false;
  return pPermission === '*' || (pPermission === 'rw' && (permission === 'r' || permission === 'w'));
}

/** The requested scopes no pattern of the grant covers. */
export function scopesNotAllowed(patterns: readonly string[], scopes: readonly string[]): string[] {
  return scopes.filter((scope) => !patterns.some((pattern) => patternCovers(pattern, scope)));
}

/** The alias of `arn:aws:lambda:<region>:<account>:function:<name>:<alias>`; none when unqualified. */
export function qualifierOf(invokedFunctionArn: string | undefined): string | undefined {
  const parts = invokedFunctionArn?.split(':') ?? [];
  return parts.length === 8 && parts[5] === 'function' ? parts[7] : undefined;
}

export interface Caller {
  readonly consumer: string;
  readonly policy: AccessPolicy;
}

function denied(
  code: AccessDeniedError['code'],
  message: string,
  details: BrokerErrorDetails = {},
): AccessDeniedError {
  return new AccessDeniedError(code, message, details);
}

/**
 * The consumer behind an invocation, from the ARN Lambda reports. An unqualified invocation (or a
 * version, `$LATEST`, an alias no grant names) identifies no one and is refused.
 */
export function identifyCaller(
  grants: AccessGrants,
  invokedFunctionArn: string | undefined,
): Caller | AccessDeniedError {
  const qualifier = qualifierOf(invokedFunctionArn);
  if (qualifier === undefined) {
    return denied(
      'unidentified_caller',
      'the mint function was invoked without a consumer alias; invoke the alias your grant created ' +
        '(MINT_FUNCTION_NAME, set by grantTokenAccess)',
    );
  }
  const policy = Object.hasOwn(grants, qualifier) ? grants[qualifier] : undefined;
  if (policy === undefined) {
    return denied('access_denied', `no grant names the consumer "${qualifier.slice(0, 64)}"`, {
      consumer: qualifier.slice(0, 64),
    });
  }
  return { consumer: qualifier, policy };
}

/** Whether the caller's grant covers the app, the bearer and every scope asked for. */
export function checkRequest(
  caller: Caller,
  request: { readonly client: string; readonly scopes: ScopeSet },
): AccessDeniedError | undefined {
  const { consumer, policy } = caller;
  if (!policy.clients.includes(request.client)) {
    return denied('client_not_allowed', `consumer "${consumer}" is not granted the app "${request.client}"`, {
      consumer,
      refused: [request.client],
    });
  }
  const bearer = bearerKey(request.scopes.bearer);
  if (policy.bearers !== ALL_BEARERS && !policy.bearers.includes(bearer)) {
    return denied('bearer_not_allowed', `consumer "${consumer}" is not granted tokens of ${bearer}`, {
      consumer,
      refused: [bearer],
    });
  }
  const refused = scopesNotAllowed(policy.scopes, request.scopes.scopes);
  if (refused.length > 0) {
    return denied(
      'scope_not_allowed',
      `consumer "${consumer}" is not granted the scope(s) ${refused.join(', ')}`,
      { consumer, refused },
    );
  }
  return undefined;
}

/** One consumer's count of new keys in the current clock hour. */
export interface NewKeyWindow {
  readonly hour: number;
  readonly count: number;
}

/** Admits one more new key in this hour, or refuses once the grant's ceiling is reached. */
export function admitNewKey(
  window: NewKeyWindow | undefined,
  caller: Caller,
  now: number,
): NewKeyWindow | AccessDeniedError {
  const hour = Math.floor(now / HOUR_MS);
  const count = window?.hour === hour ? window.count : 0;
  if (count < caller.policy.newKeysPerHour) return { hour, count: count + 1 };
  return denied(
    'new_key_limit',
    `consumer "${caller.consumer}" asked for more than ${caller.policy.newKeysPerHour} new tokens this hour ` +
      '(its grant’s newKeysPerHour); tokens it already has are still served',
    { consumer: caller.consumer, retryAt: new Date((hour + 1) * HOUR_MS).toISOString() },
  );
}

/** The mint container's new-key counts, one window per consumer. */
export class NewKeyLedger {
  readonly #windows = new Map<string, NewKeyWindow>();

  /** Counts a new key for `caller`, or throws its refusal. */
  admit(caller: Caller, now: number): void {
    const result = admitNewKey(this.#windows.get(caller.consumer), caller, now);
    if (result instanceof AccessDeniedError) throw result;
    this.#windows.set(caller.consumer, result);
  }
}

function invalid(message: string): InvalidRequestError {
  return new InvalidRequestError('invalid_request', `grants: ${message}`);
}

function stringList(value: unknown, what: string, valid: (item: string) => boolean): string[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid(`${what} must be a non-empty list`);
  for (const item of value) {
    if (typeof item !== 'string' || !valid(item))
      throw invalid(`${what}: ${JSON.stringify(item)} is not valid`);
  }
  return [...value] as string[];
}

/** One policy, checked: the construct writes it, but the mint trusts nothing it cannot parse. */
export function parsePolicy(value: unknown, consumer: string): AccessPolicy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`consumer "${consumer}" must be an object`);
  }
  const {
    bearers,
    scopes,
    clients,
    newKeysPerHour = DEFAULT_NEW_KEYS_PER_HOUR,
  } = value as Record<string, unknown>;
  if (typeof newKeysPerHour !== 'number' || !Number.isSafeInteger(newKeysPerHour) || newKeysPerHour < 0) {
    throw invalid(`consumer "${consumer}": newKeysPerHour must be a whole number, 0 or more`);
  }
  return {
    bearers:
      bearers === ALL_BEARERS
        ? ALL_BEARERS
        : stringList(bearers, `consumer "${consumer}": bearers`, (key) => BEARER_KEY.test(key)),
    scopes: stringList(scopes, `consumer "${consumer}": scopes`, isScopePattern),
    clients: stringList(clients, `consumer "${consumer}": clients`, (client) => CLIENT.test(client)),
    newKeysPerHour,
  };
}

/** ZAIKIO_GRANTS: a JSON object, consumer name → policy. */
export function parseGrants(text: string | undefined): AccessGrants {
  if (text === undefined || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('must be a JSON object of consumer name → policy');
  }
  const grants: Record<string, AccessPolicy> = {};
  for (const [consumer, policy] of Object.entries(value)) {
    if (!isConsumerName(consumer)) throw invalid(`${JSON.stringify(consumer)} is not a consumer name`);
    grants[consumer] = parsePolicy(policy, consumer);
  }
  return grants;
}

/**
 * The compact JSON the construct puts in the mint's environment (Lambda allows 4 KB for all of
 * it): the default `newKeysPerHour` is left out.
 */
export function encodeGrants(grants: AccessGrants): string {
  const compact = Object.fromEntries(
    Object.entries(grants).map(([consumer, { bearers, scopes, clients, newKeysPerHour }]) => [
      consumer,
      {
        bearers,
        scopes,
        clients,
        ...(newKeysPerHour === DEFAULT_NEW_KEYS_PER_HOUR ? {} : { newKeysPerHour }),
      },
    ]),
  );
  return JSON.stringify(compact);
}
