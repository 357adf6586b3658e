import type { HubSimulatorOptions, SimulatorApp, SimulatorGrant } from './types.js';

export const TOKEN_PATH = '/oauth/access_token';

export const DEFAULT_APP: SimulatorApp = { clientId: 'sim-client', clientSecret: 'sim-secret' };

/** The default scope catalogue; `rw` entries also make `r` and `w` known. */
export const DEFAULT_KNOWN_SCOPES: readonly string[] = [
  'warehouse.items.r',
  'warehouse.items.w',
  'warehouse.items.rw',
  'warehouse.stocks.rw',
  'zaikio.organization.r',
  'zaikio.organization.rw',
  'zaikio.person.r',
  'zaikio.sites.rw',
  'zaikio.machines.rw',
  'procurement.orders.r',
  'procurement.orders.rw',
  'mission_control.jobs.rw',
];

export const DEFAULT_TOKEN_LIFETIME_SECONDS = 600;
export const DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS = 7 * 24 * 60 * 60;
export const MAX_BODY_BYTES = 64 * 1024;

export interface ResolvedOptions {
  readonly host: string;
  readonly port: number;
  readonly apps: readonly SimulatorApp[];
  readonly grants: readonly SimulatorGrant[];
  /** undefined: the default catalogue, which grows with every granted scope. */
  readonly knownScopes: readonly string[] | undefined;
  readonly tokenLifetimeSeconds: number;
  readonly issueRefreshTokens: boolean;
  readonly refreshTokenLifetimeSeconds: number;
  readonly latencyMs: number;
  readonly clock: () => number;
  readonly random: () => number;
  readonly log: ((line: string) => void) | undefined;
}

export function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

export function resolveOptions(options: HubSimulatorOptions = {}): ResolvedOptions {
  const apps = options.apps ?? [DEFAULT_APP];
  const seen = new Set<string>();
  for (const app of apps) {
    if (app.clientId === '' || app.clientSecret === '') {
      throw new RangeError('app credentials must not be empty');
    }
    if (seen.has(app.clientId)) throw new RangeError(`duplicate app clientId ${app.clientId}`);
    seen.add(app.clientId);
  }
  const port = options.port ?? 0;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`bad port ${String(port)}`);
  }
  return {
    host: options.host ?? '127.0.0.1',
    port,
    apps,
    grants: options.grants ?? [],
    knownScopes: options.knownScopes,
    tokenLifetimeSeconds: nonNegativeInteger(
      'tokenLifetimeSeconds',
      options.tokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS,
    ),
    issueRefreshTokens: options.issueRefreshTokens ?? true,
    refreshTokenLifetimeSeconds: nonNegativeInteger(
      'refreshTokenLifetimeSeconds',
      options.refreshTokenLifetimeSeconds ?? DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS,
    ),
    latencyMs: nonNegativeInteger('latencyMs', options.latencyMs ?? 0),
    clock: options.clock ?? Date.now,
    random: options.random ?? Math.random,
    log: options.log,
  };
}
