/** The Zaikio Hub simulator: a real HTTP server on loopback speaking the Hub's token endpoint. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  DEFAULT_KNOWN_SCOPES,
  nonNegativeInteger,
  type ResolvedOptions,
  resolveOptions,
  TOKEN_PATH,
} from './config.js';
import { FaultBook, isPreemptive, isSuccessFault, preemptiveReply, type TakenFault } from './faults.js';
import { jsonReply, presentedCredentials, type Reply, ReplyError, readParams } from './http.js';
import { newSigningKey } from './jwt.js';
import { GrantStore, PermissionTable } from './scopes.js';
import { RefreshStore, tokenEndpoint } from './token-endpoint.js';
import type { FaultKind, FaultRule, HubSimulatorOptions, RecordedRequest, SimulatorGrant } from './types.js';

type Draft = Omit<RecordedRequest, 'status' | 'fault'>;

export class HubSimulator {
  /** Base URL, e.g. `http://127.0.0.1:40123`; the token endpoint is `${url}/oauth/access_token`. */
  readonly url: string;

  readonly #server: Server;
  readonly #options: ResolvedOptions;
  readonly #secrets: Map<string, string>;
  readonly #grants = new GrantStore();
  readonly #catalogue: PermissionTable;
  readonly #growCatalogue: boolean;
  readonly #refreshTokens = new RefreshStore();
  readonly #signingKey = newSigningKey();
  readonly #faults = new FaultBook();
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #requests: RecordedRequest[] = [];
  #tokenLifetimeSeconds: number;
  #stopping: Promise<void> | undefined;

  private constructor(server: Server, options: ResolvedOptions, url: string) {
    this.#server = server;
    this.#options = options;
    this.url = url;
    this.#secrets = new Map(options.apps.map((app) => [app.clientId, app.clientSecret]));
    this.#tokenLifetimeSeconds = options.tokenLifetimeSeconds;
    this.#growCatalogue = options.knownScopes === undefined;
    this.#catalogue = PermissionTable.of(options.knownScopes ?? DEFAULT_KNOWN_SCOPES);
    for (const grant of options.grants) this.grant(grant);
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((err: unknown) => this.#crash(res, err));
    });
  }

  static async start(options?: HubSimulatorOptions): Promise<HubSimulator> {
    const resolved = resolveOptions(options);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(resolved.port, resolved.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const host = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;
    try {
      return new HubSimulator(server, resolved, `http://${host}:${port}`);
    } catch (err) {
      server.close();
      throw err;
    }
  }

  /** Every token request, in the order they were answered. */
  get requests(): readonly RecordedRequest[] {
    return [...this.#requests];
  }

  count(filter: { grantType?: string; status?: number } = {}): number {
    return this.#requests.filter(
      (r) =>
        (filter.grantType === undefined || r.grantType === filter.grantType) &&
        (filter.status === undefined || r.status === filter.status),
    ).length;
  }

  /** Rules are checked in order; the first that matches and has uses left applies. */
  inject(rule: FaultRule): void {
    this.#faults.inject(rule);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** Adds scopes for a bearer (to one app, or to every app). */
  grant(grant: SimulatorGrant): void {
    if (grant.clientId !== undefined && !this.#secrets.has(grant.clientId)) {
      throw new RangeError(`grant for unknown app ${grant.clientId}`);
    }
    const scopes = this.#grants.add(grant);
    if (this.#growCatalogue) for (const scope of scopes) this.#catalogue.add(scope);
  }

  /** Removes some (`ungranted_scope` then) or all (`bearer_does_not_exist` then) granted scopes of a bearer. */
  revoke(bearer: string, scopes?: readonly string[]): void {
    this.#grants.revoke(bearer, scopes);
  }

  /** The old secret stops working at once; refresh tokens already issued stay valid. */
  rotateSecret(clientId: string, newSecret: string): void {
    if (!this.#secrets.has(clientId)) throw new RangeError(`unknown app ${clientId}`);
    if (newSecret === '') throw new RangeError('secret must not be empty');
    this.#secrets.set(clientId, newSecret);
  }

  /** Lifetime of access tokens issued from now on. */
  setTokenLifetime(seconds: number): void {
    this.#tokenLifetimeSeconds = nonNegativeInteger('token lifetime', seconds);
  }

  /** Forgets the recorded requests. */
  resetCounts(): void {
    this.#requests = [];
  }

  /** Closes the server and every open socket (keep-alive ones included); idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= new Promise<void>((resolve) => {
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
      for (const socket of this.#sockets) socket.destroy();
    });
    return this.#stopping;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = this.#options.clock();
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST' || path !== TOKEN_PATH) {
      req.resume();
      await this.#sleep(this.#options.latencyMs);
      this.#send(
        res,
        jsonReply(404, { error: 'not_found', error_description: `No route ${req.method} ${path}` }),
      );
      return;
    }
    let params: Map<string, string>;
    try {
      params = await readParams(req);
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
      const draft: Draft = { at, grantType: undefined, clientId: undefined, scope: undefined };
      await this.#sleep(this.#options.latencyMs);
      this.#answer(res, draft, err.reply, undefined);
      return;
    }
    const credentials = presentedCredentials(req.headers.authorization, params);
    const draft: Draft = {
      at,
      grantType: params.get('grant_type'),
      clientId: credentials.clientId,
      scope: params.get('scope'),
    };
    const taken = this.#faults.take({ ...draft, status: 0 }, this.#options.random);
    const fault = taken?.fault;
    await this.#sleep(this.#options.latencyMs + (fault?.kind === 'latency' ? fault.ms : 0));
    if (fault !== undefined && isPreemptive(fault)) {
      const reply = preemptiveReply(fault, this.#options.clock());
      if (reply === 'reset') {
        this.#record(draft, 0, fault.kind);
        req.socket.destroy();
      } else {
        this.#answer(res, draft, reply, fault.kind);
      }
      return;
    }
    const successFault = fault !== undefined && isSuccessFault(fault) ? fault : undefined;
    const result = tokenEndpoint(
      {
        secrets: this.#secrets,
        grants: this.#grants,
        catalogue: this.#catalogue,
        refreshTokens: this.#refreshTokens,
        signingKey: this.#signingKey,
        tokenLifetimeSeconds: this.#tokenLifetimeSeconds,
        issueRefreshTokens: this.#options.issueRefreshTokens,
        refreshTokenLifetimeSeconds: this.#options.refreshTokenLifetimeSeconds,
        nowMs: this.#options.clock(),
      },
      params,
      credentials,
      successFault,
    );
    const applied = appliedFault(taken, successFault !== undefined ? result.faultApplied : true);
    this.#answer(res, draft, result.reply, applied, fault?.kind === 'slowBody' ? fault.delayMs : 0);
  }

  #answer(
    res: ServerResponse,
    draft: Draft,
    reply: Reply,
    fault: FaultKind | undefined,
    bodyDelayMs = 0,
  ): void {
    this.#record(draft, reply.status, fault);
    this.#send(res, reply, bodyDelayMs);
  }

  #record(draft: Draft, status: number, fault: FaultKind | undefined): void {
    const entry: RecordedRequest = Object.freeze(
      fault === undefined ? { ...draft, status } : { ...draft, status, fault },
    );
    this.#requests.push(entry);
    const log = this.#options.log;
    if (log !== undefined) {
      // Never a secret or token value: grant type, client id, scope and outcome only.
      log(
        `hub-simulator POST ${TOKEN_PATH} grant_type=${draft.grantType ?? '-'} client_id=${draft.clientId ?? '-'}` +
          ` scope=${draft.scope ?? '-'} -> ${status === 0 ? 'reset' : status}${fault === undefined ? '' : ` fault=${fault}`}`,
      );
    }
  }

  #send(res: ServerResponse, reply: Reply, bodyDelayMs = 0): void {
    if (res.destroyed) return;
    const body = Buffer.from(reply.body, 'utf8');
    res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(body.length) });
    if (bodyDelayMs <= 0) {
      res.end(body);
      return;
    }
    res.flushHeaders();
    this.#later(bodyDelayMs, () => {
      if (!res.destroyed) res.end(body);
    });
  }

  #crash(res: ServerResponse, err: unknown): void {
    this.#options.log?.(`hub-simulator internal error: ${err instanceof Error ? err.message : String(err)}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.#send(
      res,
      jsonReply(500, { error: 'server_error', error_description: 'Simulator internal error.' }),
    );
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  /** Resolves after `ms`; never resolves once the simulator stops (its sockets are gone by then). */
  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.#later(ms, resolve));
  }
}

/** The fault kind to record; a success fault that did not apply is given back to its rule. */
function appliedFault(taken: TakenFault | undefined, applied: boolean): FaultKind | undefined {
  if (taken === undefined) return undefined;
  if (applied) return taken.fault.kind;
  taken.refund();
  return undefined;
}
