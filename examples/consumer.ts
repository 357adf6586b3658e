/**
 * Example consumer Lambda: lists an organization's warehouse items through the broker's token,
 * never touching a client secret. It imports the package as any user's function would; the
 * repository's own stack deploys it on request (infra/broker-stack.ts), granted as consumer `example`
 * (every organization, the one scope it reads), and the construct's grant sets TOKENS_TABLE_NAME,
 * MINT_FUNCTION_NAME (its alias of the mint function, which names it to the broker) and
 * ZAIKIO_DEFAULT_CLIENT.
 *
 * Event: `{ "organizationId": "<uuid>" }`, or none with ZAIKIO_EXAMPLE_ORGANIZATION_ID set.
 */

import { createTokenClient, createZaikioFetch, InvalidRequestError } from 'zaikio-token-broker/consumer';

const WAREHOUSE_URL = process.env.ZAIKIO_WAREHOUSE_URL ?? 'https://warehouse.sandbox.zaikio.com';
// Outside the handler: the in-memory token cache lives as long as the container.
const tokens = createTokenClient();

export interface ExampleResult {
  readonly status: number;
  /** How many items the first page holds; the example returns no item data and never the token. */
  readonly items: number | undefined;
}

function organizationOf(event: unknown): string {
  const fromEvent =
    typeof event === 'object' && event !== null ? Reflect.get(event, 'organizationId') : undefined;
  const id: unknown = fromEvent ?? process.env.ZAIKIO_EXAMPLE_ORGANIZATION_ID;
  // The token client checks the id's form itself, before any network call.
  if (typeof id !== 'string') throw new InvalidRequestError('invalid_request', 'organizationId is required');
  return id;
}

export async function handler(event: unknown): Promise<ExampleResult> {
  const organizationId = organizationOf(event);
  const request = { organizationId, scopes: ['warehouse.items.r'] };
  const warehouse = createZaikioFetch(tokens, request, { baseUrl: WAREHOUSE_URL });
  const response = await warehouse('/api/v1/items', { headers: { Accept: 'application/json' } });
  const body: unknown = response.ok ? await response.json() : undefined;
  return { status: response.status, items: Array.isArray(body) ? body.length : undefined };
}
