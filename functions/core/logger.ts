import { Logger } from '@aws-lambda-powertools/logger';

/**
 * Structured JSON logs. Callers log keys, outcomes, codes and durations, never a token or secret:
 * nothing here redacts, so nothing secret may be passed in (test/secrets-in-logs.test.ts checks).
 */
/** What the handlers need of a logger; Powertools' Logger in Lambda, a readable one locally. */
export type EventLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/**
 * The service name is the construct's (POWERTOOLS_SERVICE_NAME, unique per deployment), so that two
 * brokers in one account can be told apart; a name given here would override it.
 */
export function createLogger(serviceName?: string): Logger {
  return new Logger({
    serviceName: serviceName ?? process.env.POWERTOOLS_SERVICE_NAME ?? 'zaikio-token-broker',
  });
}

/** The loggable parts of any error: its class, code and message (which never carry secrets). */
export function describeError(error: unknown): { errorType: string; code?: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { errorType: error.name, ...(typeof code === 'string' ? { code } : {}), message: error.message };
  }
  return { errorType: 'unknown', message: 'a non-Error value was thrown' };
}
