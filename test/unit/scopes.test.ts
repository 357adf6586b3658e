import { describe, expect, it } from 'vitest';
import { BrokerError, InvalidRequestError } from '../../functions/core/errors.js';
import {
  assertBearerId,
  bearerKey,
  formatScopeParameter,
  fullScope,
  missingScopes,
  parseBareScope,
  parseGrantedScopes,
  parseScopeString,
  scopeSet,
} from '../../functions/core/scopes.js';
import { ORG, ORG_ID, OTHER_ORG_ID, PER, PER_ID } from './support/fixtures.js';

const ORG_BEARER = { type: 'Organization', id: ORG_ID } as const;
const PER_BEARER = { type: 'Person', id: PER_ID } as const;

/** Runs `fn`, expects a malformed_scope InvalidRequestError, returns it. */
function malformed(fn: () => unknown): InvalidRequestError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidRequestError);
  const error = caught as InvalidRequestError;
  expect(error.name).toBe('InvalidRequestError');
  expect(error.code).toBe('malformed_scope');
  expect(error.transient).toBe(false);
  return error;
}

describe('parseScopeString', () => {
  it('parses one organization scope', () => {
    expect(parseScopeString(`${ORG}.warehouse.items.r`)).toEqual({
      bearer: { type: 'Organization', id: ORG_ID },
      scopes: ['warehouse.items.r'],
    });
  });

  it('parses one person scope', () => {
    expect(parseScopeString(`${PER}.zaikio.person.r`)).toEqual({
      bearer: { type: 'Person', id: PER_ID },
      scopes: ['zaikio.person.r'],
    });
  });

  it('parses the example from the Hub documentation', () => {
    const set = parseScopeString(`${ORG}.warehouse.items.r,${ORG}.zaikio.organization.r`);
    expect(set.bearer).toEqual(ORG_BEARER);
    expect(set.scopes).toEqual(['warehouse.items.r', 'zaikio.organization.r']);
  });

  it('accepts spaces around the commas and at both ends', () => {
    const set = parseScopeString(`  ${ORG}.zaikio.organization.r ,   ${ORG}.warehouse.items.rw  `);
    expect(set.scopes).toEqual(['warehouse.items.rw', 'zaikio.organization.r']);
  });

  it('sorts the scopes, so the same request always maps to the same key', () => {
    const a = parseScopeString(
      `${ORG}.zaikio.organization.r,${ORG}.warehouse.items.r,${ORG}.procurement.orders.w`,
    );
    const b = parseScopeString(
      `${ORG}.procurement.orders.w,${ORG}.zaikio.organization.r,${ORG}.warehouse.items.r`,
    );
    expect(a.scopes).toEqual(['procurement.orders.w', 'warehouse.items.r', 'zaikio.organization.r']);
    expect(b).toEqual(a);
  });

  it('removes duplicate scopes', () => {
    const set = parseScopeString(
      `${ORG}.warehouse.items.r, ${ORG}.warehouse.items.r,${ORG}.warehouse.items.w`,
    );
    expect(set.scopes).toEqual(['warehouse.items.r', 'warehouse.items.w']);
  });

  it('accepts app names with digits and underscores and scope names with underscores', () => {
    const set = parseScopeString(`${ORG}.mission_control.jobs.rw,${ORG}.app2.some_scope.w`);
    expect(set.scopes).toEqual(['app2.some_scope.w', 'mission_control.jobs.rw']);
  });

  it('rejects scopes with different bearer types', () => {
    const error = malformed(() => parseScopeString(`${ORG}.warehouse.items.r,Per/${ORG_ID}.zaikio.person.r`));
    expect(error.message).toContain('same bearer type');
    expect(error.message).toContain(`Per/${ORG_ID}.zaikio.person.r`);
  });

  it('rejects scopes with different bearer ids', () => {
    const error = malformed(() =>
      parseScopeString(`${ORG}.warehouse.items.r,Org/${OTHER_ORG_ID}.warehouse.items.r`),
    );
    expect(error.message).toContain('same bearer id');
    expect(error.message).toContain(`Org/${OTHER_ORG_ID}.warehouse.items.r`);
  });

  it('names a bad app in the message', () => {
    const error = malformed(() => parseScopeString(`${ORG}.Warehouse.items.r`));
    expect(error.message).toContain('app "Warehouse"');
  });

  it('rejects an app name shorter than three characters', () => {
    const error = malformed(() => parseScopeString(`${ORG}.wh.items.r`));
    expect(error.message).toContain('app "wh"');
  });

  it('names a bad scope name in the message', () => {
    const error = malformed(() => parseScopeString(`${ORG}.warehouse.items2.r`));
    expect(error.message).toContain('scope name "items2"');
  });

  it('names a bad permission in the message', () => {
    const error = malformed(() => parseScopeString(`${ORG}.warehouse.items.rwx`));
    expect(error.message).toContain('permission "rwx"');
    expect(malformed(() => parseScopeString(`${ORG}.warehouse.items.R`)).message).toContain('permission "R"');
  });

  it('rejects a scope with too many or too few parts', () => {
    expect(malformed(() => parseScopeString(`${ORG}.warehouse.items.r.x`)).message).toContain(
      'app.scope.permission',
    );
    expect(malformed(() => parseScopeString(`${ORG}.warehouse.r`)).message).toContain('app.scope.permission');
  });

  it.each([
    ['an empty string', ''],
    ['only spaces', '   '],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an array', [`${ORG}.warehouse.items.r`]],
  ])('rejects %s', (_label, value) => {
    malformed(() => parseScopeString(value));
  });

  it('rejects an uppercase bearer id', () => {
    const error = malformed(() => parseScopeString(`Org/${ORG_ID.toUpperCase()}.warehouse.items.r`));
    expect(error.message).toContain('bearer id');
  });

  it('rejects an empty bearer id', () => {
    malformed(() => parseScopeString('Org/.warehouse.items.r'));
  });

  it('rejects a bearer id longer than 64 characters', () => {
    malformed(() => parseScopeString(`Org/${'a'.repeat(65)}.warehouse.items.r`));
  });

  it('rejects an unknown or missing bearer prefix', () => {
    expect(malformed(() => parseScopeString(`Usr/${ORG_ID}.warehouse.items.r`)).message).toContain(
      'must start with a bearer',
    );
    malformed(() => parseScopeString('warehouse.items.r'));
    malformed(() => parseScopeString(`org/${ORG_ID}.warehouse.items.r`));
    malformed(() => parseScopeString(`/${ORG_ID}.warehouse.items.r`));
  });

  it('rejects a bearer without a scope', () => {
    const error = malformed(() => parseScopeString(ORG));
    expect(error.message).toContain('names a bearer but no app.scope.permission');
    malformed(() => parseScopeString(`${ORG}.warehouse.items.r,${ORG}`));
  });

  it('rejects an empty item between commas', () => {
    malformed(() => parseScopeString(`${ORG}.warehouse.items.r,,${ORG}.zaikio.organization.r`));
    malformed(() => parseScopeString(`${ORG}.warehouse.items.r,`));
  });

  it('rejects more than 50 scopes', () => {
    const many = Array.from({ length: 51 }, () => `${ORG}.warehouse.items.r`).join(',');
    expect(malformed(() => parseScopeString(many)).message).toContain('at most 50');
  });
});

describe('scopeSet', () => {
  it('sorts and de-duplicates bare scopes for a bearer', () => {
    expect(scopeSet(PER_BEARER, ['zaikio.person.r', 'warehouse.items.w', 'zaikio.person.r'])).toEqual({
      bearer: PER_BEARER,
      scopes: ['warehouse.items.w', 'zaikio.person.r'],
    });
  });

  it('rejects an empty list', () => {
    expect(malformed(() => scopeSet(ORG_BEARER, [])).message).toContain('at least one scope');
  });

  it('rejects non-string and malformed items', () => {
    malformed(() => scopeSet(ORG_BEARER, [42]));
    malformed(() => scopeSet(ORG_BEARER, ['']));
    malformed(() => scopeSet(ORG_BEARER, [`${ORG}.warehouse.items.r`]));
  });

  it('allows 50 scopes and rejects 51', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => `app${String(i).padStart(2, '0')}.items.r`);
    expect(scopeSet(ORG_BEARER, fifty).scopes).toHaveLength(50);
    malformed(() => scopeSet(ORG_BEARER, [...fifty, 'zaikio.organization.r']));
  });
});

describe('parseBareScope and assertBearerId', () => {
  it('returns a valid bare scope unchanged', () => {
    expect(parseBareScope('warehouse.items.rw')).toBe('warehouse.items.rw');
  });

  it('names the field in a bearer id error', () => {
    expect(malformed(() => assertBearerId('ABC', 'organizationId')).message).toContain('organizationId');
    expect(() => assertBearerId(ORG_ID)).not.toThrow();
  });
});

describe('formatScopeParameter, bearerKey, fullScope', () => {
  it('prefixes every scope with the bearer and joins with commas, sorted', () => {
    const set = parseScopeString(`${ORG}.zaikio.organization.r,${ORG}.warehouse.items.r`);
    expect(formatScopeParameter(set)).toBe(`${ORG}.warehouse.items.r,${ORG}.zaikio.organization.r`);
  });

  it('uses the Per prefix for persons', () => {
    expect(formatScopeParameter(scopeSet(PER_BEARER, ['zaikio.person.r']))).toBe(`${PER}.zaikio.person.r`);
  });

  it('round-trips through parseScopeString', () => {
    const set = parseScopeString(`${ORG}.zaikio.organization.r, ${ORG}.warehouse.items.rw`);
    expect(parseScopeString(formatScopeParameter(set))).toEqual(set);
  });

  it('builds bearer keys and full scopes', () => {
    expect(bearerKey(ORG_BEARER)).toBe(ORG);
    expect(bearerKey(PER_BEARER)).toBe(PER);
    expect(fullScope(ORG_BEARER, 'warehouse.items.r')).toBe(`${ORG}.warehouse.items.r`);
  });
});

describe('missingScopes', () => {
  it('returns nothing when every scope is granted exactly', () => {
    expect(
      missingScopes(
        ['warehouse.items.r', 'zaikio.organization.r'],
        ['warehouse.items.r', 'zaikio.organization.r'],
      ),
    ).toEqual([]);
  });

  it('treats rw as covering r and w', () => {
    expect(missingScopes(['warehouse.items.r'], ['warehouse.items.rw'])).toEqual([]);
    expect(missingScopes(['warehouse.items.w'], ['warehouse.items.rw'])).toEqual([]);
  });

  it('does not treat r or w as covering rw', () => {
    expect(missingScopes(['warehouse.items.rw'], ['warehouse.items.r'])).toEqual(['warehouse.items.rw']);
    expect(missingScopes(['warehouse.items.rw'], ['warehouse.items.w'])).toEqual(['warehouse.items.rw']);
  });

  it('does not treat r as covering w, nor w as covering r', () => {
    expect(missingScopes(['warehouse.items.w'], ['warehouse.items.r'])).toEqual(['warehouse.items.w']);
    expect(missingScopes(['warehouse.items.r'], ['warehouse.items.w'])).toEqual(['warehouse.items.r']);
  });

  it('does not let rw of another scope cover a request', () => {
    expect(missingScopes(['warehouse.items.r'], ['warehouse.stocks.rw', 'procurement.items.rw'])).toEqual([
      'warehouse.items.r',
    ]);
  });

  it('lists every missing scope in request order', () => {
    expect(
      missingScopes(
        ['warehouse.items.r', 'zaikio.organization.r', 'zaikio.sites.w'],
        ['zaikio.organization.r'],
      ),
    ).toEqual(['warehouse.items.r', 'zaikio.sites.w']);
    expect(missingScopes(['warehouse.items.r'], [])).toEqual(['warehouse.items.r']);
  });
});

describe('parseGrantedScopes', () => {
  it('splits the bare comma-separated form and sorts it', () => {
    expect(parseGrantedScopes(ORG_BEARER, 'zaikio.organization.r,warehouse.items.r')).toEqual([
      'warehouse.items.r',
      'zaikio.organization.r',
    ]);
  });

  it('accepts spaces after commas and the space-separated RFC 6749 form', () => {
    expect(parseGrantedScopes(ORG_BEARER, 'warehouse.items.r, zaikio.organization.r')).toEqual([
      'warehouse.items.r',
      'zaikio.organization.r',
    ]);
    expect(parseGrantedScopes(ORG_BEARER, 'zaikio.organization.r warehouse.items.r')).toEqual([
      'warehouse.items.r',
      'zaikio.organization.r',
    ]);
  });

  it('strips the prefix of the same bearer', () => {
    expect(parseGrantedScopes(ORG_BEARER, `${ORG}.warehouse.items.r,${ORG}.zaikio.organization.r`)).toEqual([
      'warehouse.items.r',
      'zaikio.organization.r',
    ]);
  });

  it('drops scopes prefixed with another bearer id or type', () => {
    expect(
      parseGrantedScopes(
        ORG_BEARER,
        `Org/${OTHER_ORG_ID}.warehouse.items.rw,Per/${ORG_ID}.zaikio.person.r,${ORG}.zaikio.organization.r`,
      ),
    ).toEqual(['zaikio.organization.r']);
  });

  it('accepts an array (a JSON array in the response) in either form', () => {
    expect(
      parseGrantedScopes(ORG_BEARER, [
        `${ORG}.zaikio.organization.r`,
        'warehouse.items.r',
        `Org/${OTHER_ORG_ID}.a.b.r`,
      ]),
    ).toEqual(['warehouse.items.r', 'zaikio.organization.r']);
  });

  it('de-duplicates a scope sent bare and prefixed', () => {
    expect(parseGrantedScopes(PER_BEARER, `zaikio.person.r,${PER}.zaikio.person.r`)).toEqual([
      'zaikio.person.r',
    ]);
  });

  it('returns an empty list for an empty answer', () => {
    expect(parseGrantedScopes(ORG_BEARER, '')).toEqual([]);
    expect(parseGrantedScopes(ORG_BEARER, ' , ')).toEqual([]);
    expect(parseGrantedScopes(ORG_BEARER, [])).toEqual([]);
  });
});

it('raises broker errors, never plain errors', () => {
  expect(() => parseScopeString('nonsense')).toThrow(BrokerError);
});

describe('messages quoting caller input', () => {
  it('stay short for a huge scope', () => {
    const huge = `Org/${'a'.repeat(10_000)}.warehouse.items.r`;
    let message = '';
    try {
      parseScopeString(huge);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/bearer id in/);
    expect(message.length).toBeLessThan(300);
  });
});
