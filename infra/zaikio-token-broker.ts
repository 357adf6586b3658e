/**
 * The token broker as one construct: the tokens table, the mint, sweep and refresh functions, the
 * schedule, the queues, the app credentials, alarms and a dashboard, wired with least privilege.
 * docs/deploy.md explains every choice made here (keys, sizing, costs).
 */
import path from 'node:path';
import { Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CONSUMER_ENV } from '../functions/consumer/options.js';
import { ENV } from '../functions/core/config.js';
import {
  HUB_ENVIRONMENTS,
  type HubEnvironment,
  resolveHubBaseUrl,
} from '../functions/core/hub/environments.js';
import { METRICS_NAMESPACE } from '../functions/core/metrics.js';
import { assertBearerId, bearerKey } from '../functions/core/scopes.js';
import { ATTR, READABLE_ATTRIBUTES, TABLE } from '../functions/core/store/schema.js';
import { type ClientSecret, ClientSecrets, type ZaikioClient } from './client-secrets.js';
import { BrokerObservability } from './observability.js';
import { computeSizing, type Sizing, type TunableSettings } from './sizing.js';

export type { HubEnvironment } from '../functions/core/hub/environments.js';
export type { ExistingSecret, ZaikioClient } from './client-secrets.js';
export { CONSUMER_ENV };

/** Every way to read items; the table's resource policy limits them for everyone but the broker. */
const READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:PartiQLSelect',
];

/** A table resource policy statement denying READ_ACTIONS to every principal but `except`, when `condition` holds. */
function denyReadsByOthers(
  sid: string,
  except: readonly iam.IRole[],
  condition: Record<string, unknown>,
): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: READ_ACTIONS,
    resources: ['*'],
    conditions: { ArnNotEquals: { 'aws:PrincipalArn': except.map((role) => role.roleArn) }, ...condition },
  });
}

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
   * How long the functions' logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where alarms (and their return to OK) are sent.
   * @default no notification; alarms show in the console and on the dashboard
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Also deploy the example consumer (functions/examples/consumer.ts): a function that lists an
   * organization's warehouse items with a broker token, granted with `grantTokenAccess`. It reads the
   * sandbox warehouse unless its ZAIKIO_WAREHOUSE_URL is set (`exampleConsumerFunction.addEnvironment`).
   * @default false
   */
  readonly exampleConsumer?: boolean;
  /**
   * The `service` dimension of the broker's metrics (POWERTOOLS_SERVICE_NAME).
   * @default a name derived from the stack name and this construct's path (unique per account and region)
   */
  readonly serviceName?: string;
}

export interface TokenAccessOptions {
  /**
   * Limit reads to the tokens of these organizations (Zaikio organization ids) with
   * `dynamodb:LeadingKeys`. The mint function is not limited this way: see docs/deploy.md.
   * @default tokens of every bearer
   */
  readonly organizations?: readonly string[];
}

const ROOT = path.resolve(import.meta.dirname, '..');
const FUNCTIONS = {
  Mint: 'mint/handler.ts',
  Sweep: 'sweep/handler.ts',
  Refresh: 'refresh/handler.ts',
  ExampleConsumer: 'examples/consumer.ts',
} as const;

export class ZaikioTokenBroker extends Construct {
  readonly table: dynamodb.Table;
  readonly mintFunction: nodejs.NodejsFunction;
  readonly sweepFunction: nodejs.NodejsFunction;
  readonly refreshFunction: nodejs.NodejsFunction;
  readonly refreshQueue: sqs.Queue;
  readonly refreshDeadLetterQueue: sqs.Queue;
  readonly scheduleDeadLetterQueue: sqs.Queue;
  readonly schedule: scheduler.Schedule;
  /** The app credentials, in the order of `clients`. */
  readonly clientSecrets: readonly ClientSecret[];
  readonly observability: BrokerObservability;
  /** The example consumer, when `exampleConsumer` is set. */
  readonly exampleConsumerFunction?: nodejs.NodejsFunction;
  /** Resolved settings, timeouts and concurrency. */
  readonly sizing: Sizing;
  readonly serviceName: string;
  /** The app a request without `client` gets. */
  readonly defaultClient: string;
  readonly #removalPolicy: RemovalPolicy;
  readonly #logRetention: logs.RetentionDays;

  constructor(scope: Construct, id: string, props: ZaikioTokenBrokerProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.#removalPolicy = removalPolicy;
    this.#logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
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
    const brokerRoles = [roles.mint, roles.refresh, roles.sweep];

    this.table = new dynamodb.Table(this, 'Tokens', {
      partitionKey: { name: TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // AWS managed key aws/dynamodb: its use is logged in CloudTrail, and consumers need no KMS grant.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TABLE.ttlAttribute,
      removalPolicy,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      resourcePolicy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'OnlyTheBrokerWritesTokens',
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: [
              'dynamodb:PutItem',
              'dynamodb:UpdateItem',
              'dynamodb:DeleteItem',
              'dynamodb:BatchWriteItem',
              'dynamodb:PartiQLInsert',
              'dynamodb:PartiQLUpdate',
              'dynamodb:PartiQLDelete',
            ],
            resources: ['*'],
            conditions: { ArnNotEquals: { 'aws:PrincipalArn': writers.map((role) => role.roleArn) } },
          }),
          // Even an account administrator's broad policy cannot read refresh tokens: everyone but the
          // broker's roles may read only named attributes, and never the refresh token.
          denyReadsByOthers('OnlyTheBrokerReadsRefreshTokens', brokerRoles, {
            'ForAnyValue:StringEquals': { 'dynamodb:Attributes': [ATTR.refreshToken] },
          }),
          denyReadsByOthers('OthersReadOnlyNamedAttributes', brokerRoles, {
            StringNotEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
          }),
        ],
      }),
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE.dueIndex.name,
      partitionKey: { name: TABLE.dueIndex.partitionKey, type: dynamodb.AttributeType.NUMBER },
      sortKey: { name: TABLE.dueIndex.sortKey, type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    secrets.restrictReadsTo(writers);

    this.refreshDeadLetterQueue = this.#queue('RefreshDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
    });
    this.refreshQueue = this.#queue('RefreshQueue', {
      visibilityTimeout: Duration.seconds(this.sizing.refreshVisibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.refreshDeadLetterQueue, maxReceiveCount: 3 },
    });
    this.scheduleDeadLetterQueue = this.#queue('ScheduleDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.scheduleDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: the DeadLetterConfig of the sweep schedule (EventBridge ' +
        'Scheduler), which cdk-nag does not recognise as a use. Its messages are inspected, not consumed.',
    });

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
      // Stack traces point into the TypeScript sources (the bundle ships a source map, no sources).
      NODE_OPTIONS: '--enable-source-maps',
    };
    this.mintFunction = this.#function('Mint', roles.mint, {
      description: 'Zaikio token broker: get-or-mint a token (invoked by consumers)',
      memorySize: 512,
      timeout: Duration.seconds(this.sizing.mintTimeoutSeconds),
      environment,
    });
    this.sweepFunction = this.#function('Sweep', roles.sweep, {
      description: 'Zaikio token broker: queue the tokens due for refresh',
      memorySize: 256,
      timeout: Duration.seconds(this.sizing.sweepTimeoutSeconds),
      environment: { ...environment, [ENV.refreshQueueUrl]: this.refreshQueue.queueUrl },
      // A failed sweep is not retried: the next one, one interval later, covers the same tokens.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
    });
    this.refreshFunction = this.#function('Refresh', roles.refresh, {
      description: 'Zaikio token broker: refresh the queued tokens at the Hub',
      // I/O-bound and mostly waiting for its pacer: memory buys it nothing but cost.
      memorySize: 256,
      timeout: Duration.seconds(this.sizing.refreshTimeoutSeconds),
      environment,
    });
    this.refreshFunction.addEventSource(
      new SqsEventSource(this.refreshQueue, {
        batchSize: props.refreshBatchSize ?? 1,
        // With the worker's pacer, this keeps the fleet under the Hub rate limit (docs/deploy.md).
        maxConcurrency: this.sizing.settings.refreshConcurrency,
        reportBatchItemFailures: true,
      }),
    );

    // Least privilege, written out action by action (no wildcard, no index wildcard).
    for (const role of writers) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ReadAndWriteTokens',
          actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          resources: [this.table.tableArn],
        }),
      );
      for (const { secret } of this.clientSecrets) secret.grantRead(role);
    }
    roles.sweep.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'FindDueTokens',
        actions: ['dynamodb:Query'],
        resources: [`${this.table.tableArn}/index/${TABLE.dueIndex.name}`],
      }),
    );
    // GetQueueAttributes: the sweeper hands out no more than the workers can do before the next sweep.
    this.refreshQueue.grant(roles.sweep, 'sqs:SendMessage', 'sqs:GetQueueAttributes');

    this.schedule = this.#sweepSchedule(sweepInterval);

    this.observability = new BrokerObservability(this, 'Observability', {
      serviceName: this.serviceName,
      sweepInterval,
      functions: { mint: this.mintFunction, sweep: this.sweepFunction, refresh: this.refreshFunction },
      queues: {
        refresh: this.refreshQueue,
        refreshDeadLetter: this.refreshDeadLetterQueue,
        scheduleDeadLetter: this.scheduleDeadLetterQueue,
      },
      alarmTopic: props.alarmTopic,
    });

    if (props.exampleConsumer === true) {
      this.exampleConsumerFunction = this.#function(
        'ExampleConsumer',
        this.#role('ExampleConsumerRole', 'Zaikio token broker: example consumer'),
        {
          description: 'Zaikio token broker: example consumer (lists warehouse items with a broker token)',
          memorySize: 256,
          timeout: Duration.seconds(30),
          environment: { NODE_OPTIONS: '--enable-source-maps' },
        },
      );
      this.grantTokenAccess(this.exampleConsumerFunction);
    }
  }

  /**
   * Lets `grantee` read tokens and ask for new ones: GetItem of the readable attributes only (never
   * the refresh token), optionally only for some organizations, and Invoke on the mint function.
   * Nothing else: no write, no Query or Scan, no secret. A Lambda function also gets the
   * environment variables the consumer client reads (CONSUMER_ENV).
   */
  grantTokenAccess(grantee: iam.IGrantable, options: TokenAccessOptions = {}): iam.Grant {
    const leadingKeys = options.organizations?.map((id) => {
      assertBearerId(id, 'organization id');
      return bearerKey({ type: 'Organization', id });
    });
    if (leadingKeys?.length === 0) {
      throw new Error(
        'ZaikioTokenBroker: grantTokenAccess: organizations must not be empty; omit it for all',
      );
    }
    const read = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem'],
      resourceArns: [this.table.tableArn],
      conditions: {
        'ForAllValues:StringEquals': {
          'dynamodb:Attributes': [...READABLE_ATTRIBUTES],
          ...(leadingKeys === undefined ? {} : { 'dynamodb:LeadingKeys': leadingKeys }),
        },
        // GetItem always carries Select: ALL_ATTRIBUTES unless a ProjectionExpression is given.
        StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
      },
    });
    const invoke = iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.mintFunction.functionArn],
    });
    if (!read.success || !invoke.success) {
      throw new Error(
        'ZaikioTokenBroker: grantTokenAccess needs a grantee with an identity policy (a role, user or function)',
      );
    }
    if (grantee instanceof lambda.Function) {
      grantee.addEnvironment(CONSUMER_ENV.tableName, this.table.tableName);
      grantee.addEnvironment(CONSUMER_ENV.mintFunctionName, this.mintFunction.functionName);
      grantee.addEnvironment(CONSUMER_ENV.defaultClient, this.defaultClient);
      grantee.addEnvironment(
        CONSUMER_ENV.usageRecordIntervalMs,
        String(this.sizing.settings.usageRecordIntervalMs),
      );
    }
    return read.combine(invoke);
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

  #function(
    name: keyof typeof FUNCTIONS,
    role: iam.Role,
    props: Pick<
      nodejs.NodejsFunctionProps,
      'description' | 'memorySize' | 'timeout' | 'environment' | 'retryAttempts' | 'maxEventAge'
    >,
  ): nodejs.NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${name}Logs`, {
      retention: this.#logRetention,
      removalPolicy: this.#removalPolicy,
    });
    logGroup.grantWrite(role);
    return new nodejs.NodejsFunction(this, name, {
      ...props,
      entry: path.join(ROOT, 'functions', FUNCTIONS[name]),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      projectRoot: ROOT,
      depsLockFilePath: path.join(ROOT, 'package-lock.json'),
      bundling: {
        // esbuild from node_modules on this machine; never a Docker build.
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        // CommonJS dependencies (undici) call require() for Node built-ins.
        banner:
          "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        // Bundle the AWS SDK too: the functions run the versions the tests ran.
        bundleAwsSDK: true,
        externalModules: [],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
      },
    });
  }

  #sweepSchedule(interval: Duration): scheduler.Schedule {
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
    this.scheduleDeadLetterQueue.grant(role, 'sqs:SendMessage');
    const sweeper = this.sweepFunction;
    const deadLetterQueue = this.scheduleDeadLetterQueue;
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
