/**
 * A token's life, in one place: pure functions of (record, request or time, settings) that the
 * token service (get-or-mint), the refresher and the consumer client all decide by. No I/O and no
 * clock of their own: every time is a parameter, so each rule is tested with plain numbers
 * (test/unit/lifecycle.test.ts). Storage (store/repository.ts) and the Hub (fetcher.ts) only carry
 * out what is decided here. Every file imports pure modules only.
 *
 * - serve.ts: servability (never hand out a token that expires within the caller's minimum validity;
 *   for the record and the consumer's read alike), when a use is worth recording;
 * - mint.ts: get-or-mint's next step (serve, refuse from the record, wait, mint), recorded failures;
 * - lease.ts: lease terms, the Hub deadline under a lease, refresh-token trust;
 * - write.ts: what a mint or refresh writes (token, refresh time, use, failure and its backoff);
 * - refresh.ts: what the refresher does with a due key (refresh it while it is in use, retire it, skip).
 */
export * from './lease.js';
export * from './mint.js';
export * from './refresh.js';
export * from './serve.js';
export * from './write.js';
