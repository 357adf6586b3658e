/** Minimal HS256 JWTs, shaped like the Zaikio Hub's access tokens. */
import { createHmac, randomBytes } from 'node:crypto';

export interface HubJwtPayload {
  readonly iss: 'ZAI';
  /** `Organization/<id>` or `Person/<id>` */
  readonly sub: string;
  readonly aud: readonly string[];
  readonly jti: string;
  readonly nbf: number;
  readonly iat: number;
  readonly exp: number;
  /** Full scopes, with bearer prefix. */
  readonly scope: readonly string[];
}

const HEADER = { alg: 'HS256', typ: 'JWT' } as const;

const base64urlJson = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A random signing key; the simulator makes one per instance. */
export const newSigningKey = (): Buffer => randomBytes(32);

export function signJwt(payload: HubJwtPayload, key: Buffer): string {
  const unsigned = `${base64urlJson(HEADER)}.${base64urlJson(payload)}`;
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

/** Decodes (does not verify) a JWT's header and payload; undefined when it is not a JWT. */
export function decodeJwt(token: string): { header: unknown; payload: unknown } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] === undefined || parts[1] === undefined) return undefined;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')),
      payload: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')),
    };
  } catch {
    return undefined;
  }
}

/** A random opaque token: 32 bytes, base64url (no dots, so never a JWT). */
export const opaqueToken = (): string => randomBytes(32).toString('base64url');
