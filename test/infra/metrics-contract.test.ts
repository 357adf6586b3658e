/**
 * The alarms and the dashboard watch the broker's metrics with the dimension `service` = the
 * construct's serviceName, which it passes to every function as POWERTOOLS_SERVICE_NAME.
 * Powertools Metrics uses that variable only when the code passes no `serviceName` of its own, so a
 * handler that hard-codes one publishes metrics no alarm sees.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

describe('metrics contract between the functions and the alarms', () => {
  for (const name of ['mint', 'sweep', 'refresh']) {
    it(`${name}: Metrics take the service name from POWERTOOLS_SERVICE_NAME`, () => {
      const source = readFileSync(path.join(ROOT, 'functions', name, 'handler.ts'), 'utf8');
      const constructions = [...source.matchAll(/new Metrics\(([^)]*)\)/g)].map((match) => match[1] ?? '');
      for (const options of constructions) expect(options).not.toMatch(/serviceName/);
    });
  }
});
