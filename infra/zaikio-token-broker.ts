/**
 * The token broker as one construct, composed of its parts: the app credentials (client-secrets.ts),
 * the tokens table (tokens-table.ts), the mint function, the scheduled refresh (refresh-pipeline.ts)
 * and the alarms and dashboard (observability.ts). It owns the functions' roles, which the table's
 * resource policy names, and the grant consumers get (token-access.ts). docs/deploy.md explains every
 * choice made here (keys, sizing, costs).
 */
import { Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ENV } from '../functions/core/env.js';
import { HUB_ENVIRONMENTS, resolveHubBaseUrl } from '../functions/core/hub/environments.js';
import { METRICS_NAMESPACE } from '../functions/core/metrics.js';
import { createBrokerFunction, type FunctionDefaults, resolveFunctionOptions } from './broker-function.js';
import type { ZaikioTokenBrokerProps } from './broker-props.js';
import { type ClientSecret, ClientSecrets } from './client-secrets.js';
import { type BrokerConsumer, consumerNameFor, MintConsumers } from './mint-consumers.js';
import { BrokerObservability } from './observability.js';
import { RefreshPipeline } from './refresh-pipeline.js';
import { computeSizing, type Sizing } from './sizing.js';
import {
  type GrantOptions,
  ImportedZaikioTokenBroker,
  type IZaikioTokenBroker,
  type ResolvedConsumer,
  type TokenAccessOptions,
  TokenBrokerBase,
  type ZaikioTokenBrokerAttributes,
} from './token-access.js';
import { TokensTable } from './tokens-table.js';

export type { HubBaseUrl, HubRateLimit, ZaikioTokenBrokerProps } from './broker-props.js';

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
  readonly #consumers: MintConsumers;

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

    const table = new TokensTable(this, 'Tokens', {
      writers,
      brokerRoles: [roles.mint, roles.refresh, roles.sweep],
      removalPolicy,
      encryptionKey: props.tableEncryptionKey,
    });
    this.table = table;
    secrets.restrictReadsTo(writers);

    const environment: Record<string, string> = {
      [ENV.tableName]: table.tableName,
      [ENV.hub]: hub,
      [ENV.clients]: Stack.of(this).toJsonString(
        Object.fromEntries(this.clientSecrets.map(({ client, secretId }) => [client, secretId])),
      ),
      [ENV.defaultClient]: defaultClient,
      [ENV.settings]: JSON.stringify(this.sizing.settings),
      POWERTOOLS_SERVICE_NAME: this.serviceName,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    };
    const defaults: FunctionDefaults = {
      removalPolicy,
      tracing: props.tracing ?? lambda.Tracing.DISABLED,
      logLevel: props.logLevel ?? lambda.ApplicationLogLevel.INFO,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    };
    // Ceilings from the sizing unless the user sets them: the mint's bounds what any consumer can
    // make the broker do at once; one sweeper at a time is all a schedule ever needs.
    const options = {
      mint: resolveFunctionOptions(
        'mint',
        { reservedConcurrentExecutions: this.sizing.mintConcurrency, ...props.functions?.mint },
        defaults,
      ),
      sweep: resolveFunctionOptions(
        'sweep',
        { reservedConcurrentExecutions: 1, ...props.functions?.sweep },
        defaults,
      ),
      refresh: resolveFunctionOptions('refresh', props.functions?.refresh ?? {}, defaults),
    };

    const mintFunction = createBrokerFunction(this, 'Mint', {
      ...options.mint,
      code: 'mint',
      role: roles.mint,
      description: 'Zaikio token broker: get-or-mint a token (invoked by consumers through their aliases)',
      timeout: Duration.seconds(this.sizing.mintTimeoutSeconds),
      environment,
      // The consumers' aliases move to each new version; the one they left is no longer needed.
      currentVersionOptions: { removalPolicy: RemovalPolicy.DESTROY },
    });
    this.mintFunction = mintFunction;
    this.#consumers = new MintConsumers(this, 'Consumers', {
      mintFunction,
      clients: this.clientSecrets.map(({ client }) => client),
      defaultClient,
    });

    // CDK leaves the id `Default` out of logical IDs and of the unique ids derived from construct
    // paths (the event source mapping's), so the pipeline's queues, functions and schedule keep the
    // logical IDs of a deployed broker, which would otherwise replace them (and lose queued messages).
    // It also makes the pipeline this construct's `node.defaultChild`.
    const pipeline = new RefreshPipeline(this, 'Default', {
      table,
      sizing: this.sizing,
      sweepInterval,
      refreshBatchSize: props.refreshBatchSize ?? 1,
      environment,
      sweep: { ...options.sweep, role: roles.sweep },
      refresh: { ...options.refresh, role: roles.refresh },
    });
    this.sweepFunction = pipeline.sweepFunction;
    this.refreshFunction = pipeline.refreshFunction;
    this.refreshQueue = pipeline.refreshQueue;
    this.refreshDeadLetterQueue = pipeline.refreshDeadLetterQueue;
    this.scheduleDeadLetterQueue = pipeline.scheduleDeadLetterQueue;
    this.schedule = pipeline.schedule;

    // Least privilege, written out action by action (no wildcard, no index wildcard).
    for (const role of writers) {
      table.grantTokenWrites(role);
      secrets.grantValueRead(role);
    }

    if (defaults.tracing !== lambda.Tracing.DISABLED) {
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

    this.observability = new BrokerObservability(this, 'Observability', {
      serviceName: this.serviceName,
      sweepInterval,
      settings: this.sizing.settings,
      table,
      functions: { mint: this.mintFunction, sweep: this.sweepFunction, refresh: this.refreshFunction },
      queues: {
        refresh: this.refreshQueue,
        refreshDeadLetter: this.refreshDeadLetterQueue,
        scheduleDeadLetter: this.scheduleDeadLetterQueue,
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
      ...(this.table.encryptionKey === undefined
        ? {}
        : { tableEncryptionKeyArn: this.table.encryptionKey.keyArn }),
    };
  }

  /**
   * Declares a consumer: an alias of the mint function named `name`, and what the mint lets a caller
   * of that alias have. `grantTokenAccess` declares one per grant; declare one here for a function of
   * another CDK app, which grants with `{ consumer: name, …bearers }` on the imported broker.
   */
  addConsumer(name: string, policy: GrantOptions): BrokerConsumer {
    return this.#consumers.add(name, policy);
  }

  protected resolveConsumer(grantee: iam.IGrantable, options: TokenAccessOptions): ResolvedConsumer {
    const { consumer: named, ...policy } = options;
    const declared = named === undefined ? undefined : this.#consumers.get(named);
    if (declared !== undefined) {
      // Its declared policy is the whole grant, reads included: a second policy could only disagree.
      if (Object.values(policy).some((value) => value !== undefined)) {
        throw new Error(
          `ZaikioTokenBroker: grantTokenAccess: consumer "${named}" is already declared with its policy; ` +
            'give only its name',
        );
      }
      return { name: declared.name, aliasArn: declared.aliasArn, bearers: declared.policy.bearers };
    }
    const name = named ?? consumerNameFor(grantee);
    if (name === undefined) {
      throw new Error('ZaikioTokenBroker: grantTokenAccess: name the consumer (consumer) of this grantee');
    }
    const added = this.#consumers.add(name, policy);
    return { name, aliasArn: added.aliasArn, bearers: added.policy.bearers };
  }

  protected aliasArnOf(consumer: string): string {
    const declared = this.#consumers.get(consumer);
    if (declared === undefined) {
      throw new Error(`ZaikioTokenBroker: no consumer "${consumer}"; declare it with addConsumer or a grant`);
    }
    return declared.aliasArn;
  }

  #role(id: string, description: string): iam.Role {
    // No AWSLambdaBasicExecutionRole: each role may write only to its own function's log group.
    return new iam.Role(this, id, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description,
    });
  }
}
