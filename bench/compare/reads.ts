/**
 * The consumer client's two reads, in real time: warm (the token in the client's memory) and cold (a
 * new client, the token in the table), the cold one against bare GetItems of the same item on the
 * same DynamoDB client.
 */
import { randomUUID } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { createTokenClient } from '../../functions/consumer/index.js';
import { READABLE_ATTRIBUTES } from '../../functions/core/store/schema.js';
import { SCOPE } from '../support/approaches.js';
import { CLIENT_NAME, deployBroker } from '../support/deployment.js';
import { LOCAL_CREDENTIALS } from '../support/dynamodb-process.js';
import { seedItems, seedKey, tokenItem } from '../support/seed.js';
import { type Environment, TABLES } from './environment.js';
import { type ColdReadResult, summarizeColdRead, summarizeWarmRead, type WarmReadResult } from './summary.js';

/** Reads before the timed ones, so the JIT has compiled the client's memory path. */
const WARM_UP_READS = 20_000;
/** Cold keys read before the timed ones: the connection pool and the SDK's code paths warmed. */
const COLD_WARM_UP_KEYS = 20;

export async function measureWarmRead(env: Environment, reads: number): Promise<WarmReadResult> {
  env.clock.fake = false;
  const deployment = await deployBroker({
    dynamo: env.dynamo,
    tableName: TABLES.stampede,
    hubUrl: env.hub.url,
    clock: env.simClock,
  });
  try {
    const client = deployment.newConsumer();
    const request = { organizationId: env.organizations[0] as string, scopes: [SCOPE] };
    await client.getAccessToken(request);
    for (let i = 0; i < WARM_UP_READS; i++) await client.getAccessToken(request);
    const times = new Float64Array(reads);
    for (let i = 0; i < reads; i++) {
      const startedAt = performance.now();
      const token = await client.getAccessToken(request);
      times[i] = performance.now() - startedAt;
      if (token.source !== 'memory') throw new Error('the warm read left memory');
    }
    const batchStartedAt = performance.now();
    for (let i = 0; i < reads; i++) await client.getAccessToken(request);
    const meanUs = ((performance.now() - batchStartedAt) / reads) * 1000;
    return summarizeWarmRead(times, meanUs);
  } finally {
    await deployment.close();
  }
}

export async function measureColdRead(env: Environment, samples: number): Promise<ColdReadResult> {
  const now = Date.now();
  const organizations = Array.from({ length: samples }, () => randomUUID());
  const items = organizations.map((organizationId) =>
    tokenItem({
      organizationId,
      client: CLIENT_NAME,
      scopes: [SCOPE],
      accessToken: `eyJ${'x'.repeat(700)}`,
      refreshToken: 'r'.repeat(43),
      issuedAt: now,
      expiresAt: now + 600_000,
      dueAt: now + 465_000,
      lastRequestedAt: now,
      dueShards: 8,
    }),
  );
  const dynamodb = env.dynamo.client();
  await seedItems(dynamodb, TABLES.reads, items);
  // Never called: every item is servable. Pointed nowhere so a mistake fails loudly.
  const lambda = new LambdaClient({
    endpoint: 'http://127.0.0.1:9',
    region: 'local',
    credentials: LOCAL_CREDENTIALS,
  });
  const projection = READABLE_ATTRIBUTES.map((_, index) => `#a${index}`).join(', ');
  const names = Object.fromEntries(READABLE_ATTRIBUTES.map((name, index) => [`#a${index}`, name]));
  const itemKey = (organizationId: string) => {
    const { pk, sk } = seedKey({ organizationId, client: CLIENT_NAME, scopes: [SCOPE] });
    return { pk: { S: pk }, sk: { S: sk } };
  };
  const times = { consumer: [] as number[], bare: [] as number[], projected: [] as number[] };
  try {
    for (const organizationId of organizations.slice(0, COLD_WARM_UP_KEYS)) {
      await dynamodb.send(new GetItemCommand({ TableName: TABLES.reads, Key: itemKey(organizationId) }));
    }
    for (const [index, organizationId] of organizations.entries()) {
      const key = itemKey(organizationId);
      const measureConsumer = async () => {
        // A new client: its memory is empty, as in a container's first call for this key.
        const client = createTokenClient({
          tableName: TABLES.reads,
          mintFunctionName: 'mint',
          defaultClient: CLIENT_NAME,
          dynamodb,
          lambda,
          env: {},
        });
        const startedAt = performance.now();
        const token = await client.getAccessToken({ organizationId, scopes: [SCOPE] });
        times.consumer.push(performance.now() - startedAt);
        if (token.source !== 'table') throw new Error(`cold read came from ${token.source}`);
      };
      const measureBare = async () => {
        const startedAt = performance.now();
        await dynamodb.send(new GetItemCommand({ TableName: TABLES.reads, Key: key }));
        times.bare.push(performance.now() - startedAt);
      };
      const measureProjected = async () => {
        const startedAt = performance.now();
        await dynamodb.send(
          new GetItemCommand({
            TableName: TABLES.reads,
            Key: key,
            ProjectionExpression: projection,
            ExpressionAttributeNames: names,
          }),
        );
        times.projected.push(performance.now() - startedAt);
      };
      // Alternate the order so neither side always runs on a connection the other just warmed.
      const order = [measureConsumer, measureBare, measureProjected];
      for (let i = 0; i < order.length; i++)
        await (order[(i + index) % order.length] as () => Promise<void>)();
    }
  } finally {
    dynamodb.destroy();
    lambda.destroy();
  }
  return summarizeColdRead(samples, times);
}
