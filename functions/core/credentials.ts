/**
 * App credentials from AWS Secrets Manager. The secret's value is JSON:
 *   {"clientId": "<OAuth client id>", "clientSecret": "<OAuth client secret>"}
 * Several Zaikio apps ("clients") can be configured, each with its own secret; one is the default.
 */
import { inspect } from 'node:util';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { assertClientName } from './config.js';
import { DependencyUnavailableError, InvalidClientError, InvalidRequestError } from './errors.js';

/** Holds the secret in a private field, so logging or serializing the object cannot leak it. */
export class ClientCredentials {
  readonly #secret: string;
  constructor(
    readonly clientId: string,
    clientSecret: string,
  ) {
    this.#secret = clientSecret;
  }

  /** The `Authorization` header value for HTTP Basic client authentication. */
  basicAuthorization(): string {
    return `Basic ${Buffer.from(`${this.clientId}:${this.#secret}`).toString('base64')}`;
  }

  sameAs(other: ClientCredentials): boolean {
    return this.clientId === other.clientId && this.#secret === other.#secret;
  }

  toJSON(): { clientId: string; clientSecret: '[redacted]' } {
    return { clientId: this.clientId, clientSecret: '[redacted]' };
  }

  [inspect.custom](): string {
    return `ClientCredentials { clientId: '${this.clientId}', clientSecret: [redacted] }`;
  }
}

/** Parses and checks a secret's value; messages name the key that is wrong, never a value. */
export function parseCredentialsSecret(value: unknown, client: string): ClientCredentials {
  const where = `the secret of client "${client}"`;
  if (typeof value !== 'string') {
    throw new InvalidClientError('secret_malformed', `${where} must be a JSON string, not binary`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidClientError(
      'secret_malformed',
      `${where} is not valid JSON; store {"clientId": "...", "clientSecret": "..."}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidClientError(
      'secret_malformed',
      `${where} must be a JSON object with clientId and clientSecret`,
    );
  }
  const { clientId, clientSecret } = parsed as Record<string, unknown>;
  for (const [key, field] of [
    ['clientId', clientId],
    ['clientSecret', clientSecret],
  ] as const) {
    if (field === undefined) throw new InvalidClientError('secret_malformed', `${where} has no "${key}" key`);
    if (typeof field !== 'string' || field.trim() === '' || field.includes(':') || /\s/.test(field)) {
      throw new InvalidClientError(
        'secret_malformed',
        `${where}: "${key}" must be a non-empty string without spaces or ":"`,
      );
    }
  }
  return new ClientCredentials(clientId as string, clientSecret as string);
}

/** Where secret values come from: Powertools' cached SecretsProvider, or a local stand-in. */
export interface SecretSource {
  get(name: string, options: { maxAge: number; forceFetch: boolean }): Promise<unknown>;
}

export interface CredentialsProviderOptions {
  /** App name → Secrets Manager secret id (name or ARN). */
  readonly clients: Readonly<Record<string, string>>;
  /** @default the only client, when exactly one is configured */
  readonly defaultClient?: string;
  readonly maxAgeSeconds: number;
  /** Used by the default source. */
  readonly secretsManager?: SecretsManagerClient;
  /** @default Powertools SecretsProvider over `secretsManager` */
  readonly source?: SecretSource;
}

/** The one place that reads app credentials; cached per container, re-read on demand. */
export class CredentialsProvider {
  readonly defaultClient: string;
  readonly #clients: Readonly<Record<string, string>>;
  readonly #maxAgeSeconds: number;
  readonly #secrets: SecretSource;

  constructor(options: CredentialsProviderOptions) {
    const names = Object.keys(options.clients);
    if (names.length === 0)
      throw new InvalidRequestError('invalid_request', 'no Zaikio client is configured');
    for (const name of names) assertClientName(name);
    const defaultClient = options.defaultClient ?? (names.length === 1 ? names[0] : undefined);
    if (defaultClient === undefined || !Object.hasOwn(options.clients, defaultClient)) {
      throw new InvalidRequestError(
        'invalid_request',
        'the default Zaikio client must be one of the configured clients',
      );
    }
    this.defaultClient = defaultClient;
    this.#clients = options.clients;
    this.#maxAgeSeconds = options.maxAgeSeconds;
    this.#secrets =
      options.source ??
      new SecretsProvider(
        options.secretsManager === undefined ? {} : { awsSdkV3Client: options.secretsManager },
      );
  }

  /** The configured client name, or the default one; throws for a name nobody configured. */
  resolveClient(name: string | undefined): string {
    if (name === undefined) return this.defaultClient;
    assertClientName(name);
    if (!Object.hasOwn(this.#clients, name)) {
      throw new InvalidRequestError('unknown_client', `client "${name}" is not configured in this broker`);
    }
    return name;
  }

  /** `forceFetch` bypasses the cache: used once after the Hub refuses cached credentials. */
  async get(client: string, options: { readonly forceFetch?: boolean } = {}): Promise<ClientCredentials> {
    const secretId = this.#clients[this.resolveClient(client)] as string;
    let value: unknown;
    try {
      value = await this.#secrets.get(secretId, {
        maxAge: this.#maxAgeSeconds,
        forceFetch: options.forceFetch ?? false,
      });
    } catch (error) {
      const name = errorName(error);
      if (!SECRET_UNREADABLE.has(name)) {
        // Throttling, a 5xx or the network: Secrets Manager will answer again; the secret may be fine.
        throw new DependencyUnavailableError(
          'secrets_unavailable',
          `Secrets Manager did not answer for the secret of client "${client}" (${name}); try again shortly`,
          {},
          { cause: error },
        );
      }
      throw new InvalidClientError(
        'secret_unavailable',
        `could not read the secret of client "${client}" from Secrets Manager (${name}); ` +
          'check that it exists, holds a value, and that the broker may read it',
        {},
        { cause: error },
      );
    }
    if (value === undefined) {
      throw new InvalidClientError('secret_unavailable', `the secret of client "${client}" has no value yet`);
    }
    return parseCredentialsSecret(value, client);
  }
}

/**
 * Secrets Manager answers that no retry fixes: the secret is missing, deleted, not ours to read or
 * to decrypt. Every other failure (throttling, a 5xx, a timeout, a reset) is transient.
 */
const SECRET_UNREADABLE: ReadonlySet<string> = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'DecryptionFailure',
  'InvalidRequestException',
  'InvalidParameterException',
]);

function errorName(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.name : 'unknown error';
}
