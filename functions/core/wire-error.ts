/**
 * How a BrokerError crosses a Lambda Invoke. Lambda reports only `errorType` (the error's name) and
 * `errorMessage`, so the stable code and details ride at the end of the message in a fixed,
 * parseable suffix:  `<message> [code=<code> details=<JSON>]`. See docs/consumers.md.
 */
import { type BrokerError, type BrokerErrorDetails, reviveError } from './errors.js';

const SUFFIX = /^ \[code=([a-z_]+) details=(\{.*\})\]$/s;

export function toWireMessage(error: BrokerError): string {
  return `${error.message} [code=${error.code} details=${JSON.stringify(error.details)}]`;
}

/** An Error whose name and message are what Lambda should report for `error`. */
export function toWireError(error: BrokerError): Error {
  const wire = new Error(toWireMessage(error), { cause: error });
  wire.name = error.name;
  return wire;
}

export function fromWire(errorType: string, errorMessage: string): BrokerError {
  // Messages may quote caller input, so only the last suffix is ours.
  const at = errorMessage.lastIndexOf(' [code=');
  const match = at < 0 ? null : SUFFIX.exec(errorMessage.slice(at));
  let details: BrokerErrorDetails = {};
  if (match?.[2] !== undefined) {
    try {
      const parsed: unknown = JSON.parse(match[2]);
      if (typeof parsed === 'object' && parsed !== null) details = parsed as BrokerErrorDetails;
    } catch {
      // A malformed suffix leaves the details empty; type and message still arrive.
    }
  }
  const message = match === null ? errorMessage : errorMessage.slice(0, at);
  return reviveError({ errorType, code: match?.[1], message, details });
}
