/** Fault rules: which request gets which fault, and the replies of faults that replace the Hub's answer. */
import { STATUS_CODES } from 'node:http';
import { nonNegativeInteger } from './config.js';
import {
  HTML_CONTENT_TYPE,
  invalidClient,
  invalidGrant,
  JSON_CONTENT_TYPE,
  type Reply,
  scopeErrors,
} from './http.js';
import { parseScope } from './scopes.js';
import type { Fault, FaultKind, FaultRule, RecordedRequest } from './types.js';

/** Faults that answer instead of the Hub: the request is not processed (no state changes). */
export type PreemptiveFault = Extract<
  Fault,
  { kind: 'status' | 'rateLimited' | 'reset' | 'nonJson' | 'invalidClient' | 'invalidGrant' | 'scopeError' }
>;
/** Faults that alter a success response; they do not apply (and are not used up) when the Hub answers an error. */
export type SuccessFault = Extract<
  Fault,
  { kind: 'missingField' | 'expiresInIso' | 'partialGrant' | 'opaqueToken' | 'jwtExpEarlier' }
>;

const PREEMPTIVE_KINDS: ReadonlySet<FaultKind> = new Set<FaultKind>([
  'status',
  'rateLimited',
  'reset',
  'nonJson',
  'invalidClient',
  'invalidGrant',
  'scopeError',
]);
const SUCCESS_KINDS: ReadonlySet<FaultKind> = new Set<FaultKind>([
  'missingField',
  'expiresInIso',
  'partialGrant',
  'opaqueToken',
  'jwtExpEarlier',
]);

export const isPreemptive = (fault: Fault): fault is PreemptiveFault => PREEMPTIVE_KINDS.has(fault.kind);
export const isSuccessFault = (fault: Fault): fault is SuccessFault => SUCCESS_KINDS.has(fault.kind);

export const RATE_LIMIT_RULE = '300reqs/60s';

/** Throws RangeError for a rule that cannot be applied. */
export function validateRule(rule: FaultRule): void {
  if (rule.times !== undefined && (!Number.isSafeInteger(rule.times) || rule.times < 1)) {
    throw new RangeError(`times must be a positive integer, got ${String(rule.times)}`);
  }
  if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) {
    throw new RangeError(`probability must be within 0..1, got ${String(rule.probability)}`);
  }
  const fault = rule.fault;
  switch (fault.kind) {
    case 'latency':
      nonNegativeInteger('latency ms', fault.ms);
      break;
    case 'slowBody':
      nonNegativeInteger('slowBody delayMs', fault.delayMs);
      break;
    case 'rateLimited':
      nonNegativeInteger('rateLimited resetInSeconds', fault.resetInSeconds);
      break;
    case 'jwtExpEarlier':
      nonNegativeInteger('jwtExpEarlier bySeconds', fault.bySeconds);
      break;
    case 'status':
      if (!Number.isSafeInteger(fault.status) || fault.status < 200 || fault.status > 599) {
        throw new RangeError(`status must be within 200..599, got ${String(fault.status)}`);
      }
      break;
    case 'scopeError':
      if (
        fault.status !== undefined &&
        (!Number.isSafeInteger(fault.status) || fault.status < 400 || fault.status > 599)
      ) {
        throw new RangeError(`scopeError status must be within 400..599, got ${String(fault.status)}`);
      }
      break;
    case 'partialGrant':
      for (const scope of fault.drop) {
        if (parseScope(scope) === undefined) {
          throw new RangeError(`partialGrant: malformed scope ${JSON.stringify(scope)}`);
        }
      }
      break;
    case 'missingField':
      if (fault.field === '') throw new RangeError('missingField: field must not be empty');
      break;
    default:
      break;
  }
}

/** A fault taken for one request; `refund` gives its use back when it did not apply. */
export interface TakenFault {
  readonly fault: Fault;
  readonly refund: () => void;
}

export class FaultBook {
  #rules: { readonly rule: FaultRule; remaining: number }[] = [];

  inject(rule: FaultRule): void {
    validateRule(rule);
    this.#rules.push({ rule, remaining: rule.times ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.#rules = [];
  }

  /** The first rule that matches, has uses left and wins its probability roll; one use is taken. */
  take(req: RecordedRequest, random: () => number): TakenFault | undefined {
    for (const entry of this.#rules) {
      const { rule } = entry;
      if (entry.remaining <= 0) continue;
      if (rule.grant !== undefined && rule.grant !== req.grantType) continue;
      if (rule.match !== undefined && !rule.match(req)) continue;
      if (rule.probability !== undefined && !(random() < rule.probability)) continue;
      entry.remaining -= 1;
      return {
        fault: rule.fault,
        refund: () => {
          entry.remaining += 1;
        },
      };
    }
    return undefined;
  }
}

const htmlPage = (status: number): string => {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<!DOCTYPE html>\n<html>\n<head><title>${title}</title></head>\n<body>\n<center><h1>${title}</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n`;
};

const looksLikeJson = (body: string): boolean => {
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
};

/** The reply of a preemptive fault; 'reset' means: destroy the socket. */
export function preemptiveReply(fault: PreemptiveFault, nowMs: number): Reply | 'reset' {
  switch (fault.kind) {
    case 'reset':
      return 'reset';
    case 'status': {
      const body = fault.body ?? htmlPage(fault.status);
      const contentType =
        fault.contentType ??
        (fault.body !== undefined && looksLikeJson(body) ? JSON_CONTENT_TYPE : HTML_CONTENT_TYPE);
      return { status: fault.status, headers: { 'Content-Type': contentType }, body };
    }
    case 'rateLimited': {
      const name = fault.header ?? 'RateLimit-Reset';
      const format = fault.format ?? (name === 'Retry-After' ? 'delta' : 'timestamp');
      const resetAt = nowMs + fault.resetInSeconds * 1000;
      const value = {
        timestamp: String(Math.ceil(resetAt / 1000)),
        delta: String(fault.resetInSeconds),
        milliseconds: String(resetAt),
        httpDate: new Date(resetAt).toUTCString(),
      }[format];
      const rule = name === 'Retry-After' ? null : fault.rule === undefined ? RATE_LIMIT_RULE : fault.rule;
      const headers: Record<string, string> = {
        [name]: value,
        ...(rule === null ? {} : { 'RateLimit-Rule': rule }),
      };
      return {
        status: 429,
        headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers },
        body: 'Retry later\n',
      };
    }
    case 'nonJson':
      return {
        status: 200,
        headers: { 'Content-Type': HTML_CONTENT_TYPE },
        body: '<!DOCTYPE html>\n<html><head><title>Zaikio</title></head><body><p>Service is being updated.</p></body></html>\n',
      };
    case 'invalidClient':
      return invalidClient();
    case 'invalidGrant':
      return invalidGrant();
    case 'scopeError':
      return scopeErrors(fault.codes, fault.status ?? 402);
  }
}
