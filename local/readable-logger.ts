import type { EventLogger } from '../functions/core/logger.js';

type Attributes = Record<string, unknown>;

/** Handler log events worth a line on a developer's terminal; the rest (batch summaries) are noise. */
const SHOWN = new Set([
  'token request',
  'token request failed',
  'refresh',
  'refresh crashed',
  'malformed refresh message',
]);

/**
 * One readable line per mint, refresh and failure, from the handlers' own structured log calls:
 * `12:00:01 mint   Org/… default#warehouse.items.r  minted  23 ms`. The handlers never pass
 * token values, so neither does this.
 */
export function createReadableLogger(write: (line: string) => void): EventLogger {
  const line = (level: string, message: string | object, extra: unknown[]) => {
    const text = typeof message === 'string' ? message : '';
    if (!SHOWN.has(text)) return;
    const attributes = Object.assign({}, ...extra.filter((value) => typeof value === 'object')) as Attributes;
    const time = new Date().toISOString().slice(11, 19);
    const kind = text.startsWith('token') ? 'mint   ' : 'refresh';
    const what = attributes.outcome ?? attributes.errorType ?? level;
    const why = attributes.message === undefined ? '' : `  ${String(attributes.message)}`;
    const duration =
      attributes.durationMs === undefined ? '' : `  ${Math.round(Number(attributes.durationMs))} ms`;
    write(`${time} ${kind} ${String(attributes.key ?? '-')}  ${String(what)}${duration}${why}`);
  };
  return {
    // Locally every refresh gets its line: the point of the runtime is to watch the broker work.
    debug: (message: string | object, ...extra: unknown[]) => line('debug', message, extra),
    info: (message: string | object, ...extra: unknown[]) => line('info', message, extra),
    warn: (message: string | object, ...extra: unknown[]) => line('warn', message, extra),
    error: (message: string | object, ...extra: unknown[]) => line('error', message, extra),
  } as EventLogger;
}
