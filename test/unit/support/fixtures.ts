/** Shared constants and builders for the unit tests (no I/O). */
import { type ScopeSet, scopeSet } from '../../../functions/core/scopes.js';

export const ORG_ID = 'b1475f65-236c-58b8-96e1-e1778b43beb7';
export const OTHER_ORG_ID = '0d5e2c1a-7f43-4b8e-9a61-3c2b1f0e9d87';
export const PER_ID = '0a2d9c64-56f3-4c2a-9a0b-6b1a4e8f1c11';
export const ORG = `Org/${ORG_ID}`;
export const PER = `Per/${PER_ID}`;

/** A fixed instant, a whole second (2023-11-14T22:13:20Z). */
export const T0 = 1_700_000_000_000;

/** `warehouse.items.r` and `zaikio.organization.r` for ORG_ID. */
export function orgScopes(...scopes: string[]): ScopeSet {
  return scopeSet(
    { type: 'Organization', id: ORG_ID },
    scopes.length > 0 ? scopes : ['warehouse.items.r', 'zaikio.organization.r'],
  );
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsigned-looking JWT (the signature part is junk; the broker never verifies it). */
export function makeJwt(payload: Record<string, unknown>): string {
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}.c2lnbmF0dXJl`;
}

/** A manual clock and a sleep that advances it, recording every wait. */
export function fakeTime(start = T0): {
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly sleeps: number[];
  advance(ms: number): void;
} {
  let now = start;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
    advance(ms) {
      now += ms;
    },
  };
}
