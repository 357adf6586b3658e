/**
 * What each prebuilt function bundles, read from the source maps the package build writes beside
 * them (the vitest global setup builds the package first). The sweeper only reads the due index and
 * sends messages: the Hub client, undici and Secrets Manager would only slow its cold start. The
 * mint and the worker load undici's pool by path, not undici's index with every feature.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ASSETS_DIR } from '../../infra/prebuilt.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

async function bundledSources(name: string): Promise<string[]> {
  const map = JSON.parse(await readFile(path.join(ROOT, ASSETS_DIR, name, 'index.mjs.map'), 'utf8')) as {
    sources: string[];
  };
  return map.sources.map((source) => source.replaceAll('\\', '/'));
}

describe('function bundles', () => {
  it('the sweeper bundles neither the Hub client, undici nor Secrets Manager', async () => {
    const sources = await bundledSources('sweep');
    expect(sources.some((source) => source.endsWith('functions/sweep/handler.ts'))).toBe(true);
    const unwanted = sources.filter((source) =>
      [
        '/node_modules/undici/',
        // The Hub client; hub/environments.ts (the Hub's URLs, read with the configuration) may stay.
        '/functions/core/hub/client.ts',
        '/functions/core/hub/pool.ts',
        '/functions/core/hub/request.ts',
        '/functions/core/hub/response.ts',
        '/functions/core/credentials.ts',
        '/functions/core/fetcher.ts',
        '/functions/core/broker.ts',
        '/node_modules/@aws-sdk/client-secrets-manager/',
        '/node_modules/@aws-lambda-powertools/parameters/',
      ].some((part) => `/${source}`.includes(part)),
    );
    expect(unwanted).toEqual([]);
  });

  it.each(['mint', 'refresh'])('the %s function bundles undici’s pool, not its index', async (name) => {
    const sources = await bundledSources(name);
    expect(sources.some((source) => source.endsWith('node_modules/undici/lib/dispatcher/pool.js'))).toBe(
      true,
    );
    expect(sources.filter((source) => source.endsWith('node_modules/undici/index.js'))).toEqual([]);
    // The parts of undici the Hub client never uses.
    expect(
      sources.filter((source) =>
        /node_modules\/undici\/lib\/(mock|cache|web\/websocket|web\/eventsource)\//.test(source),
      ),
    ).toEqual([]);
  });
});
