/**
 * RefreshPipeline on its own, in a plain stack: the schedule and its role and dead-letter queue, the
 * sweeper, the refresh queue and its dead-letter queue, the worker and its event source, and the
 * permissions they need of each other and of the table.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/core/env.js';
import { TABLE } from '../../functions/core/store/schema.js';
import { type FunctionDefaults, resolveFunctionOptions } from '../../infra/broker-function.js';
import { RefreshPipeline } from '../../infra/refresh-pipeline.js';
import { computeSizing, type Sizing } from '../../infra/sizing.js';
import { TokensTable } from '../../infra/tokens-table.js';
import { actionsOf, evaluate, newApp, statementsOfRole } from './support.js';

const DEFAULTS: FunctionDefaults = {
  removalPolicy: RemovalPolicy.DESTROY,
  tracing: lambda.Tracing.DISABLED,
  logLevel: lambda.ApplicationLogLevel.INFO,
  logRetention: logs.RetentionDays.ONE_WEEK,
};

interface Options {
  readonly sweepMinutes?: number;
  readonly refreshBatchSize?: number;
  readonly refreshReserved?: number;
}

interface Synthesized {
  readonly stack: Stack;
  readonly pipeline: RefreshPipeline;
  readonly table: TokensTable;
  readonly sizing: Sizing;
  readonly template: Template;
}

function synth(options: Options = {}): Synthesized {
  const stack = new Stack(newApp({ bundle: false }), 'Pipeline');
  const role = (id: string) =>
    new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const sweepRole = role('SweepRole');
  const refreshRole = role('RefreshRole');
  const table = new TokensTable(stack, 'Tokens', {
    writers: [refreshRole],
    brokerRoles: [refreshRole, sweepRole],
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const sweepInterval = Duration.minutes(options.sweepMinutes ?? 1);
  const refreshBatchSize = options.refreshBatchSize ?? 1;
  const sizing = computeSizing({
    sweepIntervalMs: sweepInterval.toMilliseconds(),
    refreshAheadMs: Math.max(2 * sweepInterval.toMilliseconds(), 120_000),
    hubRateLimit: { requests: 300, perMs: 60_000 },
    refreshShareOfRateLimit: 0.8,
    refreshBatchSize,
  });
  const pipeline = new RefreshPipeline(stack, 'Pipeline', {
    table,
    sizing,
    sweepInterval,
    refreshBatchSize,
    environment: { [ENV.tableName]: table.tableName, [ENV.hub]: 'sandbox' },
    sweep: { ...resolveFunctionOptions('sweep', {}, DEFAULTS), role: sweepRole },
    refresh: {
      ...resolveFunctionOptions(
        'refresh',
        { reservedConcurrentExecutions: options.refreshReserved },
        DEFAULTS,
      ),
      role: refreshRole,
    },
  });
  return { stack, pipeline, table, sizing, template: Template.fromStack(stack) };
}

const logicalId = (stack: Stack, construct: IConstruct): string =>
  stack.getLogicalId(construct.node.defaultChild as never);

describe('RefreshPipeline', () => {
  let synthesized: Synthesized;
  let stack: Stack;
  let pipeline: RefreshPipeline;
  let template: Template;
  let id: (construct: IConstruct) => string;

  beforeAll(() => {
    synthesized = synth();
    ({ stack, pipeline, template } = synthesized);
    id = (construct) => logicalId(stack, construct);
  });

  it('starts the sweeper every interval through EventBridge Scheduler, with retries and a dead-letter queue', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [id(pipeline.sweepFunction), 'Arn'] },
        RoleArn: { 'Fn::GetAtt': [id(pipeline.scheduleRole), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [id(pipeline.scheduleDeadLetterQueue), 'Arn'] } },
        // The time the run was meant for, from which the sweeper measures lateness.
        Input: JSON.stringify({ scheduledTime: '<aws.scheduler.scheduled-time>' }),
      },
    });
    Template.fromStack(synth({ sweepMinutes: 5 }).stack).hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
    });
  });

  it('lets the scheduler, in this account only, invoke the unqualified sweeper and write its dead-letter queue', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ],
      },
    });
    const statements = statementsOfRole(template, id(pipeline.scheduleRole));
    expect(statements).toEqual([
      {
        Sid: 'StartTheSweeper',
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        // Not `<arn>:*`: no version or alias of the function.
        Resource: { 'Fn::GetAtt': [id(pipeline.sweepFunction), 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': [id(pipeline.scheduleDeadLetterQueue), 'Arn'] },
      },
    ]);
  });

  it('has three queues, each encrypted and refusing requests without TLS', () => {
    const queues = template.findResources('AWS::SQS::Queue');
    expect(Object.keys(queues).sort()).toEqual(
      [pipeline.refreshQueue, pipeline.refreshDeadLetterQueue, pipeline.scheduleDeadLetterQueue]
        .map(id)
        .sort(),
    );
    for (const queue of Object.values(queues)) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    for (const queue of Object.keys(queues)) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('keeps dead letters two weeks and moves a refresh request there after three receives', () => {
    for (const queue of [pipeline.refreshDeadLetterQueue, pipeline.scheduleDeadLetterQueue]) {
      expect(template.findResources('AWS::SQS::Queue')[id(queue)]?.Properties).toMatchObject({
        MessageRetentionPeriod: 14 * 24 * 3600,
      });
    }
    expect(template.findResources('AWS::SQS::Queue')[id(pipeline.refreshQueue)]?.Properties).toMatchObject({
      VisibilityTimeout: synthesized.sizing.refreshVisibilityTimeoutSeconds,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [id(pipeline.refreshDeadLetterQueue), 'Arn'] },
        maxReceiveCount: 3,
      },
    });
  });

  it('gives the sweeper the refresh queue’s URL, a timeout within the interval and no retries', () => {
    const fn = template.findResources('AWS::Lambda::Function')[id(pipeline.sweepFunction)];
    expect(fn?.Properties).toMatchObject({
      Timeout: synthesized.sizing.sweepTimeoutSeconds,
      Environment: {
        Variables: {
          [ENV.tableName]: { Ref: id(synthesized.table) },
          [ENV.hub]: 'sandbox',
          [ENV.refreshQueueUrl]: { Ref: id(pipeline.refreshQueue) },
        },
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: id(pipeline.sweepFunction) },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });

  it('feeds the worker from the refresh queue with the batch size, the concurrency of the sizing and partial batch failures', () => {
    const variables =
      template.findResources('AWS::Lambda::Function')[id(pipeline.refreshFunction)]?.Properties.Environment
        .Variables;
    expect(variables[ENV.refreshQueueUrl]).toBeUndefined();
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [id(pipeline.refreshQueue), 'Arn'] },
      FunctionName: { Ref: id(pipeline.refreshFunction) },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: synthesized.sizing.settings.refreshConcurrency },
    });
    const batched = synth({ refreshBatchSize: 3 });
    Template.fromStack(batched.stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 3,
    });
  });

  it('lets the sweeper query the due index and send to the refresh queue, and nothing else', () => {
    const sweepRole = id(pipeline.sweepFunction.role as iam.IRole);
    const statements = statementsOfRole(template, sweepRole);
    expect(statements.flatMap(actionsOf).sort()).toEqual([
      'dynamodb:Query',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:GetQueueAttributes',
      'sqs:SendMessage',
    ]);
    const tableArn = { 'Fn::GetAtt': [id(synthesized.table), 'Arn'] };
    const dueIndex = {
      'Fn::Join': ['', [tableArn, `/index/${TABLE.dueIndex.name}`]],
    };
    const request = (action: string, resource: unknown) => ({ action, resource, context: {} });
    expect(evaluate(statements, request('dynamodb:Query', dueIndex))).toBe('allow');
    expect(evaluate(statements, request('dynamodb:Query', tableArn))).toBe('deny');
    expect(evaluate(statements, request('dynamodb:GetItem', tableArn))).toBe('deny');
    const queueArn = { 'Fn::GetAtt': [id(pipeline.refreshQueue), 'Arn'] };
    expect(evaluate(statements, request('sqs:SendMessage', queueArn))).toBe('allow');
    expect(evaluate(statements, request('sqs:ReceiveMessage', queueArn))).toBe('deny');
  });

  it('lets the worker consume the refresh queue; the table and the secrets are the broker’s to grant', () => {
    const statements = statementsOfRole(template, id(pipeline.refreshFunction.role as iam.IRole));
    const queueArn = { 'Fn::GetAtt': [id(pipeline.refreshQueue), 'Arn'] };
    const request = (action: string, resource: unknown) => ({ action, resource, context: {} });
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']) {
      expect(evaluate(statements, request(action, queueArn)), action).toBe('allow');
    }
    expect(evaluate(statements, request('sqs:SendMessage', queueArn))).toBe('deny');
    const actions = statements.flatMap(actionsOf);
    expect(actions.filter((action) => /^(dynamodb|secretsmanager|kms):/.test(action))).toEqual([]);
  });

  it('refuses a worker reservation below the queue’s maximum concurrency, which would throttle its pollers', () => {
    expect(() => synth({ refreshReserved: 1 })).toThrow(
      /functions\.refresh\.reservedConcurrentExecutions 1 is below the refresh queue's maximum concurrency \(2/,
    );
    expect(() => synth({ refreshReserved: 2 })).not.toThrow();
  });
});
