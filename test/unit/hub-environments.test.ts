import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../functions/core/errors.js';
import { HUB_ENVIRONMENTS, resolveHubBaseUrl } from '../../functions/core/hub/environments.js';

describe('resolveHubBaseUrl', () => {
  it.each([
    ['production', 'https://hub.zaikio.com'],
    ['sandbox', 'https://hub.sandbox.zaikio.com'],
    ['staging', 'https://hub.staging.zaikio.com'],
  ])('maps %s to the documented host', (name, url) => {
    expect(resolveHubBaseUrl(name)).toBe(url);
    expect(HUB_ENVIRONMENTS[name as keyof typeof HUB_ENVIRONMENTS]).toBe(url);
  });

  it('accepts a local simulator URL', () => {
    expect(resolveHubBaseUrl('http://127.0.0.1:40123')).toBe('http://127.0.0.1:40123');
    expect(resolveHubBaseUrl('http://localhost:3000/')).toBe('http://localhost:3000');
  });

  it('keeps a base path and strips trailing slashes', () => {
    expect(resolveHubBaseUrl('https://proxy.example.com/zaikio/hub///')).toBe(
      'https://proxy.example.com/zaikio/hub',
    );
    expect(resolveHubBaseUrl('https://hub.zaikio.com/')).toBe('https://hub.zaikio.com');
  });

  it('drops a query and a fragment', () => {
    expect(resolveHubBaseUrl('https://proxy.example.com/hub?x=1#y')).toBe('https://proxy.example.com/hub');
  });

  it('normalizes the host and a default port', () => {
    expect(resolveHubBaseUrl('HTTPS://Hub.Zaikio.COM:443')).toBe('https://hub.zaikio.com');
  });

  it.each(['Production', 'prod', 'hub.zaikio.com', '', 'constructor', '__proto__', 'toString'])(
    'rejects %j',
    (value) => {
      expect(() => resolveHubBaseUrl(value)).toThrow(InvalidRequestError);
    },
  );

  it('names the accepted forms in the message', () => {
    expect(() => resolveHubBaseUrl('prod')).toThrow('production, sandbox, staging or an http(s) base URL');
  });

  it('rejects schemes other than https, and plain http to anything but this machine', () => {
    for (const url of [
      'ftp://hub.zaikio.com',
      'file:///etc/passwd',
      'ws://hub.zaikio.com',
      'http://hub.zaikio.com',
      'http://10.0.0.5:8090',
    ]) {
      expect(() => resolveHubBaseUrl(url), url).toThrow('must use https');
    }
    for (const url of ['http://127.0.0.1:8090', 'http://localhost:8090', 'http://[::1]:8090']) {
      expect(resolveHubBaseUrl(url)).toBe(url);
    }
  });

  it('rejects credentials in the URL without echoing them', () => {
    try {
      resolveHubBaseUrl('https://client:hunter2@hub.zaikio.com');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect((error as InvalidRequestError).code).toBe('invalid_request');
      expect((error as Error).message).toContain('must not contain credentials');
      expect((error as Error).message).not.toContain('hunter2');
    }
    expect(() => resolveHubBaseUrl('https://user@hub.zaikio.com')).toThrow('must not contain credentials');
  });
});
