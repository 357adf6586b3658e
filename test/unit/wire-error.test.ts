import { describe, expect, it } from 'vitest';
import {
  AccessDeniedError,
  type BrokerError,
  DependencyUnavailableError,
  HubUnavailableError,
  InvalidClientError,
  InvalidGrantError,
  InvalidRequestError,
  PUBLIC_ERROR_TYPES,
  RateLimitedError,
  ScopeNotGrantedError,
} from '../../functions/core/errors.js';
import { parseScopeString } from '../../functions/core/scopes.js';
import { fromWire, toWireError, toWireMessage } from '../../functions/core/wire-error.js';
import { ORG } from './support/fixtures.js';

const RETRY_AT = new Date('2026-11-28T15:00:30.000Z');

const PUBLIC_ERRORS: readonly BrokerError[] = [
  new InvalidRequestError('invalid_request', 'the request must be a JSON object'),
  new InvalidRequestError('malformed_scope', 'scope "x" must have the form app.scope.permission', {
    hubCodes: ['malformed_scope'],
    hubStatus: 400,
  }),
  new InvalidRequestError('unknown_client', 'client "nobody" is not configured in this broker'),
  new ScopeNotGrantedError('scope_not_granted', 'the Zaikio Hub refused the scopes (ungranted_scope)', {
    hubCodes: ['ungranted_scope'],
    missingScopes: [`${ORG}.warehouse.items.r`],
    hubStatus: 402,
  }),
  new ScopeNotGrantedError('partial_grant', 'granted only some scopes', {
    missingScopes: [`${ORG}.zaikio.organization.r`, `${ORG}.warehouse.items.w`],
    hubStatus: 200,
  }),
  new AccessDeniedError('unidentified_caller', 'the mint function was invoked without a consumer alias'),
  new AccessDeniedError('bearer_not_allowed', 'consumer "orders" is not granted tokens of Org/x', {
    consumer: 'orders',
    refused: ['Org/x'],
  }),
  new AccessDeniedError('new_key_limit', 'consumer "orders" asked for more than 20 new tokens this hour', {
    consumer: 'orders',
    retryAt: RETRY_AT.toISOString(),
  }),
  new InvalidClientError('invalid_client', 'the Zaikio Hub refused the app credentials', { hubStatus: 401 }),
  new InvalidClientError('secret_unavailable', 'could not read the secret of client "main"'),
  new InvalidClientError('secret_malformed', 'the secret of client "main" has no "clientId" key'),
  new RateLimitedError('the Zaikio Hub rate-limited the app', RETRY_AT, { hubStatus: 429 }),
  new HubUnavailableError('hub_unavailable', 'the Zaikio Hub is unavailable (HTTP 503)', { hubStatus: 503 }),
  new HubUnavailableError('hub_timeout', 'the Zaikio Hub did not answer in time'),
  new HubUnavailableError('hub_invalid_response', 'unusable token response', { hubStatus: 200 }),
  new HubUnavailableError('lease_wait_timeout', 'another mint did not finish in time'),
  new HubUnavailableError('corrupt_item', 'the stored token item is corrupt'),
  new DependencyUnavailableError('store_unavailable', 'the token table could not be read'),
  new DependencyUnavailableError('mint_unavailable', 'the mint function could not be invoked'),
  new DependencyUnavailableError('secrets_unavailable', 'Secrets Manager did not answer'),
  new DependencyUnavailableError('dependency_unavailable', 'the broker could not serve this request now'),
];

const roundTrip = (error: BrokerError): BrokerError => fromWire(error.name, toWireMessage(error));

describe('wire errors', () => {
  it('covers every public error type', () => {
    expect(new Set(PUBLIC_ERRORS.map((e) => e.name))).toEqual(new Set(PUBLIC_ERROR_TYPES));
  });

  it.each(PUBLIC_ERRORS.map((error) => [`${error.name} ${error.code}`, error] as const))(
    'round-trips %s with code, message and details',
    (_label, error) => {
      const revived = roundTrip(error);
      expect(revived.constructor).toBe(error.constructor);
      expect(revived.name).toBe(error.name);
      expect(revived.code).toBe(error.code);
      expect(revived.message).toBe(error.message);
      expect(revived.details).toEqual(error.details);
      expect(revived.transient).toBe(error.transient);
    },
  );

  it('round-trips the retry time of a RateLimitedError', () => {
    const revived = roundTrip(new RateLimitedError('slow down', RETRY_AT));
    expect(revived).toBeInstanceOf(RateLimitedError);
    expect((revived as RateLimitedError).retryAt.getTime()).toBe(RETRY_AT.getTime());
    expect(revived.details.retryAt).toBe(RETRY_AT.toISOString());
  });

  it('writes the documented suffix', () => {
    const error = new ScopeNotGrantedError('scope_not_granted', 'refused', { hubCodes: ['ungranted_scope'] });
    expect(toWireMessage(error)).toBe(
      'refused [code=scope_not_granted details={"hubCodes":["ungranted_scope"]}]',
    );
    expect(toWireMessage(new HubUnavailableError('hub_timeout', 'late'))).toBe(
      'late [code=hub_timeout details={}]',
    );
  });

  it('builds an Error with the name and suffixed message Lambda reports, keeping the cause', () => {
    const error = new InvalidClientError('secret_malformed', 'bad secret');
    const wire = toWireError(error);
    expect(wire).toBeInstanceOf(Error);
    expect(wire.name).toBe('InvalidClientError');
    expect(wire.message).toBe('bad secret [code=secret_malformed details={}]');
    expect(wire.cause).toBe(error);
    const revived = fromWire(wire.name, wire.message);
    expect(revived.code).toBe('secret_malformed');
  });

  it('round-trips a multi-line message and one with brackets', () => {
    const error = new InvalidRequestError('invalid_request', 'line one\nline [two] {x}\n  three');
    expect(roundTrip(error).message).toBe(error.message);
    expect(roundTrip(error).code).toBe('invalid_request');
  });

  it('keeps a message without suffix whole, with empty details and the default code', () => {
    const revived = fromWire('ScopeNotGrantedError', 'Task timed out after 15.02 seconds');
    expect(revived).toBeInstanceOf(ScopeNotGrantedError);
    expect(revived.message).toBe('Task timed out after 15.02 seconds');
    expect(revived.code).toBe('scope_not_granted');
    expect(revived.details).toEqual({});
    expect(fromWire('InvalidClientError', 'no suffix').code).toBe('invalid_client');
    expect(fromWire('InvalidRequestError', 'no suffix').code).toBe('invalid_request');
    expect(fromWire('HubUnavailableError', 'no suffix').code).toBe('hub_unavailable');
  });

  it('gives a RateLimitedError without retryAt a valid retry time around now', () => {
    const before = Date.now();
    const revived = fromWire('RateLimitedError', 'slow down') as RateLimitedError;
    expect(revived).toBeInstanceOf(RateLimitedError);
    expect(revived.retryAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(revived.retryAt.getTime()).toBeLessThanOrEqual(Date.now());
    expect(revived.details.retryAt).toBe(revived.retryAt.toISOString());
  });

  it('turns an unknown or runtime error type into HubUnavailableError', () => {
    for (const errorType of ['Runtime.ExitError', 'Sandbox.Timedout', 'TypeError', 'InvalidGrantError']) {
      const revived = fromWire(errorType, 'something broke');
      expect(revived).toBeInstanceOf(HubUnavailableError);
      expect(revived.code).toBe('hub_unavailable');
      expect(revived.transient).toBe(true);
    }
    expect(roundTrip(new InvalidGrantError('refused')).name).toBe('HubUnavailableError');
  });

  it('falls back to the default code when the suffix names a code of another type', () => {
    expect(fromWire('InvalidClientError', 'x [code=hub_timeout details={}]').code).toBe('invalid_client');
    expect(fromWire('HubUnavailableError', 'x [code=partial_grant details={}]').code).toBe('hub_unavailable');
  });

  it('keeps type and message when the details JSON is malformed', () => {
    const revived = fromWire(
      'ScopeNotGrantedError',
      'refused [code=partial_grant details={"missingScopes":[}]',
    );
    expect(revived).toBeInstanceOf(ScopeNotGrantedError);
    expect(revived.code).toBe('partial_grant');
    expect(revived.message).toBe('refused');
    expect(revived.details).toEqual({});
  });

  it('ignores a suffix that does not match the format', () => {
    for (const message of [
      'refused [code=Partial_Grant details={}]',
      'refused [code=partial_grant details=[]]',
      'refused [code=partial_grant]',
      'refused [code=partial_grant details={}] trailing',
    ]) {
      const revived = fromWire('ScopeNotGrantedError', message);
      expect(revived.message).toBe(message);
      expect(revived.code).toBe('scope_not_granted');
      expect(revived.details).toEqual({});
    }
  });

  it('reads empty and non-empty details objects', () => {
    const revived = fromWire('HubUnavailableError', 'x [code=hub_timeout details={}]');
    expect(revived.details).toEqual({});
    expect(fromWire('HubUnavailableError', 'x [code=hub_timeout details={"hubStatus":503}]').details).toEqual(
      {
        hubStatus: 503,
      },
    );
  });

  // BUG: the suffix regex matches from the FIRST " [code=" whose tail ends in "}]", so a message that
  // quotes caller input (parseScopeString echoes the scope) can forge the code and loses its end.
  it('reads only the last suffix, so caller text in the message cannot forge the code', () => {
    let error: BrokerError | undefined;
    try {
      parseScopeString(`${ORG}. [code=unknown_client details={}]`);
    } catch (caught) {
      error = caught as BrokerError;
    }
    expect(error?.code).toBe('malformed_scope');
    const revived = roundTrip(error as BrokerError);
    expect(revived.code).toBe('malformed_scope');
    expect(revived.message).toBe(error?.message);
  });
});
