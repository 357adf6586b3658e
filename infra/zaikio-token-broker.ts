/**
 * The token broker as one construct: the tokens table, the mint, sweep and refresh functions, the
 * schedule, the queues, the app credentials, alarms and a dashboard, wired with least privilege.
 * docs/deploy.md explains every choice made here (keys, sizing, costs).
 */
import { Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ENV } from '../functions/core/env.js';
import {
  HUB_ENVIRONMENTS,
  type HubEnvironment,
  resolveHubBaseUrl,
} from '../functions/core/hub/environments.js';
import { METRICS_NAMESPACE } from '../functions/core/metrics.js';
import { TABLE } from '../functions/core/store/schema.js';
import { type BrokerFunctionOptions, checkFunctionOptions, createBrokerFunction } from './broker-function.js';
import { type ClientSecret, ClientSecrets, type ZaikioClient } from './client-secrets.js';
import { BrokerObservability } from './observability.js';
import { computeSizing, type Sizing, type TunableSettings } from './sizing.js';
import {
  ImportedZaikioTokenBroker,
  type IZaikioTokenBroker,
  TokenBrokerBase,
  type ZaikioTokenBrokerAttributes,
} from './token-access.js';
import { createTokensTable } from './tokens-table.js';

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

/** Memory per function when `functions.<name>.memorySize` is not given. */
const DEFAULT_MEMORY_MB = {
  // More CPU for a faster cold start on the synchronous path.
  mint: 512,
  sweep: 256,
  // I/O-bound and mostly waiting for its pacer: memory buys it nothing but cost.
  refresh: 256,
} as const;

/** The writers' use of a customer managed table key: grantEncryptDecrypt's actions, written out. */
const TABLE_KEY_WRITER_ACTIONS = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
];

export class ZaikioTokenBroker extends TokenBrokerBase implements IZaikioTokenBroker {
  /**
   * A broker deployed by another stack or app, from the values its stack outputs (`BrokerAttributes`),
   * so that `grantTokenAccess` works from anywhere in the same account.
   */
  static fromBrokerAttributes(
    scope: Construct,
    id: string,
    attrs: ZaikioTokenBrokerAttributes,
  ): IZaikioTokenBroker {
    return new ImportedZaikioTokenBroker(scope, id, attrs);
  }

  readonly table: dynamodb.ITable;
  readonly mintFunction: lambda.IFunction;
  readonly sweepFunction: lambda.IFunction;
  readonly refreshFunction: lambda.IFunction;
  readonly refreshQueue: sqs.IQueue;
  readonly refreshDeadLetterQueue: sqs.IQueue;
  readonly scheduleDeadLetterQueue: sqs.IQueue;
  readonly schedule: scheduler.ISchedule;
  /** The app credentials, in the order of `clients`. */
  readonly clientSecrets: readonly ClientSecret[];
  readonly observability: BrokerObservability;
  /** Resolved settings, timeouts and concurrency. */
  readonly sizing: Sizing;
  readonly serviceName: string;
  /** The app a request without `client` gets. */
  readonly defaultClient: string;
  protected readonly usageRecordIntervalMs: number;

  constructor(scope: Construct, id: string, props: ZaikioTokenBrokerProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const sweepInterval = props.sweepInterval ?? Duration.minutes(1);
    this.sizing = computeSizing({
      settings: props.settings,
      sweepIntervalMs: sweepInterval.toMilliseconds(),
      refreshAheadMs: props.refreshAhead?.toMilliseconds(),
      idleAfterMs: props.idleAfter?.toMilliseconds(),
      hubRateLimit: {
        requests: props.hubRateLimit?.requests ?? 300,
        perMs: (props.hubRateLimit?.per ?? Duration.seconds(60)).toMilliseconds(),
      },
      refreshShareOfRateLimit: props.refreshShareOfRateLimit ?? 0.8,
      refreshBatchSize: props.refreshBatchSize ?? 1,
    });
    this.usageRecordIntervalMs = this.sizing.settings.usageRecordIntervalMs;
    const hub = props.hub ?? 'production';
    if (!Object.hasOwn(HUB_ENVIRONMENTS, hub)) {
      try {
        resolveHubBaseUrl(hub);
      } catch (error) {
        throw new Error(`ZaikioTokenBroker: hub: ${(error as Error).message}`);
      }
    }
    this.serviceName = props.serviceName ?? Names.uniqueResourceName(this, { maxLength: 64, separator: '-' });

    const secrets = new ClientSecrets(this, 'Credentials', {
      clients: props.clients ?? [{ name: 'default' }],
      removalPolicy,
    });
    this.clientSecrets = secrets.clients;
    const defaultClient = props.defaultClient ?? (this.clientSecrets[0] as ClientSecret).client;
    if (!this.clientSecrets.some(({ client }) => client === defaultClient)) {
      throw new Error(`ZaikioTokenBroker: defaultClient "${defaultClient}" is not one of the clients`);
    }
    this.defaultClient = defaultClient;

    const roles = {
      mint: this.#role('MintRole', 'Zaikio token broker: mint function'),
      sweep: this.#role('SweepRole', 'Zaikio token broker: sweeper'),
      refresh: this.#role('RefreshRole', 'Zaikio token broker: refresh worker'),
    };
    const writers = [roles.mint, roles.refresh];

    this.table = createTokensTable(this, 'Tokens', {
      writers,
      brokerRoles: [roles.mint, roles.refresh, roles.sweep],
      removalPolicy,
      encryptionKey: props.tableEncryptionKey,
    });
    secrets.restrictReadsTo(writers);

    const refreshDeadLetterQueue = this.#queue('RefreshDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
    });
    const refreshQueue = this.#queue('RefreshQueue', {
      visibilityTimeout: Duration.seconds(this.sizing.refreshVisibilityTimeoutSeconds),
      deadLetterQueue: { queue: refreshDeadLetterQueue, maxReceiveCount: 3 },
    });
    const scheduleDeadLetterQueue = this.#queue('ScheduleDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
    });
    Validations.of(scheduleDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: the DeadLetterConfig of the sweep schedule (EventBridge ' +
        'Scheduler), which cdk-nag does not recognise as a use. Its messages are inspected, not consumed.',
    });
    this.refreshDeadLetterQueue = refreshDeadLetterQueue;
    this.refreshQueue = refreshQueue;
    this.scheduleDeadLetterQueue = scheduleDeadLetterQueue;

    const environment: Record<string, string> = {
      [ENV.tableName]: this.table.tableName,
      [ENV.hub]: hub,
      [ENV.clients]: Stack.of(this).toJsonString(
        Object.fromEntries(this.clientSecrets.map(({ client, secretId }) => [client, secretId])),
      ),
      [ENV.defaultClient]: defaultClient,
      [ENV.settings]: JSON.stringify(this.sizing.settings),
      POWERTOOLS_SERVICE_NAME: this.serviceName,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    };
    const common = {
      removalPolicy,
      tracing: props.tracing ?? lambda.Tracing.DISABLED,
      logLevel: props.logLevel ?? lambda.ApplicationLogLevel.INFO,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    };
    const tuned = (name: keyof typeof DEFAULT_MEMORY_MB) => {
      const options = props.functions?.[name] ?? {};
      checkFunctionOptions(name, options);
      return {
        ...common,
        memorySize: options.memorySize ?? DEFAULT_MEMORY_MB[name],
        logLevel: options.logLevel ?? common.logLevel,
        logRetention: options.logRetention ?? common.logRetention,
        ...(options.reservedConcurrentExecutions === undefined
          ? {}
          : { reservedConcurrentExecutions: options.reservedConcurrentExecutions }),
      };
    };
    this.mintFunction = createBrokerFunction(this, 'Mint', {
      ...tuned('mint'),
      code: 'mint',
      role: roles.mint,
      description: 'Zaikio token broker: get-or-mint a token (invoked by consumers)',
      timeout: Duration.seconds(this.sizing.mintTimeoutSeconds),
      environment,
    });
    this.sweepFunction = createBrokerFunction(this, 'Sweep', {
      ...tuned('sweep'),
      code: 'sweep',
      role: roles.sweep,
      description: 'Zaikio token broker: queue the tokens due for refresh',
      timeout: Duration.seconds(this.sizing.sweepTimeoutSeconds),
      environment: { ...environment, [ENV.refreshQueueUrl]: refreshQueue.queueUrl },
      // A failed sweep is not retried: the next one, one interval later, covers the same tokens.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
    });
    const refreshFunction = createBrokerFunction(this, 'Refresh', {
      ...tuned('refresh'),
      code: 'refresh',
      role: roles.refresh,
      description: 'Zaikio token broker: refresh the queued tokens at the Hub',
      timeout: Duration.seconds(this.sizing.refreshTimeoutSeconds),
      environment,
    });
    refreshFunction.addEventSource(
      new SqsEventSource(refreshQueue, {
        batchSize: props.refreshBatchSize ?? 1,
        // With the worker's pacer, this keeps the fleet under the Hub rate limit (docs/deploy.md).
        maxConcurrency: this.sizing.settings.refreshConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    this.refreshFunction = refreshFunction;
    const refreshReserved = props.functions?.refresh?.reservedConcurrentExecutions;
    if (refreshReserved !== undefined && refreshReserved < this.sizing.settings.refreshConcurrency) {
      // Lambda would throttle the queue's pollers and move messages to the dead-letter queue.
      throw new Error(
        `ZaikioTokenBroker: functions.refresh.reservedConcurrentExecutions ${refreshReserved} is below the ` +
          `refresh queue's maximum concurrency (${this.sizing.settings.refreshConcurrency}, from hubRateLimit)`,
      );
    }

    // Least privilege, written out action by action (no wildcard, no index wildcard).
    for (const role of writers) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ReadAndWriteTokens',
          actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          resources: [this.table.tableArn],
        }),
      );
      // What grantEncryptDecrypt gives, without its wildcards (kms:ReEncrypt*, kms:GenerateDataKey*,
      // which also cover the asymmetric data key pairs a table key never uses).
      this.table.encryptionKey?.grant(role, ...TABLE_KEY_WRITER_ACTIONS);
      for (const { secret } of this.clientSecrets) secret.grantRead(role);
    }
    roles.sweep.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'FindDueTokens',
        actions: ['dynamodb:Query'],
        resources: [`${this.table.tableArn}/index/${TABLE.dueIndex.name}`],
      }),
    );
    this.table.encryptionKey?.grantDecrypt(roles.sweep);
    // GetQueueAttributes: the sweeper hands out no more than the workers can do before the next sweep.
    refreshQueue.grant(roles.sweep, 'sqs:SendMessage', 'sqs:GetQueueAttributes');

    if (common.tracing !== lambda.Tracing.DISABLED) {
      // lambda.Function adds the X-Ray write permissions (ACTIVE and PASS_THROUGH alike) to each role.
      for (const role of Object.values(roles)) {
        Validations.of(role.node.findChild('DefaultPolicy')).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'Tracing is on, so Lambda adds xray:PutTraceSegments and xray:PutTelemetryRecords to this role. ' +
            'X-Ray supports no resource-level permissions for these actions: the only possible Resource is "*".',
        });
      }
    }

    this.schedule = this.#sweepSchedule(sweepInterval, scheduleDeadLetterQueue);

    this.observability = new BrokerObservability(this, 'Observability', {
      serviceName: this.serviceName,
      sweepInterval,
      functions: { mint: this.mintFunction, sweep: this.sweepFunction, refresh: this.refreshFunction },
      queues: {
        refresh: refreshQueue,
        refreshDeadLetter: refreshDeadLetterQueue,
        scheduleDeadLetter: scheduleDeadLetterQueue,
      },
      alarmTopic: props.alarmTopic,
    });
  }

  /**
   * What another stack or app passes to `ZaikioTokenBroker.fromBrokerAttributes`; the repository's
   * stack outputs it as JSON (`BrokerAttributes`).
   */
  get attributes(): ZaikioTokenBrokerAttributes {
    return {
      tableArn: this.table.tableArn,
      mintFunctionArn: this.mintFunction.functionArn,
      defaultClient: this.defaultClient,
      usageRecordIntervalMs: this.usageRecordIntervalMs,
      ...(this.table.encryptionKey === undefined
        ? {}
        : { tableEncryptionKeyArn: this.table.encryptionKey.keyArn }),
    };
  }

  #role(id: string, description: string): iam.Role {
    // No AWSLambdaBasicExecutionRole: each role may write only to its own function's log group.
    return new iam.Role(this, id, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description,
    });
  }

  #queue(id: string, props: sqs.QueueProps): sqs.Queue {
    return new sqs.Queue(this, id, {
      ...props,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
  }

  #sweepSchedule(interval: Duration, deadLetterQueue: sqs.IQueue): scheduler.Schedule {
    const role = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'Zaikio token broker: EventBridge Scheduler starts the sweeper',
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StartTheSweeper',
        actions: ['lambda:InvokeFunction'],
        resources: [this.sweepFunction.functionArn],
      }),
    );
    deadLetterQueue.grant(role, 'sqs:SendMessage');
    const sweeper = this.sweepFunction;
    // The stock LambdaInvoke target would also allow invoking every version (`<arn>:*`).
    const target: scheduler.IScheduleTarget = {
      bind: () => ({
        arn: sweeper.functionArn,
        role,
        // A sweep that cannot start within a minute is replaced by the next one.
        retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 60 },
        deadLetterConfig: { arn: deadLetterQueue.queueArn },
      }),
    };
    return new scheduler.Schedule(this, 'SweepSchedule', {
      schedule: scheduler.ScheduleExpression.rate(interval),
      target,
      description: 'Zaikio token broker: look for tokens due for refresh',
      timeWindow: scheduler.TimeWindow.off(),
    });
  }
}
