import { InvalidRequestError } from '../errors.js';

export const HUB_ENVIRONMENTS = {
  production: 'https://hub.zaikio.com',
  sandbox: 'https://hub.sandbox.zaikio.com',
  staging: 'https://hub.staging.zaikio.com',
} as const;
export type HubEnvironment = keyof typeof HUB_ENVIRONMENTS;

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/** Accepts an environment name or any http(s) base URL (a local simulator, a proxy). */
export function resolveHubBaseUrl(environmentOrUrl: string): string {
  if (Object.hasOwn(HUB_ENVIRONMENTS, environmentOrUrl)) {
    return HUB_ENVIRONMENTS[environmentOrUrl as HubEnvironment];
  }
  let url: URL;
  try {
    url = new URL(environmentOrUrl);
  } catch {
    throw new InvalidRequestError(
      'invalid_request',
      `Zaikio Hub must be production, sandbox, staging or an http(s) base URL, got "${environmentOrUrl}"`,
    );
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname))) {
    // Client secrets and refresh tokens cross this connection: plain HTTP only to this machine.
    throw new InvalidRequestError(
      'invalid_request',
      'Zaikio Hub base URL must use https (http only for a simulator on localhost)',
    );
  }
  if (url.username !== '' || url.password !== '') {
    // Credentials belong in Secrets Manager, never in configuration that ends up in logs.
    throw new InvalidRequestError('invalid_request', 'Zaikio Hub base URL must not contain credentials');
  }
  return url.origin + url.pathname.replace(/\/+$/, '');
}
