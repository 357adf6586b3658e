/**
 * The operator CLI on a deployed broker. DynamoDB is dynalite, behind a middleware that refuses what
 * the table's resource policy denies an operator (a read naming no attributes, or the refresh token);
 * CloudFormation, CloudWatch, SQS, Secrets Manager and Lambda have no local implementation, so their
 * SDK clients are mocked with aws-sdk-client-mock. The CLI runs in process to use those clients.
 */
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeSecretCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../local/cli/deployed.js';
import { runCli } from '../../local/cli/main.js';
import { type LocalDynamoDB, startLocalDynamoDB } from '../../local/dynamodb.js';
import { secretsIn } from './cli-process.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const ORG = 'b1475f65-236c-58b8-96e1-e1778b43beb7';
const FAILING_ORG = '0d5e2c1a-7f43-4b8e-9a61-3c2b1f0e9d87';
const STACK = 'ZaikioTokenBroker';
const TABLE = 'ZaikioTokenBroker-BrokerTokens7CE0AE68-1ABC';
const MINT = 'ZaikioTokenBroker-BrokerMint9F22767E-xyz';
const SWEEP = 'ZaikioTokenBroker-BrokerSweep8A2485DA-xyz';
const ARN = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:';
const CREATED_SECRET = `${ARN}BrokerCredentialsClientdefault-AbCdEf`;
const IMPORTED_SECRET = `${ARN}partner/zaikio-QwErTy`;
const QUEUE = 'https://sqs.eu-central-1.amazonaws.com/111122223333/';
const ACCESS_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.deployed-access-token-value.sig';
const REFRESH_TOKEN = 'deployed-refresh-token-value-5c1e';
const ALARMS = ['ZaikioTokenBroker-RefreshFailures-1', 'ZaikioTokenBroker-TokensOverdue-2'];

describe('the operator CLI on a deployed broker', () => {
  let dynamo: LocalDynamoDB;
  /** Every table read the CLI made, as the resource policy would see it. */
  const reads: { command: string; names: string[] }[] = [];
  let clients: AwsClients;
  const mocks = {
    cloudformation: mockClient(CloudFormationClient),
    cloudwatch: mockClient(CloudWatchClient),
    sqs: mockClient(SQSClient),
    secretsManager: mockClient(SecretsManagerClient),
    lambda: mockClient(LambdaClient),
  };

  async function cli(...args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
      io: { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) },
      env: {},
      awsClients: () => clients,
      now: () => NOW,
    });
    return { code, stdout, stderr };
  }

  /** The table's resource policy, for a principal that is not one of the broker's roles. */
  function withTablePolicy(client: DynamoDBClient): DynamoDBClient {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as {
          ProjectionExpression?: string;
          ExpressionAttributeNames?: Record<string, string>;
        };
        if (['GetItemCommand', 'QueryCommand', 'ScanCommand'].includes(context.commandName ?? '')) {
          const names = Object.values(input.ExpressionAttributeNames ?? {});
          reads.push({ command: context.commandName ?? '', names });
          if (input.ProjectionExpression === undefined || names.includes('refreshToken')) {
            throw Object.assign(new Error('explicit deny in a resource-based policy'), {
              name: 'AccessDeniedException',
            });
          }
        }
        return next(args);
      },
      { step: 'initialize', name: 'tablePolicy' },
    );
    return client;
  }

  beforeAll(async () => {
    dynamo = await startLocalDynamoDB();
    await dynamo.createTokensTable(TABLE);
    const put = (item: Record<string, unknown>) =>
      dynamo.client().send(new PutItemCommand({ TableName: TABLE, Item: item as never }));
    await put({
      pk: { S: `Org/${ORG}` },
      sk: { S: 'default#warehouse.items.r' },
      accessToken: { S: ACCESS_TOKEN },
      refreshToken: { S: REFRESH_TOKEN },
      tokenType: { S: 'Bearer' },
      grantedScopes: { L: [{ S: 'warehouse.items.r' }] },
      issuedAt: { N: String(NOW - 60_000) },
      expiresAt: { N: String(NOW + 540_000) },
      status: { S: 'active' },
      version: { N: '3' },
      dueShard: { N: '1' },
      dueAt: { N: String(NOW + 420_000) },
    });
  });

  afterAll(async () => {
    for (const mock of Object.values(mocks)) mock.restore();
    await dynamo.stop();
  });

  /** A healthy stack; each test changes what it needs. */
  beforeEach(() => {
    reads.length = 0;
    for (const mock of Object.values(mocks)) mock.reset();
    clients = {
      dynamodb: withTablePolicy(dynamo.client()),
      lambda: new LambdaClient({ region: 'eu-central-1' }),
      cloudformation: new CloudFormationClient({ region: 'eu-central-1' }),
      cloudwatch: new CloudWatchClient({ region: 'eu-central-1' }),
      sqs: new SQSClient({ region: 'eu-central-1' }),
      secretsManager: new SecretsManagerClient({ region: 'eu-central-1' }),
    };
    mocks.cloudformation.on(DescribeStacksCommand, { StackName: STACK }).resolves({
      Stacks: [
        {
          StackName: STACK,
          CreationTime: new Date(NOW),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [
            { OutputKey: 'TableName', OutputValue: TABLE },
            { OutputKey: 'MintFunctionName', OutputValue: MINT },
            {
              OutputKey: 'BrokerAttributes',
              OutputValue: JSON.stringify({
                tableArn: `arn:aws:dynamodb:eu-central-1:111122223333:table/${TABLE}`,
                mintFunctionArn: `arn:aws:lambda:eu-central-1:111122223333:function:${MINT}`,
                defaultClient: 'default',
              }),
            },
            {
              OutputKey: 'ClientSecretArns',
              OutputValue: JSON.stringify({ default: CREATED_SECRET, partner: IMPORTED_SECRET }),
            },
            { OutputKey: 'DashboardName', OutputValue: 'ZaikioTokenBroker-Dashboard' },
          ],
        },
      ],
    });
    const resource = (LogicalResourceId: string, ResourceType: string, PhysicalResourceId: string) => ({
      LogicalResourceId,
      ResourceType,
      PhysicalResourceId,
      ResourceStatus: 'CREATE_COMPLETE' as const,
      LastUpdatedTimestamp: new Date(NOW),
    });
    // Two pages, as ListStackResources pages a stack of this size.
    mocks.cloudformation
      .on(ListStackResourcesCommand, { StackName: STACK, NextToken: undefined })
      .resolves({
        StackResourceSummaries: [
          resource('BrokerCredentialsClientdefaultD56EE0D2', 'AWS::SecretsManager::Secret', CREATED_SECRET),
          resource('BrokerRefreshPipelineRefreshQueueCBD64532', 'AWS::SQS::Queue', `${QUEUE}refresh`),
          resource(
            'BrokerRefreshPipelineRefreshDeadLetterQueueCE3068F1',
            'AWS::SQS::Queue',
            `${QUEUE}refresh-dlq`,
          ),
          resource(
            'BrokerRefreshPipelineScheduleDeadLetterQueueE2D86542',
            'AWS::SQS::Queue',
            `${QUEUE}schedule-dlq`,
          ),
        ],
        NextToken: 'page-2',
      })
      .on(ListStackResourcesCommand, { StackName: STACK, NextToken: 'page-2' })
      .resolves({
        StackResourceSummaries: [
          resource('BrokerMint9F22767E', 'AWS::Lambda::Function', MINT),
          resource('BrokerRefreshPipelineSweep8A2485DA', 'AWS::Lambda::Function', SWEEP),
          resource(
            'BrokerObservabilityRefreshFailuresD0B4781A',
            'AWS::CloudWatch::Alarm',
            ALARMS[0] as string,
          ),
          resource('BrokerObservabilityTokensOverdueD7F74A62', 'AWS::CloudWatch::Alarm', ALARMS[1] as string),
        ],
      });
    mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: ALARMS.map((AlarmName) => ({ AlarmName, StateValue: 'OK' })),
    });
    mocks.cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'sweeps',
          Timestamps: [new Date(NOW - 120_000), new Date(NOW - 60_000)],
          Values: [1, 1],
        },
      ],
    });
    mocks.sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
    });
    mocks.secretsManager.on(DescribeSecretCommand).resolves({ CreatedDate: new Date(NOW - 86_400_000) });
    // The value an operator put, a day after CloudFormation created the secret with its placeholder.
    mocks.secretsManager.on(ListSecretVersionIdsCommand).resolves({
      Versions: [
        { VersionId: 'v1', VersionStages: ['AWSPREVIOUS'], CreatedDate: new Date(NOW - 86_400_000) },
        { VersionId: 'v2', VersionStages: ['AWSCURRENT'], CreatedDate: new Date(NOW - 3_600_000) },
      ],
    });
    mocks.lambda.on(GetFunctionConfigurationCommand, { FunctionName: MINT }).resolves({
      Environment: { Variables: { BROKER_SETTINGS: JSON.stringify({ scheduleIntervalMs: 60_000 }) } },
    });
  });

  it('finds the broker from its stack: healthy, exit code 0, table read through a projection', async () => {
    const run = await cli('status', '--stack', STACK);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toContain(`broker          stack ${STACK} (table ${TABLE})`);
    expect(run.stdout).toMatch(
      /^last sweep +60s ago \(AWS\/Lambda Invocations of \S*Sweep8A2485DA\S*, 1-minute periods\)$/m,
    );
    expect(run.stdout).toMatch(/^alarms +2: 2 OK$/m);
    expect(run.stdout).toMatch(/^secret default +value put$/m);
    expect(run.stdout).toMatch(/^secret partner +imported \(not checked\)$/m);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('healthy');

    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) expect(read.names).not.toContain('refreshToken');
    expect(
      mocks.cloudwatch.commandCalls(GetMetricDataCommand)[0]?.args[0].input.MetricDataQueries?.[0],
    ).toMatchObject({
      MetricStat: {
        Metric: { MetricName: 'Invocations', Dimensions: [{ Name: 'FunctionName', Value: SWEEP }] },
      },
    });
    expect(mocks.cloudwatch.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input.AlarmNames).toEqual(ALARMS);
    // Whether a value was put is read from the versions; the value itself never is.
    expect(
      mocks.secretsManager.commandCalls(ListSecretVersionIdsCommand).map((c) => c.args[0].input.SecretId),
    ).toEqual([CREATED_SECRET]);
    expect(mocks.sqs.commandCalls(GetQueueAttributesCommand)).toHaveLength(3);
  });

  it('needs attention (exit code 1): an alarm, dead letters, a placeholder secret, no sweep, a failing token', async () => {
    mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        { AlarmName: ALARMS[0], StateValue: 'ALARM' },
        { AlarmName: ALARMS[1], StateValue: 'OK' },
      ],
    });
    mocks.cloudwatch
      .on(GetMetricDataCommand)
      .resolves({ MetricDataResults: [{ Id: 'sweeps', Timestamps: [], Values: [] }] });
    mocks.sqs.on(GetQueueAttributesCommand, { QueueUrl: `${QUEUE}refresh-dlq` }).resolves({
      Attributes: { ApproximateNumberOfMessages: '2', ApproximateNumberOfMessagesNotVisible: '0' },
    });
    mocks.secretsManager.on(ListSecretVersionIdsCommand).resolves({
      Versions: [{ VersionId: 'v1', VersionStages: ['AWSCURRENT'], CreatedDate: new Date(NOW - 86_400_000) }],
    });
    await dynamo.client().send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          pk: { S: `Org/${FAILING_ORG}` },
          sk: { S: 'default#warehouse.items.r' },
          status: { S: 'failing' },
          version: { N: '1' },
          failureCount: { N: '4' },
          lastError: {
            M: {
              code: { S: 'hub_unavailable' },
              message: { S: 'the Hub answered 503' },
              at: { N: String(NOW) },
            },
          },
          dueShard: { N: '2' },
          // Overdue by 10 minutes: more than two sweeps of 60 s.
          dueAt: { N: String(NOW - 600_000) },
        },
      }),
    );
    try {
      const run = await cli('doctor', '--stack', STACK, '--json');
      expect(run.code).toBe(1);
      const report = JSON.parse(run.stdout);
      expect(report.healthy).toBe(false);
      expect(report.attention).toEqual([
        '1 token(s) failing',
        `Org/${FAILING_ORG} default#warehouse.items.r is 10m past its refresh time`,
        '2 message(s) in the refresh dead-letter queue',
        `alarm ${ALARMS[0]} is in ALARM`,
        "the default secret still holds its placeholder: put the app's credentials in it",
        'no sweep invocation in the last 30 minutes',
      ]);
      expect(report.secrets).toEqual([
        { client: 'default', arn: CREATED_SECRET, placeholder: true },
        { client: 'partner', arn: IMPORTED_SECRET, placeholder: null },
      ]);
      expect(report.overdueAfterSeconds).toBe(120);
      const text = await cli('status', '--stack', STACK);
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/^secret default +PLACEHOLDER: no value put yet$/m);
      expect(text.stdout).toMatch(new RegExp(`^  ALARM +${ALARMS[0]}$`, 'm'));
      expect(text.stdout).toMatch(/^needs attention \(6\):$/m);
    } finally {
      await dynamo.client().send(
        new PutItemCommand({
          TableName: TABLE,
          Item: {
            pk: { S: `Org/${FAILING_ORG}` },
            sk: { S: 'default#warehouse.items.r' },
            status: { S: 'active' },
          },
        }),
      );
    }
  });

  it('works from explicit names without a stack, and says what it could not check', async () => {
    const list = await cli('list', '--aws', '--table', TABLE, '--json', '--bearer', `Org/${ORG}`);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ pk: `Org/${ORG}`, version: 3, hasToken: true }),
    ]);
    expect(reads.map((read) => read.command)).toEqual(['QueryCommand']);

    // The table's name from the environment, as a consumer's is.
    let printed = '';
    const status = await runCli(['status', '--aws', '--json'], {
      io: { stdout: (text) => (printed += text), stderr: (text) => (printed += text) },
      env: { TOKENS_TABLE_NAME: TABLE },
      awsClients: () => clients,
      now: () => NOW,
    });
    expect(status, printed).toBe(0);
    expect(JSON.parse(printed)).toMatchObject({
      broker: `deployed table ${TABLE}`,
      notChecked: ['queues, alarms, secrets and the last sweep: pass --stack NAME'],
      healthy: true,
    });
    expect(mocks.cloudformation.commandCalls(DescribeStacksCommand)).toHaveLength(0);

    const noTable = await cli('list', '--aws');
    expect(noTable.code).toBe(2);
    expect(noTable.stderr).toBe(
      'no tokens table: pass --stack NAME, --table NAME or set TOKENS_TABLE_NAME\n',
    );
  });

  it("finds the table of a user's stack from its BrokerAttributes output", async () => {
    mocks.cloudformation.on(DescribeStacksCommand, { StackName: 'UserStack' }).resolves({
      Stacks: [
        {
          StackName: 'UserStack',
          CreationTime: new Date(NOW),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [
            {
              OutputKey: 'BrokerAttributes',
              OutputValue: JSON.stringify({
                tableArn: `arn:aws:dynamodb:eu-central-1:111122223333:table/${TABLE}`,
                mintFunctionArn: `arn:aws:lambda:eu-central-1:111122223333:function:${MINT}`,
              }),
            },
          ],
        },
      ],
    });
    mocks.cloudformation
      .on(ListStackResourcesCommand, { StackName: 'UserStack' })
      .resolves({ StackResourceSummaries: [] });
    const run = await cli('show', '--stack', 'UserStack', `Org/${ORG}.warehouse.items.r`);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^version +3$/m);
    expect(run.stdout).toMatch(/^access token +\(hidden, \d+ chars/m);
    expect(reads).toEqual([expect.objectContaining({ command: 'GetItemCommand' })]);
  });

  it('refuses forget on a deployed table, and prints no token values anywhere', async () => {
    const forget = await cli('forget', '--stack', STACK, `Org/${ORG}.warehouse.items.r`);
    expect(forget.code).toBe(2);
    expect(forget.stderr).toMatch(/^forget works on the local runtime only/);

    const outputs: string[] = [];
    for (const args of [
      ['list', '--stack', STACK],
      ['list', '--stack', STACK, '--json'],
      ['show', '--stack', STACK, `Org/${ORG}.warehouse.items.r`, '--json'],
      ['status', '--stack', STACK, '--json'],
    ]) {
      const run = await cli(...args);
      expect(run.code, run.stderr).toBe(0);
      outputs.push(run.stdout, run.stderr);
    }
    expect(outputs.join('')).toContain(`Org/${ORG}`);
    expect(secretsIn(outputs, [ACCESS_TOKEN, REFRESH_TOKEN])).toEqual([]);
    // The same check finds a value when one is printed.
    const shown = await cli('show', '--stack', STACK, `Org/${ORG}.warehouse.items.r`, '--show-tokens');
    expect(secretsIn([shown.stdout], [ACCESS_TOKEN, REFRESH_TOKEN])).toEqual([ACCESS_TOKEN]);
  });
});
