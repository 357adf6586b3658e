/**
 * Secrets Manager, mocked at the SDK (it has no local implementation): every SecretsManagerClient in
 * this process answers GetSecretValue with the app's credentials, and the calls are counted.
 */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { SecretSource } from '../../functions/core/credentials.js';

export const SECRET_ID = 'zaikio/bench';
// Letters and digits only: oauth4webapi form-encodes the Basic credentials (RFC 6749 §2.3.1, `-` becomes
// %2D) and the Hub simulator does not decode them, as Doorkeeper does (local/hub-simulator/http.ts).
export const CLIENT_ID = 'benchclient';
export const CLIENT_SECRET = 'benchclientsecret5d1e';
export const CREDENTIALS_JSON = JSON.stringify({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });

export interface MockedSecrets {
  /** GetSecretValue calls since the last reset. */
  reads(): number;
  reset(): void;
  restore(): void;
}

/** Mocks every SecretsManagerClient (class-level); one per process. */
export function mockSecretsManager(): MockedSecrets {
  const mock = mockClient(SecretsManagerClient);
  mock.on(GetSecretValueCommand, { SecretId: SECRET_ID }).resolves({ SecretString: CREDENTIALS_JSON });
  return {
    reads: () => mock.commandCalls(GetSecretValueCommand).length,
    reset: () => mock.resetHistory(),
    restore: () => mock.restore(),
  };
}

/** A container's own Secrets Manager client. */
export function newSecretsClient(): SecretsManagerClient {
  return new SecretsManagerClient({
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/**
 * Powertools' SecretsProvider, with its `maxAge` applied on the given clock. Powertools measures
 * maxAge with Date.now; on a simulated hour that passes in seconds its cache would never expire, so
 * this forces a fetch whenever maxAge has passed on the simulated clock. Real time: the same as
 * Powertools alone.
 */
export class ClockedSecretSource implements SecretSource {
  readonly #provider: SecretsProvider;
  readonly #clock: () => number;
  readonly #fetchedAt = new Map<string, number>();

  constructor(clock: () => number, client: SecretsManagerClient = newSecretsClient()) {
    this.#provider = new SecretsProvider({ awsSdkV3Client: client });
    this.#clock = clock;
  }

  async get(name: string, options: { maxAge: number; forceFetch: boolean }): Promise<unknown> {
    const fetchedAt = this.#fetchedAt.get(name);
    const now = this.#clock();
    const expired = fetchedAt === undefined || now - fetchedAt >= options.maxAge * 1000;
    const forceFetch = options.forceFetch || expired;
    const value = await this.#provider.get(name, { maxAge: options.maxAge, forceFetch });
    if (forceFetch) this.#fetchedAt.set(name, now);
    return value;
  }
}
