/**
 * How a caller names a token without sending it: the SHA-256 of the access token, hex. A forced
 * refresh names the token an API rejected this way, so the mint function can tell whether the
 * stored token is still that one. One-way: the hash cannot be turned back into a token.
 */
import { createHash } from 'node:crypto';

export function tokenSha256(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'utf8').digest('hex');
}
