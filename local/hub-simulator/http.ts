/** HTTP plumbing: replies, request parameters and client authentication. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { MAX_BODY_BYTES } from './config.js';

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
export const HTML_CONTENT_TYPE = 'text/html; charset=utf-8';

/** RFC 6749 §5.1: token responses must not be cached. */
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'Content-Type': JSON_CONTENT_TYPE, ...NO_STORE, ...headers },
    body: JSON.stringify(body),
  };
}

export const INVALID_CLIENT_DESCRIPTION =
  'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.';
export const INVALID_GRANT_DESCRIPTION =
  'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.';

export const invalidClient = (): Reply =>
  jsonReply(
    401,
    { error: 'invalid_client', error_description: INVALID_CLIENT_DESCRIPTION },
    { 'WWW-Authenticate': 'Basic realm="Zaikio Hub"' },
  );

export const invalidGrant = (description = INVALID_GRANT_DESCRIPTION): Reply =>
  jsonReply(400, { error: 'invalid_grant', error_description: description });

export const invalidRequest = (description: string): Reply =>
  jsonReply(400, { error: 'invalid_request', error_description: description });

export const scopeErrors = (codes: readonly string[], status = 402): Reply =>
  jsonReply(status, { errors: { scopes: codes } });

/** Thrown while reading a request that cannot be processed. */
export class ReplyError extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      throw new ReplyError(
        jsonReply(413, { error: 'invalid_request', error_description: 'Request body too large.' }),
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Form (default) or JSON body parameters; only string values (numbers are stringified, arrays joined with ','). */
export async function readParams(req: IncomingMessage): Promise<Map<string, string>> {
  const raw = await readBody(req);
  const params = new Map<string, string>();
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (/^application\/([a-z.+-]*\+)?json\b/.test(contentType)) {
    let parsed: unknown;
    try {
      parsed = raw.trim() === '' ? {} : JSON.parse(raw);
    } catch {
      throw new ReplyError(invalidRequest('The request body is not valid JSON.'));
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ReplyError(invalidRequest('The request body must be a JSON object.'));
    }
    for (const [key, value] of Object.entries(parsed)) {
      if (typeof value === 'string') {
        params.set(key, value);
      } else if (typeof value === 'number' || typeof value === 'boolean') {
        params.set(key, String(value));
      } else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
        params.set(key, value.join(','));
      }
    }
    return params;
  }
  for (const [key, value] of new URLSearchParams(raw)) if (!params.has(key)) params.set(key, value);
  return params;
}

export interface PresentedCredentials {
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
}

/** RFC 6749 2.3.1: Basic credentials are form-encoded before base64 (some clients encode, some not). */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

/** HTTP Basic first (as Doorkeeper does), then client_id/client_secret in the body. */
export function presentedCredentials(
  authorization: string | undefined,
  params: ReadonlyMap<string, string>,
): PresentedCredentials {
  if (authorization !== undefined && authorization.trim() !== '') {
    const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(authorization);
    if (m?.[1] === undefined) return { clientId: undefined, clientSecret: undefined };
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { clientId: formDecode(decoded), clientSecret: undefined };
    return {
      clientId: formDecode(decoded.slice(0, colon)),
      clientSecret: formDecode(decoded.slice(colon + 1)),
    };
  }
  return { clientId: params.get('client_id'), clientSecret: params.get('client_secret') };
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Constant-time string comparison. */
export const secretsEqual = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));
