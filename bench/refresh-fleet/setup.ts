/**
 * Before and after a refresh fleet run: the settings the construct would derive for the rate, the N
 * due items seeded with real refresh tokens, dynalite's own ceiling, and the items left due.
 */
import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  type DynamoDBClient,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { refreshPacingMs } from '../../functions/core/lifecycle/refresh.js';
import { type BrokerSettings, DEFAULT_SETTINGS, resolveSettings } from '../../functions/core/settings.js';
import { TABLE } from '../../functions/core/store/schema.js';
import { refreshConcurrencyFor } from '../../infra/sizing.js';
import type { HubSimulator } from '../../local/hub-simulator/index.js';
import type { DynamoProcess } from '../support/dynamodb-process.js';
import { issueTokens } from '../support/hub.js';
import { CLIENT_ID, CLIENT_SECRET } from '../support/secrets.js';
import { seedItems, tokenItem } from '../support/seed.js';
import { forEachConcurrent } from '../support/stats.js';

export const SCOPES = ['warehouse.items.r'];
export const TABLE_NAME = 'tokens-fleet';
export const PROBE_TABLE = 'tokens-probe';
/** Parallel clients of the dynalite probe, and issued-token requests while seeding. */
const PROBE_CLIENTS = 64;
const ISSUE_CONCURRENCY = 128;

/** The construct's settings for a refresh budget of `rate` Hub requests a second, with the pacing they imply. */
export function fleetSettings(
  rate: number,
  scheduleIntervalMs: number,
): { settings: BrokerSettings; pacingMs: number } {
  const settings = resolveSettings({
    hubRequestsPerSecond: rate,
    refreshConcurrency: refreshConcurrencyFor(rate),
    scheduleIntervalMs,
    // The default is more than two (shortened) intervals; the seeded items are due anyway.
    refreshAheadMs: Math.max(DEFAULT_SETTINGS.refreshAheadMs, 2 * scheduleIntervalMs),
  });
  return { settings, pacingMs: refreshPacingMs(settings) };
}

/** N keys: ⌈√N⌉ organizations, each with up to ⌈√N⌉ one-scope sets `s<n>.items.r`. */
function fleetKeys(count: number): Array<{ organizationId: string; scope: string }> {
  const perOrganization = Math.ceil(Math.sqrt(count));
  const organizations = Array.from({ length: Math.ceil(count / perOrganization) }, () => randomUUID());
  return Array.from({ length: count }, (_, index) => ({
    organizationId: organizations[Math.floor(index / perOrganization)] as string,
    scope: `s${String(index % perOrganization).padStart(4, '0')}.items.r`,
  }));
}

/**
 * N keys, each with a real refresh token the simulator issued, all due now, oldest first in seeding
 * order. The keys are spread over √N organizations × √N scope sets: the simulator looks grants up
 * by a linear scan (local/hub-simulator/scopes.ts, GrantStore.lookup), which with N organizations
 * would make it, not the broker, the bottleneck. The broker treats every key alike whatever its
 * bearer. Returns when the items were written as due.
 */
export async function seedDueItems(
  hub: HubSimulator,
  client: DynamoDBClient,
  items: number,
  dueShards: number,
): Promise<number> {
  const keys = fleetKeys(items);
  const byOrganization = new Map<string, string[]>();
  for (const key of keys)
    byOrganization.set(key.organizationId, [...(byOrganization.get(key.organizationId) ?? []), key.scope]);
  for (const [id, scopes] of byOrganization) hub.grant({ bearer: `Org/${id}`, scopes });
  const issued = await issueTokens(
    hub,
    { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    keys.map((key) => `Org/${key.organizationId}.${key.scope}`),
    ISSUE_CONCURRENCY,
  );
  const seededAt = Date.now();
  const rows = keys.map(({ organizationId, scope }, index) => {
    const token = issued[index];
    if (token === undefined) throw new Error('missing seed token');
    return tokenItem({
      organizationId,
      client: 'default',
      scopes: [scope],
      accessToken: token.accessToken,
      refreshToken: token.refreshToken,
      // Issued 8 minutes ago, expiring in 2: due now, oldest first in seeding order.
      issuedAt: seededAt - 480_000,
      expiresAt: seededAt + 120_000,
      dueAt: seededAt - items + index,
      lastRequestedAt: seededAt - 60_000,
      dueShards,
    });
  });
  await seedItems(client, TABLE_NAME, rows);
  return seededAt;
}

/** dynalite's own ceiling for the refresh's write mix, measured on a scratch table: UpdateItems a second. */
export async function probeDynalite(dynamo: DynamoProcess, operations: number): Promise<number> {
  const now = Date.now();
  const items = Array.from({ length: operations / 2 }, () =>
    tokenItem({
      organizationId: randomUUID(),
      client: 'default',
      scopes: SCOPES,
      accessToken: 'x'.repeat(900),
      refreshToken: 'r'.repeat(43),
      issuedAt: now - 500_000,
      expiresAt: now + 100_000,
      dueAt: now - 1000,
      lastRequestedAt: now,
      dueShards: 8,
    }),
  );
  const seedClient = dynamo.client();
  await seedItems(seedClient, PROBE_TABLE, items);
  seedClient.destroy();
  const clients = Array.from({ length: PROBE_CLIENTS }, () => dynamo.client());
  const startedAt = performance.now();
  await forEachConcurrent(items, PROBE_CLIENTS, async (item, index) => {
    const client = clients[index % clients.length];
    if (client === undefined) return;
    const Key = { pk: { S: String(item.pk) }, sk: { S: String(item.sk) } };
    // Like acquireLease (ALL_NEW) and saveToken (moves the due index entry).
    await client.send(
      new UpdateItemCommand({
        TableName: PROBE_TABLE,
        Key,
        UpdateExpression: 'SET leaseOwner = :owner, leaseExpiresAt = :until',
        ConditionExpression:
          'attribute_exists(pk) AND (attribute_not_exists(leaseOwner) OR leaseExpiresAt < :now) AND dueAt <= :now',
        ExpressionAttributeValues: {
          ':owner': { S: 'probe' },
          ':until': { N: '1' },
          ':now': { N: String(now) },
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName: PROBE_TABLE,
        Key,
        UpdateExpression:
          'SET accessToken = :token, dueAt = :due, version = version + :one REMOVE leaseOwner',
        ConditionExpression: 'leaseOwner = :owner',
        ExpressionAttributeValues: {
          ':owner': { S: 'probe' },
          ':token': { S: 'y'.repeat(900) },
          ':due': { N: String(now + 500_000) },
          ':one': { N: '1' },
        },
      }),
    );
  });
  const perSecond = operations / ((performance.now() - startedAt) / 1000);
  for (const client of clients) client.destroy();
  return perSecond;
}

/** Items in the due index that were due before `before`: what the fleet left undone. */
export async function countStillDue(client: DynamoDBClient, shards: number, before: number): Promise<number> {
  let total = 0;
  for (let shard = 0; shard < shards; shard++) {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: TABLE_NAME,
          IndexName: TABLE.dueIndex.name,
          KeyConditionExpression: 'dueShard = :shard AND dueAt <= :before',
          ExpressionAttributeValues: { ':shard': { N: String(shard) }, ':before': { N: String(before) } },
          Select: 'COUNT',
          ExclusiveStartKey: startKey,
        }),
      );
      total += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }
  return total;
}
