/**
 * The scheduled refresh: EventBridge Scheduler starts the sweeper every interval, the sweeper queues
 * the keys of the tokens due for refresh, and the refresh worker takes them off the queue at the pace
 * the Hub rate limit allows (docs/refresh.md, docs/deploy.md "Sizing").
 */
import { Duration, Names, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../functions/core/env.js';
import { createBrokerFunction, type ResolvedFunctionOptions } from './broker-function.js';
import type { Sizing } from './sizing.js';
import type { TokensTable } from './tokens-table.js';

/** One of the pipeline's functions: the role it runs as and its resolved options. */
export interface RefreshPipelineFunction extends ResolvedFunctionOptions {
  readonly role: iam.IRole;
}

export interface RefreshPipelineProps {
  /** The tokens table, whose due index the sweeper queries. */
  readonly table: TokensTable;
  /** The broker's resolved settings, timeouts and concurrency. */
  readonly sizing: Sizing;
  /** How often the sweeper runs (the sizing was computed for it). */
  readonly sweepInterval: Duration;
  /** SQS messages per worker invocation (the sizing was computed for it). */
  readonly refreshBatchSize: number;
  /** What every broker function reads; the sweeper also gets the refresh queue's URL. */
  readonly environment: Readonly<Record<string, string>>;
  readonly sweep: RefreshPipelineFunction;
  readonly refresh: RefreshPipelineFunction;
}

/**
 * The sweep schedule and its dead-letter queue, the sweeper, the refresh queue and its dead-letter
 * queue, and the refresh worker, with the permissions they need of each other and of the table. The
 * functions' roles come from the broker, because the table's resource policy names them.
 */
export class RefreshPipeline extends Construct {
  readonly sweepFunction: lambda.Function;
  readonly refreshFunction: lambda.Function;
  readonly refreshQueue: sqs.Queue;
  readonly refreshDeadLetterQueue: sqs.Queue;
  readonly scheduleDeadLetterQueue: sqs.Queue;
  readonly schedule: scheduler.Schedule;
  /** The role EventBridge Scheduler assumes to start the sweeper. */
  readonly scheduleRole: iam.Role;

  constructor(scope: Construct, id: string, props: RefreshPipelineProps) {
    super(scope, id);
    const { sizing, environment } = props;
    const { refreshConcurrency } = sizing.settings;
    const refreshReserved = props.refresh.reservedConcurrentExecutions;
    if (refreshReserved !== undefined && refreshReserved < refreshConcurrency) {
      // Lambda would throttle the queue's pollers and move messages to the dead-letter queue.
      throw new Error(
        `ZaikioTokenBroker: functions.refresh.reservedConcurrentExecutions ${refreshReserved} is below the ` +
          `refresh queue's maximum concurrency (${refreshConcurrency}, from hubRateLimit)`,
      );
    }

    this.refreshDeadLetterQueue = this.#queue('RefreshDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
    });
    this.refreshQueue = this.#queue('RefreshQueue', {
      visibilityTimeout: Duration.seconds(sizing.refreshVisibilityTimeoutSeconds),
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

    const { role: sweepRole, ...sweepOptions } = props.sweep;
    this.sweepFunction = createBrokerFunction(this, 'Sweep', {
      ...sweepOptions,
      code: 'sweep',
      role: sweepRole,
      description: 'Zaikio token broker: queue the tokens due for refresh',
      timeout: Duration.seconds(sizing.sweepTimeoutSeconds),
      environment: { ...environment, [ENV.refreshQueueUrl]: this.refreshQueue.queueUrl },
      // A failed sweep is not retried: the next one, one interval later, covers the same tokens.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
    });
    const { role: refreshRole, ...refreshOptions } = props.refresh;
    this.refreshFunction = createBrokerFunction(this, 'Refresh', {
      ...refreshOptions,
      code: 'refresh',
      role: refreshRole,
      description: 'Zaikio token broker: refresh the queued tokens at the Hub',
      timeout: Duration.seconds(sizing.refreshTimeoutSeconds),
      environment,
    });
    // What SqsEventSource builds, under the id it gives (so the deployed mapping keeps its logical ID),
    // without its grantConsumeMessages: that adds sqs:GetQueueUrl, which the poller never calls.
    this.refreshFunction.addEventSourceMapping(
      `SqsEventSource:${Names.nodeUniqueId(this.refreshQueue.node)}`,
      {
        eventSourceArn: this.refreshQueue.queueArn,
        batchSize: props.refreshBatchSize,
        // With the worker's pacer, this keeps the fleet under the Hub rate limit (docs/deploy.md).
        maxConcurrency: refreshConcurrency,
        reportBatchItemFailures: true,
      },
    );
    this.refreshQueue.grant(
      refreshRole,
      'sqs:ReceiveMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:GetQueueAttributes',
      'sqs:DeleteMessage',
    );

    props.table.grantDueIndexQuery(sweepRole);
    // GetQueueAttributes: the sweeper hands out no more than the workers can do before the next sweep.
    this.refreshQueue.grant(sweepRole, 'sqs:SendMessage', 'sqs:GetQueueAttributes');

    // Scheduler assumes the role with aws:SourceArn set to the schedule's group (its user guide), not
    // the schedule: the sweep schedule is in the account's default group.
    const stack = Stack.of(this);
    this.scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': stack.account,
            'aws:SourceArn': stack.formatArn({
              service: 'scheduler',
              resource: 'schedule-group',
              resourceName: 'default',
            }),
          },
        },
      }),
      description: 'Zaikio token broker: EventBridge Scheduler starts the sweeper',
    });
    this.schedule = this.#sweepSchedule(props.sweepInterval);
  }

  #queue(id: string, props: sqs.QueueProps): sqs.Queue {
    return new sqs.Queue(this, id, {
      ...props,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
  }

  #sweepSchedule(interval: Duration): scheduler.Schedule {
    const { scheduleRole: role, sweepFunction: sweeper, scheduleDeadLetterQueue: deadLetterQueue } = this;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StartTheSweeper',
        actions: ['lambda:InvokeFunction'],
        resources: [sweeper.functionArn],
      }),
    );
    deadLetterQueue.grant(role, 'sqs:SendMessage');
    // The stock LambdaInvoke target would also allow invoking every version (`<arn>:*`).
    const target: scheduler.IScheduleTarget = {
      bind: () => ({
        arn: sweeper.functionArn,
        role,
        // A sweep that cannot start within a minute is replaced by the next one.
        retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 60 },
        deadLetterConfig: { arn: deadLetterQueue.queueArn },
        // The sweeper measures lateness from the time the run was meant for (TokensOverdue).
        input: scheduler.ScheduleTargetInput.fromObject({
          scheduledTime: scheduler.ContextAttribute.scheduledTime,
        }),
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
