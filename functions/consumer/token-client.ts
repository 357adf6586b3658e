/**
 * Gets a token the cheapest way that is still correct:
 *   1. this container's memory, when the token lasts beyond the caller's minimum validity (no I/O);
 *   2. one GetItem of the readable attributes, when the item's token is servable;
 *   3. one synchronous Invoke of the mint function otherwise: no token, expiring, revoked or an
 *      unknown status.
 * The broker refreshes a key ahead only while its token is used after half its life
 * (functions/core/lifecycle/serve.ts `useCheckAt`). So the first call after that point starts, in
 * the background, one read of the item and, if nobody reported a use yet, an asynchronous Invoke of
 * the mint function that reports one; the call itself is answered from memory and waits for
 * neither.
 * Concurrent callers for one key share one lookup (2 and 3) and one forced re-mint. Memory is
 * bounded: expired tokens are dropped, and past maxCachedTokens keys the least recently used goes.
 */

import { isServable, isUseNews, lasts, useCheckAt } from '../core/lifecycle/serve.js';
import { tokenSha256 } from '../core/token-hash.js';
import { type ReadableItem, readToken } from './item.js';
import { invokeMint, reportUse } from './mint.js';
import { type ResolvedOptions, resolveOptions, type TokenClientOptions } from './options.js';
import {
  type AccessTokenRequest,
  type MintPayload,
  type ResolvedRequest,
  resolveRequest,
} from './request.js';

export interface AccessToken {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Epoch milliseconds. */
  readonly expiresAt: number;
  /** Granted scopes, `app.scope.permission`, sorted. */
  readonly scopes: readonly string[];
  /** Where it came from: memory (no network call), table (one GetItem) or mint (an Invoke). */
  readonly source: 'memory' | 'table' | 'mint';
}

export interface ForceRefreshOptions {
  /**
   * The token an API refused. When memory already holds a different one (another caller re-minted
   * meanwhile), that one is returned without a new mint; otherwise the mint function is told which
   * token it was (by its SHA-256), and returns the stored one if someone already replaced it.
   * @default the token this client remembers for the request
   */
  readonly rejectedToken?: string;
}

/** One key's state in this container. */
interface Slot {
  token: AccessToken | undefined;
  lookup: Promise<AccessToken> | undefined;
  forced: Promise<AccessToken> | undefined;
  /** Bumped by a forced re-mint, so a lookup that began earlier cannot put the refused token back. */
  generation: number;
  /** When the token's use is next worth checking on (its check point); undefined: nothing to report. */
  checkAt: number | undefined;
}

/** How often, at most, every remembered token is checked for expiry. */
const EXPIRED_SWEEP_INTERVAL_MS = 60_000;

export class TokenClient {
  readonly #options: ResolvedOptions;
  /** In order of use, least recent first: a Map iterates in insertion order, and a use re-inserts. */
  readonly #slots = new Map<string, Slot>();
  #sweptAt = Number.NEGATIVE_INFINITY;
  /** Checks of a token's use (a read, maybe a report) still in flight, for `flush`. */
  readonly #checks = new Set<Promise<void>>();

  constructor(options: TokenClientOptions = {}) {
    this.#options = resolveOptions(options);
  }

  async getAccessToken(request: AccessTokenRequest): Promise<AccessToken> {
    const resolved = this.#resolve(request);
    const slot = this.#slot(resolved.id);
    const cached = slot.token;
    if (cached !== undefined && this.#lasts(cached, resolved)) {
      if (this.#checkDue(slot)) this.#checkInBackground(slot, resolved);
      return { ...cached, source: 'memory' };
    }

    const shared =
      slot.forced ?? slot.lookup ?? this.#share(slot, 'lookup', () => this.#lookup(resolved, slot));
    const token = await shared;
    if (this.#lasts(token, resolved)) return token;
    // The shared lookup was for a caller content with less validity than this one needs.
    return this.#mint(resolved, slot, false);
  }

  /** Drops the remembered token and has the mint function replace it, e.g. after an API refused it. */
  async forceRefresh(request: AccessTokenRequest, options: ForceRefreshOptions = {}): Promise<AccessToken> {
    const resolved = this.#resolve(request);
    const slot = this.#slot(resolved.id);
    const cached = slot.token;
    if (
      options.rejectedToken !== undefined &&
      cached !== undefined &&
      cached.accessToken !== options.rejectedToken &&
      this.#lasts(cached, resolved)
    ) {
      return { ...cached, source: 'memory' };
    }
    if (slot.forced !== undefined) return slot.forced;
    // Named (by its hash: the token itself never travels back), so the broker serves a token someone
    // already put in its place instead of minting again.
    const rejectedToken = options.rejectedToken ?? cached?.accessToken;
    const rejected = rejectedToken === undefined ? true : { accessTokenSha256: tokenSha256(rejectedToken) };
    slot.generation += 1;
    slot.token = undefined;
    return this.#share(slot, 'forced', () => this.#mint(resolved, slot, rejected));
  }

  /**
   * Waits for the use checks still in flight (a read and maybe a report, made without making a caller
   * wait), e.g. before a process exits or an injected SDK client is closed. A Lambda function need
   * not call it: a check interrupted by a frozen container is finished when it thaws, or costs one
   * mint later.
   */
  async flush(): Promise<void> {
    // A check starts its report only once its read is back: wait until nothing is left.
    while (this.#checks.size > 0) await Promise.all([...this.#checks]);
  }

  /** Closes the SDK clients this client made itself; injected ones are left to their owner. */
  destroy(): void {
    for (const client of this.#options.owned) client.destroy();
  }

  async #lookup(request: ResolvedRequest, slot: Slot): Promise<AccessToken> {
    const generation = slot.generation;
    const stored = await readToken(this.#options.dynamodb, this.#options.tableName, request.key);
    if (this.#servable(stored, request)) {
      const { accessToken, expiresAt, grantedScopes } = stored.token;
      if (slot.generation === generation) void this.#noteUse(slot, request, stored);
      const token: AccessToken = {
        accessToken,
        tokenType: 'Bearer',
        expiresAt,
        scopes: grantedScopes,
        source: 'table',
      };
      if (slot.generation === generation) slot.token = token;
      return { ...token };
    }
    return this.#mint(request, slot, false, generation);
  }

  async #mint(
    request: ResolvedRequest,
    slot: Slot,
    forceRefresh: MintPayload['forceRefresh'] | false,
    generation = slot.generation,
  ): Promise<AccessToken> {
    const payload = forceRefresh === false ? request.payload : { ...request.payload, forceRefresh };
    const { issuedAt, ...token } = await invokeMint(
      this.#options.lambda,
      this.#options.mintFunctionName,
      payload,
    );
    if (slot.generation === generation) {
      slot.token = token;
      // The mint reports a use of a token it serves past its check point itself.
      slot.checkAt = issuedAt === undefined ? undefined : this.#nextCheck(issuedAt, token.expiresAt);
    }
    return { ...token };
  }

  #servable(
    stored: ReadableItem | undefined,
    request: ResolvedRequest,
  ): stored is ReadableItem & { readonly token: NonNullable<ReadableItem['token']> } {
    return stored !== undefined && isServable(stored, this.#options.clock(), request.minValidityMs);
  }

  /** The token in memory has reached its check point: its use is to be checked on. */
  #checkDue(slot: Slot): boolean {
    return slot.checkAt !== undefined && this.#options.clock() >= slot.checkAt;
  }

  #nextCheck(issuedAt: number, expiresAt: number): number | undefined {
    const checkAt = useCheckAt({ issuedAt, expiresAt });
    return this.#options.clock() < checkAt ? checkAt : undefined;
  }

  /**
   * Reads the item behind a remembered token past its check point, and reports the use if nobody has,
   * while the caller is served from memory. Once per token: a failed read is not retried (it costs at
   * most one mint later), and never reaches a caller.
   */
  #checkInBackground(slot: Slot, request: ResolvedRequest): void {
    slot.checkAt = undefined;
    const generation = slot.generation;
    this.#track(
      readToken(this.#options.dynamodb, this.#options.tableName, request.key).then((stored) => {
        if (slot.generation !== generation || !this.#servable(stored, request)) return;
        return this.#noteUse(slot, request, stored);
      }),
    );
  }

  /**
   * After a read of the item: report a use of its token when nobody has since its check point, else
   * remember when to check. The report is an asynchronous Invoke of the mint, not awaited: the caller
   * has its token, and a lost report costs at most one mint on demand later.
   */
  #noteUse(
    slot: Slot,
    request: ResolvedRequest,
    stored: ReadableItem & { readonly token: NonNullable<ReadableItem['token']> },
  ): Promise<void> {
    const { token } = stored;
    slot.checkAt = this.#nextCheck(token.issuedAt, token.expiresAt);
    if (!isUseNews(stored.lastRequestedAt, token, this.#options.clock())) return Promise.resolve();
    const report = { ...request.payload, useReport: true } as const;
    return this.#track(reportUse(this.#options.lambda, this.#options.mintFunctionName, report));
  }

  /** Keeps a background promise for `flush`, its failure swallowed: nothing in it is the caller's. */
  #track(work: Promise<unknown>): Promise<void> {
    const tracked = work.then(
      () => undefined,
      () => undefined,
    );
    this.#checks.add(tracked);
    void tracked.then(() => this.#checks.delete(tracked));
    return tracked;
  }

  #lasts(token: AccessToken, request: ResolvedRequest): boolean {
    return lasts(token, this.#options.clock(), request.minValidityMs);
  }

  #resolve(request: AccessTokenRequest): ResolvedRequest {
    return resolveRequest(request, this.#options);
  }

  #slot(id: string): Slot {
    let slot = this.#slots.get(id);
    if (slot === undefined) {
      slot = { token: undefined, lookup: undefined, forced: undefined, generation: 0, checkAt: undefined };
    } else {
      this.#slots.delete(id);
      // An expired token is never served again: let it go now rather than at the next sweep.
      if (slot.token !== undefined && !lasts(slot.token, this.#options.clock(), 0)) slot.token = undefined;
    }
    this.#slots.set(id, slot);
    return slot;
  }

  /** Starts `work` as the slot's shared promise, cleared when it settles, whatever the outcome. */
  #share(slot: Slot, field: 'lookup' | 'forced', work: () => Promise<AccessToken>): Promise<AccessToken> {
    const promise = work();
    slot[field] = promise;
    const clear = () => {
      if (slot[field] === promise) slot[field] = undefined;
      this.#trim();
    };
    promise.then(clear, clear);
    return promise;
  }

  /**
   * Forgets what memory no longer needs: slots without a token (a failed lookup is not remembered),
   * expired tokens (checked once a minute), then the least recently used keys past the cap. A slot
   * with a lookup or re-mint in flight stays, so concurrent callers keep sharing it.
   */
  #trim(): void {
    const now = this.#options.clock();
    const idle = (slot: Slot) => slot.lookup === undefined && slot.forced === undefined;
    if (now - this.#sweptAt >= EXPIRED_SWEEP_INTERVAL_MS) {
      this.#sweptAt = now;
      for (const [id, slot] of this.#slots) {
        if (idle(slot) && (slot.token === undefined || !lasts(slot.token, now, 0))) this.#slots.delete(id);
      }
    }
    let excess = this.#slots.size - this.#options.maxCachedTokens;
    for (const [id, slot] of this.#slots) {
      if (excess <= 0) break;
      if (!idle(slot)) continue;
      this.#slots.delete(id);
      excess -= 1;
    }
  }
}

export function createTokenClient(options: TokenClientOptions = {}): TokenClient {
  return new TokenClient(options);
}
