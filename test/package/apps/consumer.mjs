// A user's Lambda handler: it imports the consumer client from the installed package. The test
// bundles it with esbuild, as NodejsFunction would, and runs the bundle against local parts.
import { createHash } from 'node:crypto';
import { getAccessToken } from 'zaikio-token-broker/consumer';

export async function handler(event) {
  const token = await getAccessToken({ organizationId: event.organizationId, scopes: ['warehouse.items.r'] });
  // Never return or log the token itself: a digest is enough to compare with the stored one.
  return {
    tokenSha256: createHash('sha256').update(token.accessToken).digest('hex'),
    expiresAt: token.expiresAt,
    scopes: token.scopes,
    source: token.source,
  };
}
