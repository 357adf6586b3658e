/**
 * Heap the consumer client keeps per distinct key. One client asks for KEYS distinct keys (every one
 * a miss: an empty GetItem, then a mint answer with a JWT-sized token), then the heap is measured
 * after a full GC, against the same process before the client existed. Half the keys' tokens have
 * expired by the end, as in a container that has served many organizations over a day.
 *
 *   node --expose-gc --import tsx bench/consumer-memory.ts [keys] [maxCachedTokens]
 *
 * Results: docs/BENCHMARKS.md ("Consumer memory").
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { createTokenClient } from '../functions/consumer/index.js';

const KEYS = Number(process.argv[2] ?? 200_000);
const MAX_CACHED = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

let now = Date.parse('2027-01-01T00:00:00Z');
// A realistic token: a Zaikio JWT is about 800 characters.
const jwt = () => `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(randomUUID().repeat(14)).toString('base64url')}.sig`;
const dynamodb = { send: async () => ({}) } as unknown as DynamoDBClient;
const lambda = {
  send: async () => {
    const answer = {
      accessToken: jwt(),
      tokenType: 'Bearer',
      expiresAt: new Date(now + 600_000).toISOString(),
      scopes: ['warehouse.items.r'],
    };
    return { Payload: new TextEncoder().encode(JSON.stringify(answer)) };
  },
} as unknown as LambdaClient;

const before = heapUsed();
const client = createTokenClient({
  dynamodb,
  lambda,
  tableName: 'tokens',
  mintFunctionName: 'mint',
  clock: () => now,
  ...(MAX_CACHED === undefined ? {} : { maxCachedTokens: MAX_CACHED }),
});
for (let i = 0; i < KEYS; i++) {
  await client.getAccessToken({ organizationId: randomUUID(), scopes: ['warehouse.items.r'] });
  // Halfway through, ten minutes pass: the first half's tokens expire.
  if (i === KEYS / 2) now += 601_000;
}
const after = heapUsed();
const perKey = (after - before) / KEYS;
console.log(
  JSON.stringify({
    keys: KEYS,
    maxCachedTokens: MAX_CACHED ?? 'default',
    heapMiB: Math.round(((after - before) / 2 ** 20) * 10) / 10,
    perHundredThousandKeysMiB: Math.round(((perKey * 100_000) / 2 ** 20) * 10) / 10,
    bytesPerKey: Math.round(perKey),
  }),
);
// Keep the client reachable until the measurement is done.
client.destroy();
