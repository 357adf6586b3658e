/**
 * The stack `cdk synth` produces with no context (the sandbox default), with the prebuilt function
 * bundles of the package. One synthesis, many assertions.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AssetStaging } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/core/config.js';
import { METRIC, METRICS_NAMESPACE } from '../../functions/core/metrics.js';
import { DEFAULT_SETTINGS } from '../../functions/core/settings.js';
import { TABLE } from '../../functions/core/store/schema.js';
import { ZaikioTokenBrokerStack } from '../../infra/broker-stack.js';
import { readContext } from '../../infra/context.js';
import { prebuiltAssetPath } from '../../infra/prebuilt.js';
import { actionsOf, allIdentityStatements, newApp } from './support.js';

let stack: ZaikioTokenBrokerStack;
let template: Template;
let id: (construct: { node: { defaultChild?: unknown } }) => string;

beforeAll(() => {
  const app = newApp();
  stack = new ZaikioTokenBrokerStack(app, 'Broker', { config: readContext(() => undefined) });
  template = Template.fromStack(stack);
  id = (construct) => stack.getLogicalId(construct.node.defaultChild as never);
});

const functionIds = () => {
  const { mintFunction, sweepFunction, refreshFunction } = stack.broker;
  return { mint: id(mintFunction), sweep: id(sweepFunction), refresh: id(refreshFunction) };
};

describe('functions', () => {
  it('are three Node.js 24 functions on arm64, each with its own role and log group', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions).sort()).toEqual(Object.values(functionIds()).sort());
    const roles = new Set<string>();
    const logGroups = new Set<string>();
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Handler).toBe('index.handler');
      expect(fn.Properties.LoggingConfig.LogFormat).toBe('JSON');
      roles.add(JSON.stringify(fn.Properties.Role));
      logGroups.add(JSON.stringify(fn.Properties.LoggingConfig.LogGroup));
    }
    expect(roles.size).toBe(3);
    const memory = (logicalId: string) => functions[logicalId]?.Properties.MemorySize;
    const { mint, sweep, refresh } = functionIds();
    expect([memory(mint), memory(sweep), memory(refresh)]).toEqual([512, 256, 256]);
    expect(logGroups.size).toBe(3);
    template.resourceCountIs('AWS::Logs::LogGroup', 3);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('deploy the prebuilt ESM bundles the package ships, each with its source map', () => {
    const { mintFunction, sweepFunction, refreshFunction } = stack.broker;
    for (const [name, fn] of [
      ['mint', mintFunction],
      ['sweep', sweepFunction],
      ['refresh', refreshFunction],
    ] as const) {
      const staging = fn.node.findAll().find((child) => child instanceof AssetStaging) as AssetStaging;
      const bundle = path.join(staging.absoluteStagedPath, 'index.mjs');
      expect(existsSync(bundle)).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      const code = readFileSync(bundle, 'utf8');
      // Byte for byte what `npm run build` put in the package, not a bundle made at synth time.
      expect(code).toBe(readFileSync(path.join(prebuiltAssetPath(name), 'index.mjs'), 'utf8'));
      expect(code).toMatch(/export\s*\{[^}]*as handler/);
      expect(code).toContain('createRequire');
    }
  });

  it('time out after a lease plus a Hub exchange (mint), before the next sweep (sweep), after a batch at the Hub deadline (refresh)', () => {
    const { mint, sweep, refresh } = functionIds();
    const timeout = (logicalId: string) =>
      template.findResources('AWS::Lambda::Function')[logicalId]?.Properties.Timeout as number;
    expect(timeout(mint) * 1000).toBeGreaterThan(
      DEFAULT_SETTINGS.leaseDurationMs + DEFAULT_SETTINGS.hubDeadlineMs,
    );
    expect(timeout(sweep)).toBeLessThan(60);
    expect(timeout(refresh) * 1000).toBeGreaterThan(
      DEFAULT_SETTINGS.keysPerMessage * DEFAULT_SETTINGS.hubDeadlineMs,
    );
  });

  it('get the configuration the functions read, and nothing secret', () => {
    const { mint, sweep, refresh } = functionIds();
    const env = (logicalId: string) =>
      template.findResources('AWS::Lambda::Function')[logicalId]?.Properties.Environment.Variables as Record<
        string,
        unknown
      >;
    for (const logicalId of [mint, sweep, refresh]) {
      const variables = env(logicalId);
      expect(variables[ENV.tableName]).toEqual({ Ref: id(stack.broker.table) });
      expect(variables[ENV.hub]).toBe('sandbox');
      expect(variables[ENV.defaultClient]).toBe('default');
      expect(variables.POWERTOOLS_METRICS_NAMESPACE).toBe(METRICS_NAMESPACE);
      expect(variables.POWERTOOLS_SERVICE_NAME).toBe(stack.broker.serviceName);
      const settings = JSON.parse(variables[ENV.settings] as string);
      expect(settings).toEqual(stack.broker.sizing.settings);
      expect(settings.refreshConcurrency).toBe(2);
      expect(settings.scheduleIntervalMs).toBe(60_000);
      // The secret's id (a Ref to it), never its value.
      expect(JSON.stringify(variables[ENV.clients])).toContain(
        id(stack.broker.clientSecrets[0]?.secret as never),
      );
    }
    expect(env(sweep)[ENV.refreshQueueUrl]).toEqual({ Ref: id(stack.broker.refreshQueue) });
    expect(env(mint)[ENV.refreshQueueUrl]).toBeUndefined();
    expect(env(refresh)[ENV.refreshQueueUrl]).toBeUndefined();
  });
});

describe('table', () => {
  it('is on-demand, with point-in-time recovery, TTL, AWS managed encryption and the sparse due index', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      // SSE on with no key id: the AWS managed key aws/dynamodb.
      SSESpecification: { SSEEnabled: true, KMSMasterKeyId: Match.absent() },
      GlobalSecondaryIndexes: [
        {
          IndexName: TABLE.dueIndex.name,
          KeySchema: [
            { AttributeName: TABLE.dueIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE.dueIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: TABLE.dueIndex.partitionKey, AttributeType: 'N' },
        { AttributeName: TABLE.dueIndex.sortKey, AttributeType: 'N' },
      ]),
      TableName: Match.absent(),
    });
  });

  it('is retained and protected from deletion by default', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
  });

  it('denies everyone but the broker reading the refresh token or unnamed attributes', () => {
    const [table] = Object.values(template.findResources('AWS::DynamoDB::Table'));
    const statements = table?.Properties.ResourcePolicy.PolicyDocument.Statement ?? [];
    const roleArn = (fn: { role?: { node: { defaultChild?: unknown } } }) => ({
      'Fn::GetAtt': [stack.getLogicalId(fn.role?.node.defaultChild as never), 'Arn'],
    });
    const brokerRoles = [
      stack.broker.mintFunction,
      stack.broker.refreshFunction,
      stack.broker.sweepFunction,
    ].map(roleArn);
    const reads = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan'];
    const refreshToken = statements.find(
      (s: { Sid?: string }) => s.Sid === 'OnlyTheBrokerReadsRefreshTokens',
    );
    expect(refreshToken).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' } });
    expect(refreshToken.Action).toEqual(expect.arrayContaining(reads));
    expect(refreshToken.Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': brokerRoles },
      'ForAnyValue:StringEquals': { 'dynamodb:Attributes': ['refreshToken'] },
    });
    const named = statements.find((s: { Sid?: string }) => s.Sid === 'OthersReadOnlyNamedAttributes');
    expect(named).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' } });
    expect(named.Action).toEqual(expect.arrayContaining(reads));
    expect(named.Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': brokerRoles },
      StringNotEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
    });
  });

  it('denies writes to every principal but the mint and refresh roles in its resource policy', () => {
    const [table] = Object.values(template.findResources('AWS::DynamoDB::Table'));
    expect(table).toBeDefined();
    const [statement] = table?.Properties.ResourcePolicy.PolicyDocument.Statement ?? [];
    expect(statement.Effect).toBe('Deny');
    expect(statement.Principal).toEqual({ AWS: '*' });
    expect(statement.Action).toEqual(
      expect.arrayContaining([
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:BatchWriteItem',
      ]),
    );
    expect(statement.Condition.ArnNotEquals['aws:PrincipalArn']).toEqual([
      {
        'Fn::GetAtt': [stack.getLogicalId(stack.broker.mintFunction.role?.node.defaultChild as never), 'Arn'],
      },
      {
        'Fn::GetAtt': [
          stack.getLogicalId(stack.broker.refreshFunction.role?.node.defaultChild as never),
          'Arn',
        ],
      },
    ]);
  });
});

describe('queues and schedule', () => {
  it('encrypts every queue and refuses requests without TLS', () => {
    const queues = template.findResources('AWS::SQS::Queue');
    expect(Object.keys(queues)).toHaveLength(3);
    for (const queue of Object.values(queues)) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy'));
    const protectedQueues = policies.flatMap((policy) =>
      policy.Properties.PolicyDocument.Statement.some(
        (statement: { Effect: string; Condition?: { Bool?: Record<string, string> } }) =>
          statement.Effect === 'Deny' && statement.Condition?.Bool?.['aws:SecureTransport'] === 'false',
      )
        ? policy.Properties.Queues.map((queue: { Ref: string }) => queue.Ref)
        : [],
    );
    expect(protectedQueues.sort()).toEqual(Object.keys(queues).sort());
  });

  it('feeds the worker from a queue with a dead-letter queue, a long enough visibility timeout and partial batch failures', () => {
    const { refreshTimeoutSeconds } = stack.broker.sizing;
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 6 * refreshTimeoutSeconds,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [id(stack.broker.refreshDeadLetterQueue), 'Arn'] },
        maxReceiveCount: 3,
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [id(stack.broker.refreshQueue), 'Arn'] },
      FunctionName: { Ref: functionIds().refresh },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('starts the sweeper every minute through EventBridge Scheduler, with retries and a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [functionIds().sweep, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [id(stack.broker.scheduleDeadLetterQueue), 'Arn'] } },
      },
    });
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
    // A failed sweep is not retried by Lambda either: the next one covers the same tokens.
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionIds().sweep },
      MaximumRetryAttempts: 0,
    });
  });
});

describe('least privilege', () => {
  it('uses no wildcard in any action or resource, and no managed policy', () => {
    const statements = allIdentityStatements(template);
    expect(statements.length).toBeGreaterThan(0);
    for (const { statement } of statements) {
      for (const action of actionsOf(statement)) expect(action).not.toContain('*');
      expect(JSON.stringify(statement.Resource)).not.toContain('*');
      expect(statement.NotAction).toBeUndefined();
    }
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('lets only the mint and refresh roles write the table or read the secrets', () => {
    const writers = new Set<string>();
    const readers = new Set<string>();
    for (const { roles, statement } of allIdentityStatements(template)) {
      const actions = actionsOf(statement);
      if (actions.some((action) => /^dynamodb:(Put|Update|Delete|BatchWrite|PartiQL)/.test(action))) {
        for (const role of roles) writers.add(role);
      }
      if (actions.some((action) => action.startsWith('secretsmanager:')))
        for (const role of roles) readers.add(role);
    }
    const expected = [stack.broker.mintFunction, stack.broker.refreshFunction]
      .map((fn) => stack.getLogicalId(fn.role?.node.defaultChild as never))
      .sort();
    expect([...writers].sort()).toEqual(expected);
    expect([...readers].sort()).toEqual(expected);
  });

  it('gives the sweeper a Query on the due index, SendMessage and the queue depth, nothing more', () => {
    const sweepRole = stack.getLogicalId(stack.broker.sweepFunction.role?.node.defaultChild as never);
    const actions = allIdentityStatements(template)
      .filter(({ roles }) => roles.includes(sweepRole))
      .flatMap(({ statement }) => actionsOf(statement))
      .sort();
    expect(actions).toEqual([
      'dynamodb:Query',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:GetQueueAttributes',
      'sqs:SendMessage',
    ]);
  });

  it('denies reading the created secret to every principal but the mint and refresh roles', () => {
    template.hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      ResourcePolicy: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'secretsmanager:GetSecretValue',
            Condition: {
              ArnNotEquals: {
                'aws:PrincipalArn': [
                  {
                    'Fn::GetAtt': [
                      stack.getLogicalId(stack.broker.mintFunction.role?.node.defaultChild as never),
                      'Arn',
                    ],
                  },
                  {
                    'Fn::GetAtt': [
                      stack.getLogicalId(stack.broker.refreshFunction.role?.node.defaultChild as never),
                      'Arn',
                    ],
                  },
                ],
              },
            },
          }),
        ],
      },
    });
  });
});

describe('alarms and dashboard', () => {
  const customAlarm = (metricName: string) =>
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: metricName,
      Dimensions: [{ Name: 'service', Value: stack.broker.serviceName }],
    });

  it('watch refresh failures, revocations and overdue tokens in the broker’s own metrics', () => {
    customAlarm(METRIC.refreshFailures);
    customAlarm(METRIC.revoked);
    customAlarm(METRIC.oldestOverdueSeconds);
    // Two-minute window, 60 s minimum validity: a token 60 s overdue still has 60 s left. One
    // datapoint alarms, and the alarm holds for the longest backoff (15 one-minute sweeps).
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: METRIC.oldestOverdueSeconds,
      Statistic: 'Maximum',
      Threshold: 60,
      DatapointsToAlarm: 1,
      EvaluationPeriods: 15,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('alarm on the broker’s and the Hub’s mint failures only, not on the caller’s refusals', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'FILL(errors, 0) - FILL(refusals, 0)', ReturnData: true }),
        Match.objectLike({
          Id: 'refusals',
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ MetricName: METRIC.mintRefusals, Namespace: METRICS_NAMESPACE }),
          }),
        }),
      ]),
      Threshold: 5,
    });
    // No alarm counts the mint function's Lambda errors as such: refusals would set it off.
    const lambdaErrorAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
      (alarm) =>
        alarm.Properties.MetricName === 'Errors' &&
        JSON.stringify(alarm.Properties.Dimensions).includes(functionIds().mint),
    );
    expect(lambdaErrorAlarms).toEqual([]);
  });

  it('alarm on mint duration p99 and on DynamoDB throttles and system errors', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      ExtendedStatistic: 'p99',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionIds().mint } }],
      Threshold: 15_000,
    });
    for (const metricName of ['ThrottledRequests', 'SystemErrors']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Metrics: Match.arrayWith([
          Match.objectLike({
            MetricStat: Match.objectLike({
              Metric: Match.objectLike({
                Namespace: 'AWS/DynamoDB',
                MetricName: metricName,
                Dimensions: Match.arrayWith([{ Name: 'Operation', Value: 'UpdateItem' }]),
              }),
            }),
          }),
        ]),
        Threshold: 1,
      });
    }
  });

  it('watch both dead-letter queues for any message', () => {
    for (const queue of [stack.broker.refreshDeadLetterQueue, stack.broker.scheduleDeadLetterQueue]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(queue), 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });

  it('watch errors and throttles of every function, and a silent sweeper', () => {
    for (const [name, logicalId] of Object.entries(functionIds())) {
      for (const metricName of name === 'mint' ? ['Throttles'] : ['Errors', 'Throttles']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: metricName,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId } }],
        });
      }
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Invocations',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionIds().sweep } }],
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', stack.broker.observability.alarms.length);
    expect(stack.broker.observability.alarms).toHaveLength(16);
  });

  it('show mints, refreshes, failures and token age on one dashboard', () => {
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0];
    expect(dashboard?.Properties.DashboardName).toBeUndefined();
    const body = JSON.stringify(stack.resolve(dashboard?.Properties.DashboardBody));
    for (const metricName of [
      METRIC.tokensServed,
      METRIC.tokensMinted,
      METRIC.refreshed,
      METRIC.refreshFailures,
      METRIC.mintFailures,
      METRIC.revoked,
      METRIC.oldestOverdueSeconds,
      METRIC.due,
    ]) {
      expect(body).toContain(`\\"${metricName}\\"`);
    }
  });
});

describe('outputs and names', () => {
  it('outputs the table, the mint function and the secret ARNs', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'BrokerAttributes',
        'ClientSecretArns',
        'DashboardName',
        'MintFunctionArn',
        'MintFunctionName',
        'TableName',
      ].sort(),
    );
    // What another app passes to ZaikioTokenBroker.fromBrokerAttributes, as JSON.
    const attributes = JSON.stringify(outputs.BrokerAttributes?.Value);
    for (const part of [
      `"tableArn\\":\\"`,
      id(stack.broker.table),
      `"mintFunctionArn\\":\\"`,
      functionIds().mint,
      `"defaultClient\\":\\"default\\"`,
    ]) {
      expect(attributes).toContain(part);
    }
    expect(outputs.TableName?.Value).toEqual({ Ref: id(stack.broker.table) });
    expect(outputs.MintFunctionArn?.Value).toEqual({ 'Fn::GetAtt': [functionIds().mint, 'Arn'] });
  });

  it('hard-codes no physical name', () => {
    const nameProperties = [
      'TableName',
      'FunctionName',
      'QueueName',
      'RoleName',
      'LogGroupName',
      'Name',
      'AlarmName',
    ];
    for (const [logicalId, resource] of Object.entries(
      template.toJSON().Resources as Record<string, never>,
    )) {
      const { Type: type, Properties: properties = {} } = resource as { Type: string; Properties?: object };
      if (type === 'AWS::Lambda::EventSourceMapping' || type === 'AWS::Lambda::EventInvokeConfig') continue;
      for (const name of nameProperties) expect(properties, `${logicalId}.${name}`).not.toHaveProperty(name);
    }
  });
});
