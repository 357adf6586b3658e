/**
 * Metric names the functions publish (CloudWatch EMF through Powertools Metrics) and the CDK stack
 * alarms on. One list, so a rename cannot silently break an alarm.
 */
export const METRICS_NAMESPACE = 'ZaikioTokenBroker';

export const METRIC = {
  /** Mint function: tokens handed out, by outcome dimension-free counters. */
  tokensServed: 'TokensServed',
  tokensMinted: 'TokensMinted',
  /** Mint function: failures that are the broker's or the Hub's (alarmed). */
  mintFailures: 'MintFailures',
  /** Mint function: failures that are the caller's to fix (bad request, scope not granted). */
  mintRefusals: 'MintRefusals',
  /** Sweeper: items found due in this run. */
  due: 'DueTokens',
  /** Sweeper: age of the most overdue item found (seconds past its refresh time). */
  oldestOverdueSeconds: 'OldestOverdueSeconds',
  /** Refresh worker outcomes. */
  refreshed: 'TokensRefreshed',
  fellBackToClientCredentials: 'FellBackToClientCredentials',
  revoked: 'TokensRevoked',
  refreshFailures: 'RefreshFailures',
  skipped: 'RefreshesSkipped',
  retired: 'TokensRetired',
} as const;
