/** Public types of the Zaikio Hub simulator. */

/** An OAuth confidential app known to the simulated Hub. */
export interface SimulatorApp {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** Scopes a bearer (organization or person) has granted to an app. */
export interface SimulatorGrant {
  /** The app the grant is for; default: every app. */
  readonly clientId?: string;
  /** `Org/<id>` or `Per/<id>`. */
  readonly bearer: string;
  /** `warehouse.items.r` form, without the bearer prefix. A `rw` grant covers `r` and `w` requests. */
  readonly scopes: readonly string[];
}

export interface HubSimulatorOptions {
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** Default one app `{ clientId: 'sim-client', clientSecret: 'sim-secret' }`. */
  readonly apps?: readonly SimulatorApp[];
  /** Default none. */
  readonly grants?: readonly SimulatorGrant[];
  /**
   * Scope catalogue (`warehouse.items.r` form; `rw` also lists `r` and `w`). A requested scope not in it is
   * silently dropped, as the real Hub drops nonexistent scopes. Default: `DEFAULT_KNOWN_SCOPES` plus every
   * scope named in grants (also grants added later with `grant()`). When given, it is used as is.
   */
  readonly knownScopes?: readonly string[];
  /** Access-token lifetime (`expires_in`), integer seconds; default 600. */
  readonly tokenLifetimeSeconds?: number;
  /** Whether client_credentials responses carry a refresh token; default true. */
  readonly issueRefreshTokens?: boolean;
  /** Default 7 days. */
  readonly refreshTokenLifetimeSeconds?: number;
  /** Added to every response; default 0. */
  readonly latencyMs?: number;
  /** Epoch milliseconds; default `Date.now`. Used for iat/nbf/exp, refresh-token expiry and RateLimit-Reset. */
  readonly clock?: () => number;
  /** Uniform in [0, 1); default `Math.random`. Consulted for fault rules that have a `probability`. */
  readonly random?: () => number;
  /** One line per token request (never a secret or token value); default: nothing is logged. */
  readonly log?: (line: string) => void;
}

export type Fault =
  | { readonly kind: 'latency'; readonly ms: number }
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly body?: string;
      readonly contentType?: string;
    }
  | {
      readonly kind: 'rateLimited';
      readonly resetInSeconds: number;
      readonly header?: 'RateLimit-Reset' | 'Retry-After';
      /**
       * How the reset time is written: `timestamp` (RateLimit-Reset's default: UNIX seconds),
       * `delta` (seconds from now; Retry-After's default), `milliseconds` (a UNIX timestamp in ms,
       * as a misconfigured proxy might send) or `httpDate` (an HTTP date).
       */
      readonly format?: 'timestamp' | 'delta' | 'milliseconds' | 'httpDate';
      /** The `RateLimit-Rule` header sent with RateLimit-Reset; `null` sends none. Default `300reqs/60s`. */
      readonly rule?: string | null;
    }
  | { readonly kind: 'reset' }
  | { readonly kind: 'slowBody'; readonly delayMs: number }
  | { readonly kind: 'nonJson' }
  | { readonly kind: 'missingField'; readonly field: string }
  | { readonly kind: 'expiresInIso' }
  | { readonly kind: 'partialGrant'; readonly drop: readonly string[] }
  | { readonly kind: 'opaqueToken' }
  | { readonly kind: 'jwtExpEarlier'; readonly bySeconds: number }
  | { readonly kind: 'invalidClient' }
  | { readonly kind: 'invalidGrant' }
  | { readonly kind: 'scopeError'; readonly codes: readonly string[]; readonly status?: number };

export type FaultKind = Fault['kind'];

export interface FaultRule {
  readonly fault: Fault;
  /** How many requests get the fault; default: forever. */
  readonly times?: number;
  /** 0..1, default 1. Rolled with the simulator's `random`. */
  readonly probability?: number;
  /** Only requests of this grant type. */
  readonly grant?: 'client_credentials' | 'refresh_token';
  /** Only requests this accepts. It sees the request before it is answered, so `status` is 0. */
  readonly match?: (req: RecordedRequest) => boolean;
}

export interface RecordedRequest {
  /** Arrival time, from the simulator clock (epoch ms). */
  readonly at: number;
  readonly grantType: string | undefined;
  readonly clientId: string | undefined;
  /** The raw `scope` parameter as sent. */
  readonly scope: string | undefined;
  /** HTTP status answered; 0 when the connection was reset without a response. */
  readonly status: number;
  /** The fault applied to this request, if any. */
  readonly fault?: FaultKind;
}
