/**
 * The broker's configuration as the functions receive it: environment variables set by the CDK
 * construct (or by the local runtime). Parsed strictly; a wrong value names the variable.
 */
import { type AccessGrants, parseGrants } from './access.js';
import { ENV } from './env.js';
import { InvalidRequestError } from './errors.js';
import { resolveHubBaseUrl } from './hub/environments.js';
import { type BrokerSettings, resolveSettings } from './settings.js';

export { ENV };

const CLIENT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** A Zaikio app's name as requests, the table key and the construct spell it. */
export function assertClientName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !CLIENT_NAME.test(name)) {
    throw new InvalidRequestError(
      'invalid_request',
      'client must be an app name of lowercase letters, digits, "-" and "_" (at most 63)',
    );
  }
}

export interface BrokerConfig {
  readonly tableName: string;
  /** Resolved base URL of the Hub. */
  readonly hubBaseUrl: string;
  /** App name → Secrets Manager secret id. */
  readonly clients: Readonly<Record<string, string>>;
  readonly defaultClient: string | undefined;
  readonly settings: BrokerSettings;
  /** The mint function's grants; without them every caller is refused. */
  readonly grants?: AccessGrants;
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new InvalidRequestError('invalid_request', `environment variable ${name} is not set`);
  }
  return value;
}

function jsonObject(env: Env, name: string, fallback: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(env[name] ?? fallback);
  } catch {
    throw new InvalidRequestError('invalid_request', `environment variable ${name} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRequestError('invalid_request', `environment variable ${name} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * The settings given in BROKER_SETTINGS (a JSON object of numbers), not yet resolved against the
 * defaults. The one parser of that variable: the functions and the local runtime both use it.
 */
export function settingsOverrides(env: Env = process.env): Partial<BrokerSettings> {
  const settings = jsonObject(env, ENV.settings, '{}');
  for (const [name, value] of Object.entries(settings)) {
    if (typeof value !== 'number') {
      throw new InvalidRequestError('invalid_request', `${ENV.settings}: ${name} must be a number`);
    }
  }
  return settings as Partial<BrokerSettings>;
}

export function loadConfig(env: Env = process.env): BrokerConfig {
  const clients = jsonObject(env, ENV.clients, required(env, ENV.clients));
  for (const [name, secretId] of Object.entries(clients)) {
    if (typeof secretId !== 'string' || secretId === '') {
      throw new InvalidRequestError('invalid_request', `${ENV.clients}: client "${name}" needs a secret id`);
    }
  }
  const settings = settingsOverrides(env);
  return {
    tableName: required(env, ENV.tableName),
    hubBaseUrl: resolveHubBaseUrl(env[ENV.hub] ?? 'production'),
    clients: clients as Record<string, string>,
    defaultClient: env[ENV.defaultClient] || undefined,
    settings: resolveSettings(settings),
    grants: parseGrants(env[ENV.grants]),
  };
}
