/**
 * One synchronous Invoke of the mint function. Its errors arrive as Lambda function errors
 * (errorType + errorMessage with a `[code=… details=…]` suffix) and become the broker's own typed
 * error classes again, so a consumer catches the same ScopeNotGrantedError the mint function threw.
 */
import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  type BrokerError,
  DependencyUnavailableError,
  HubUnavailableError,
  InvalidRequestError,
  PUBLIC_ERROR_TYPES,
} from '../core/errors.js';
import { fromWire } from '../core/wire-error.js';
import type { MintPayload } from './request.js';
import type { AccessToken } from './token-client.js';

const PUBLIC_TYPES: ReadonlySet<string> = new Set(PUBLIC_ERROR_TYPES);
/** AWS errors that no retry fixes: the function's configuration or its grant is wrong. */
const CONFIGURATION_ERRORS = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'InvalidParameterValueException',
]);

type Json = Readonly<Record<string, unknown>>;

function invalidAnswer(what: string): HubUnavailableError {
  // Never the payload itself: it may hold a token.
  return new HubUnavailableError(
    'hub_invalid_response',
    `the mint function's answer is not a token: ${what}`,
  );
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function assertObject(value: unknown, what: string): asserts value is Json {
  if (!isObject(value)) throw invalidAnswer(what);
}

/** The token and, when the broker says, when it was issued. */
type Answer = AccessToken & { readonly issuedAt: number | undefined };

/** The mint response (docs/consumers.md), with its times as epoch milliseconds. */
function parseMintResponse(value: unknown): Answer {
  assertObject(value, 'not a JSON object');
  const { accessToken, tokenType, issuedAt, expiresAt, scopes } = value;
  if (typeof accessToken !== 'string' || accessToken === '') throw invalidAnswer('no accessToken');
  if (tokenType !== 'Bearer') throw invalidAnswer('tokenType is not Bearer');
  const expiry = typeof expiresAt === 'string' ? Date.parse(expiresAt) : Number.NaN;
  if (Number.isNaN(expiry)) throw invalidAnswer('expiresAt is not an ISO 8601 time');
  // Brokers before the use report did not send it; without it the client reports no use.
  const issued = issuedAt === undefined ? undefined : Date.parse(String(issuedAt));
  if (issued !== undefined && (typeof issuedAt !== 'string' || Number.isNaN(issued))) {
    throw invalidAnswer('issuedAt is not an ISO 8601 time');
  }
  if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string')) {
    throw invalidAnswer('scopes is not a list of strings');
  }
  return { accessToken, tokenType, expiresAt: expiry, scopes, source: 'mint', issuedAt: issued };
}

/** A function error: the mint function's own typed errors, or the runtime's (timeout, crash). */
function parseFunctionError(value: unknown, functionName: string): BrokerError {
  const { errorType, errorMessage } = isObject(value) ? value : {};
  if (typeof errorType === 'string' && typeof errorMessage === 'string' && PUBLIC_TYPES.has(errorType)) {
    return fromWire(errorType, errorMessage);
  }
  // A runtime failure's message may quote anything; only its type is repeated here.
  const type = typeof errorType === 'string' ? errorType : 'an unnamed error';
  return new DependencyUnavailableError(
    'mint_unavailable',
    `the mint function ${functionName} failed with ${type}`,
  );
}

function decode(bytes: Uint8Array | undefined): unknown {
  const text = bytes === undefined ? '' : new TextDecoder().decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function invokeMint(
  lambda: LambdaClient,
  functionName: string,
  payload: MintPayload,
): Promise<Answer> {
  let output: InvokeCommandOutput;
  try {
    output = await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
  } catch (error) {
    const name = error instanceof Error ? error.name : 'unknown error';
    if (CONFIGURATION_ERRORS.has(name)) {
      throw new InvalidRequestError(
        'invalid_request',
        `the mint function ${functionName} cannot be invoked (${name}): check MINT_FUNCTION_NAME and the grant`,
      );
    }
    throw new DependencyUnavailableError(
      'mint_unavailable',
      `the mint function ${functionName} could not be invoked (${name}); try again`,
      {},
      { cause: error },
    );
  }
  const answer = decode(output.Payload);
  if (output.FunctionError !== undefined) throw parseFunctionError(answer, functionName);
  return parseMintResponse(answer);
}

/**
 * Tells the broker that a token is in use, so that it refreshes the key ahead: an asynchronous Invoke
 * (`Event`) of the mint function with the caller's own request, which Lambda accepts at once and the
 * mint answers by recording the use (it serves the stored token past its check point:
 * functions/core/token-service.ts). Consumers have no write access to the table; the mint also holds
 * the report to the consumer's grant. Throws the SDK's error.
 */
export async function reportUse(
  lambda: LambdaClient,
  functionName: string,
  payload: MintPayload,
): Promise<void> {
  await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify(payload)),
    }),
  );
}
