/** Helpers around the Hub simulator (local/hub-simulator) for the benchmarks. */
import { Pool } from 'undici';
import type { FaultRule, HubSimulator, RecordedRequest } from '../../local/hub-simulator/index.js';
import { forEachConcurrent } from './stats.js';

/**
 * The Hub's rate limit as a fault rule: a request that would make more than `perSecond × windowSeconds`
 * requests within the last `windowSeconds` gets 429 with RateLimit-Reset. Zaikio counts per window
 * (`300reqs/60s`); a window of several seconds tolerates the jitter of requests that were started
 * evenly paced but arrive a millisecond apart, and still catches a fleet that runs too fast.
 */
export function rateLimitRule(perSecond: number, windowSeconds: number): FaultRule & { limited(): number } {
  const limit = Math.floor(perSecond * windowSeconds);
  const windowMs = windowSeconds * 1000;
  const accepted: number[] = [];
  let head = 0;
  let limited = 0;
  return {
    fault: { kind: 'rateLimited', resetInSeconds: 1 },
    match: (request: RecordedRequest) => {
      while (head < accepted.length && (accepted[head] as number) <= request.at - windowMs) head += 1;
      if (head > 10_000) {
        accepted.splice(0, head);
        head = 0;
      }
      if (accepted.length - head >= limit) {
        limited += 1;
        return true;
      }
      accepted.push(request.at);
      return false;
    },
    limited: () => limited,
  };
}

export interface IssuedHubToken {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresIn: number;
}

/** Client credentials tokens straight from the simulator, for seeding items with real refresh tokens. */
export async function issueTokens(
  hub: HubSimulator,
  credentials: { clientId: string; clientSecret: string },
  /** Each a full scope string, `Org/<id>.app.scope.permission`. */
  scopes: readonly string[],
  concurrency = 32,
): Promise<IssuedHubToken[]> {
  const pool = new Pool(hub.url, { connections: concurrency });
  const authorization = `Basic ${Buffer.from(`${credentials.clientId}:${credentials.clientSecret}`).toString('base64')}`;
  const tokens: IssuedHubToken[] = new Array(scopes.length);
  try {
    await forEachConcurrent(scopes, concurrency, async (scope, index) => {
      const response = await pool.request({
        method: 'POST',
        path: '/oauth/access_token',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
      });
      const body = (await response.body.json()) as Record<string, unknown>;
      const { access_token, refresh_token, expires_in } = body;
      if (typeof access_token !== 'string' || typeof refresh_token !== 'string') {
        throw new Error(`the simulator issued no token for seeding (HTTP ${response.statusCode})`);
      }
      tokens[index] = {
        accessToken: access_token,
        refreshToken: refresh_token,
        expiresIn: Number(expires_in),
      };
    });
  } finally {
    await pool.close();
  }
  return tokens;
}

/** Most requests that arrived within any window of `windowMs` (sliding). */
export function peakInWindow(requests: readonly RecordedRequest[], windowMs: number): number {
  const times = requests.map((request) => request.at).sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while ((times[start] as number) <= (times[end] as number) - windowMs) start += 1;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}
