import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_REFUSAL_HOLD_MS } from '../../functions/core/lifecycle/lease.js';
import { createLogger } from '../../functions/core/logger.js';
import { parseScopeString } from '../../functions/core/scopes.js';
import { tokenKey } from '../../functions/core/store/key.js';
import { tokenSha256 } from '../../functions/core/token-hash.js';
import { createMintHandler } from '../../functions/mint/handler.js';
import type { MintResponse } from '../../functions/mint/payload.js';
import { CLIENT_SECRET, type Harness, startHarness, TEST_CONTEXT } from '../support/harness.js';
import { captureOutput } from '../support/logs.js';

describe('logs of the mint paths', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => harness.stop());

  it('never contain the client secret, an access token or a refresh token', async () => {
    let now = Date.now();
    const broker = harness.broker({ clock: () => now, hub: { backoffBaseMs: 1, maxAttempts: 2 } });
    const mint = createMintHandler(() => broker, createLogger());
    const org = randomUUID();
    harness.hub.grant({ bearer: `Org/${org}`, scopes: ['warehouse.items.r'] });
    const scope = `Org/${org}.warehouse.items.r`;
    const issued: string[] = [];
    // Names the token last issued, so each forced request goes to the Hub again.
    const forceRefresh = () => ({
      accessTokenSha256: tokenSha256(issued.findLast((value) => value.split('.').length === 3) ?? ''),
    });
    const remember = async (event: unknown) => {
      try {
        issued.push(((await mint(event, TEST_CONTEXT)) as MintResponse).accessToken);
      } catch (error) {
        issued.push(String(error));
      }
    };

    const output = await captureOutput(async () => {
      await remember({ scope });
      await remember({ scope, forceRefresh: forceRefresh() });
      harness.hub.inject({ fault: { kind: 'status', status: 503 }, times: 2 });
      await remember({ scope, forceRefresh: forceRefresh() });
      harness.hub.inject({ fault: { kind: 'invalidClient' }, times: 2 });
      await remember({ scope, forceRefresh: forceRefresh() });
      // A confirmed refusal of the app's credentials answers its other keys for a while.
      now += CLIENT_REFUSAL_HOLD_MS;
      harness.hub.inject({ fault: { kind: 'partialGrant', drop: ['warehouse.items.r'] }, times: 1 });
      await remember({ scope: `Org/${org}.warehouse.items.r,Org/${org}.zaikio.organization.r` });
      await remember({ scope: `Org/${randomUUID()}.warehouse.items.r` });
      await remember({ scope: 'not a scope' });
      harness.setSecret(`{"clientId": "x", "clientSecret": "${CLIENT_SECRET}", broken`);
      await remember({ scope: `Org/${org}.zaikio.organization.r`, forceRefresh: forceRefresh() });
    });
    harness.setSecret(JSON.stringify({ clientId: 'broker-test-client', clientSecret: CLIENT_SECRET }));

    const stored = await broker.store.get(tokenKey('default', parseScopeString(scope)), { consistent: true });
    const secrets = [
      CLIENT_SECRET,
      stored?.refreshToken,
      ...issued.filter((value) => value.split('.').length === 3),
    ];
    expect(secrets.filter((value) => value !== undefined).length).toBeGreaterThanOrEqual(4);
    // Each mint path logged one structured line, so there is something to scan.
    const lines = output.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(8);
    expect(lines.every((line) => JSON.parse(line).service === 'zaikio-token-broker')).toBe(true);
    for (const secret of secrets) {
      if (secret !== undefined) expect(output).not.toContain(secret);
    }
    // The JWT payload is base64url: no fragment of it may appear either.
    for (const token of issued.filter((value) => value.split('.').length === 3)) {
      expect(output).not.toContain(token.split('.')[1]?.slice(0, 24));
    }
    expect(output).toContain('"outcome":"minted"');
    expect(output).toContain('"errorType":"ScopeNotGrantedError"');
  });
});
