/**
 * The local runtime's consumers: what `grantTokenAccess` declares in AWS, read from a JSON file
 * (`CONSUMERS_CONFIG`, by default local/consumers.json) and turned into the mint's grants by the
 * same function the construct uses. A consumer calls the mint as `mint:<name>`, the alias it would
 * invoke in AWS.
 */
import { readFileSync } from 'node:fs';
import { type AccessGrants, isConsumerName } from '../functions/core/access.js';
import { type GrantOptions, grantPolicy } from '../functions/core/grant-policy.js';
import { StartupError } from './startup.js';

export const DEFAULT_CONSUMERS_CONFIG = 'local/consumers.json';

export type LocalConsumers = Readonly<Record<string, GrantOptions>>;

/** The consumers of a config file; a problem names the file and the consumer. */
export function readConsumers(path: string): LocalConsumers {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new StartupError(`CONSUMERS_CONFIG ${path}: cannot be read as JSON (${(error as Error).message})`);
  }
  const consumers = (parsed as { consumers?: unknown } | null)?.consumers;
  if (typeof consumers !== 'object' || consumers === null || Array.isArray(consumers)) {
    throw new StartupError(
      `CONSUMERS_CONFIG ${path}: needs "consumers": {"<name>": {organizations, scopes, …}}`,
    );
  }
  return consumers as LocalConsumers;
}

/** The grants the local mint enforces, checked as the construct checks a grant. */
export function localGrants(consumers: LocalConsumers, defaultClient: string): AccessGrants {
  return Object.fromEntries(
    Object.entries(consumers).map(([name, options]) => {
      if (!isConsumerName(name)) {
        throw new StartupError(
          `CONSUMERS_CONFIG: ${JSON.stringify(name)} is not a consumer name (a Lambda alias)`,
        );
      }
      try {
        return [name, grantPolicy(options, defaultClient, `CONSUMERS_CONFIG: consumer "${name}"`)];
      } catch (error) {
        throw new StartupError((error as Error).message);
      }
    }),
  );
}
