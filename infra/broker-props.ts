/**
 * The props of ZaikioTokenBroker, each with its default; docs/deploy.md lists them with the context
 * keys of the repository's stack.
 */
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { HubEnvironment } from '../functions/core/hub/environments.js';
import type { BrokerFunctionOptions } from './broker-function.js';
import type { ZaikioClient } from './client-secrets.js';
import type { TunableSettings } from './sizing.js';

/** Any other Hub: a proxy or a simulator. Credentials in the URL are rejected. */
export type HubBaseUrl = `https://${string}` | `http://${string}`;

export interface HubRateLimit {
  /** Token requests allowed per app in one window. */
  readonly requests: number;
  /** The window. */
  readonly per: Duration;
}

export interface ZaikioTokenBrokerProps {
  /**
   * The Zaikio Hub to talk to: an environment name, or the base URL of another Hub.
   * @default 'production'
   */
  readonly hub?: HubEnvironment | HubBaseUrl;
  /**
   * The Zaikio apps whose client credentials the broker uses, each with its secret.
   * @default one app named "default" with a new secret
   */
  readonly clients?: readonly ZaikioClient[];
  /**
   * The app used when a request names none.
   * @default the first of `clients`
   */
  readonly defaultClient?: string;
  /**
   * How often the sweeper looks for tokens to refresh: whole minutes.
   * @default Duration.minutes(1)
   */
  readonly sweepInterval?: Duration;
  /**
   * Refresh a token once it expires within this time (or a tenth of its lifetime, if longer). At least
   * two sweep intervals, and one interval plus the minimum validity.
   * @default Duration.minutes(2)
   */
  readonly refreshAhead?: Duration;
  /**
   * A token nobody asked for in this long stops being refreshed.
   * @default Duration.days(7)
   */
  readonly idleAfter?: Duration;
  /**
   * The Hub's token request limit per app (`RateLimit-Rule`). The refresh worker's concurrency and
   * pacing are derived from it (docs/deploy.md, "Sizing").
   * @default 300 requests per 60 seconds
   */
  readonly hubRateLimit?: HubRateLimit;
  /**
   * Share of the Hub rate limit the refresh worker may use; the rest is left for mints.
   * @default 0.8
   */
  readonly refreshShareOfRateLimit?: number;
  /**
   * SQS messages per worker invocation (1 to 10); each message carries up to `settings.keysPerMessage`
   * keys. The worker's timeout grows with it.
   * @default 1
   */
  readonly refreshBatchSize?: number;
  /**
   * Further broker settings (functions/core/settings.ts), passed to every function as BROKER_SETTINGS
   * together with the ones derived from the props above (which cannot be set here).
   * @default the defaults in functions/core/settings.ts
   */
  readonly settings?: Partial<TunableSettings>;
  /**
   * What happens to the table, the secrets this construct creates and the log groups when the
   * construct is removed. With RETAIN the table also gets deletion protection.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long the functions' logs are kept (each function can override it in `functions`).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The lowest level the functions log (each function can override it in `functions`).
   * @default lambda.ApplicationLogLevel.INFO
   */
  readonly logLevel?: lambda.ApplicationLogLevel;
  /**
   * Memory, reserved concurrency, log level and retention of each function.
   * @default see BrokerFunctionOptions
   */
  readonly functions?: {
    readonly mint?: BrokerFunctionOptions;
    readonly sweep?: BrokerFunctionOptions;
    readonly refresh?: BrokerFunctionOptions;
  };
  /**
   * X-Ray tracing of the three functions (`lambda.Tracing.ACTIVE` adds the X-Ray write permissions).
   * @default lambda.Tracing.DISABLED
   */
  readonly tracing?: lambda.Tracing;
  /**
   * Encrypt the table with this customer managed key. The grants then also give `kms:Decrypt` on it
   * to every reader (consumers included) and encrypt/decrypt to the broker's writers.
   * @default the AWS managed key aws/dynamodb (no key policy, no grant needed)
   */
  readonly tableEncryptionKey?: kms.IKey;
  /**
   * Where alarms (and their return to OK) are sent.
   * @default no notification; alarms show in the console and on the dashboard
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The `service` dimension of the broker's metrics (POWERTOOLS_SERVICE_NAME).
   * @default a name derived from the stack name and this construct's path (unique per account and region)
   */
  readonly serviceName?: string;
}
