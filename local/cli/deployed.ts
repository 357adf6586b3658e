/**
 * A deployed broker as its operator sees it: its CloudFormation stack (outputs and resources), the
 * alarms, queues and secrets in it, and the sweeper's CloudWatch metric. Only calls an administrator
 * may make under the broker's resource policies: never GetSecretValue (a created secret denies it to
 * all but the broker's roles), only whether a value was put after the secret was created.
 */
import {
  type CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeSecretCommand,
  ListSecretVersionIdsCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ENV } from '../../functions/core/env.js';

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly lambda: LambdaClient;
  readonly cloudformation: CloudFormationClient;
  readonly cloudwatch: CloudWatchClient;
  readonly sqs: SQSClient;
  readonly secretsManager: SecretsManagerClient;
}

export type QueueRole = 'refresh' | 'refresh dead-letter' | 'schedule dead-letter';

export interface BrokerStack {
  readonly name: string;
  readonly tableName?: string;
  readonly mintFunction?: string;
  readonly defaultClient?: string;
  readonly sweepFunction?: string;
  /** App name → secret ARN; `created`: the stack made it (so it started with a placeholder). */
  readonly secrets: readonly { readonly client: string; readonly arn: string; readonly created: boolean }[];
  readonly alarms: readonly string[];
  readonly queues: readonly { readonly role: QueueRole; readonly url: string }[];
}

interface StackResource {
  readonly logicalId: string;
  readonly type: string;
  readonly physicalId: string;
}

/** CDK logical ids end in the construct id plus an 8-digit hash, e.g. `BrokerRefreshQueueCBD64532`. */
function byConstructId(resources: readonly StackResource[], type: string, id: string): StackResource[] {
  const pattern = new RegExp(`${id}[0-9A-F]{8}$`);
  return resources.filter((r) => r.type === type && pattern.test(r.logicalId));
}

function json(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const lastArnPart = (arn: unknown, after: string): string | undefined =>
  typeof arn === 'string' && arn.includes(after)
    ? arn.slice(arn.lastIndexOf(after) + after.length)
    : undefined;

/**
 * The broker in stack `name`: from the repository stack's outputs (TableName, MintFunctionName,
 * BrokerAttributes, ClientSecretArns), a user's stack's (BrokerAttributes, ClientSecretArn), and the
 * stack's resources for what no output names (alarms, queues, the sweep function).
 */
export async function describeBrokerStack(cfn: CloudFormationClient, name: string): Promise<BrokerStack> {
  const { Stacks = [] } = await cfn.send(new DescribeStacksCommand({ StackName: name }));
  const outputs = Object.fromEntries(
    (Stacks[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']),
  );
  const resources: StackResource[] = [];
  let token: string | undefined;
  do {
    const page = await cfn.send(new ListStackResourcesCommand({ StackName: name, NextToken: token }));
    for (const r of page.StackResourceSummaries ?? []) {
      resources.push({
        logicalId: r.LogicalResourceId ?? '',
        type: r.ResourceType ?? '',
        physicalId: r.PhysicalResourceId ?? '',
      });
    }
    token = page.NextToken;
  } while (token !== undefined);

  const attributes = json(outputs.BrokerAttributes) ?? {};
  const createdSecrets = new Set(
    resources.filter((r) => r.type === 'AWS::SecretsManager::Secret').map((r) => r.physicalId),
  );
  const secretArns: Record<string, unknown> =
    json(outputs.ClientSecretArns) ??
    (outputs.ClientSecretArn === undefined
      ? {}
      : { [String(attributes.defaultClient ?? 'default')]: outputs.ClientSecretArn });
  const secrets = Object.entries(secretArns)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .map(([client, arn]) => ({ client, arn, created: createdSecrets.has(arn) }));
  // A stack that outputs no secret ARNs: its created secrets, by ARN.
  if (secrets.length === 0) {
    for (const arn of createdSecrets)
      secrets.push({ client: arn.split(':').pop() ?? arn, arn, created: true });
  }
  const queues = (
    [
      ['refresh', 'RefreshQueue'],
      ['refresh dead-letter', 'RefreshDeadLetterQueue'],
      ['schedule dead-letter', 'ScheduleDeadLetterQueue'],
    ] as const
  ).flatMap(([role, id]) =>
    byConstructId(resources, 'AWS::SQS::Queue', id).map((r) => ({ role, url: r.physicalId })),
  );
  const tableName =
    outputs.TableName ??
    lastArnPart(attributes.tableArn, ':table/') ??
    byConstructId(resources, 'AWS::DynamoDB::Table', 'Tokens')[0]?.physicalId;
  const mintFunction =
    outputs.MintFunctionName ??
    lastArnPart(attributes.mintFunctionArn, ':function:') ??
    byConstructId(resources, 'AWS::Lambda::Function', 'Mint')[0]?.physicalId;
  const sweepFunction = byConstructId(resources, 'AWS::Lambda::Function', 'Sweep')[0]?.physicalId;
  return {
    name,
    ...(tableName === undefined ? {} : { tableName }),
    ...(mintFunction === undefined ? {} : { mintFunction }),
    ...(typeof attributes.defaultClient === 'string' ? { defaultClient: attributes.defaultClient } : {}),
    ...(sweepFunction === undefined ? {} : { sweepFunction }),
    secrets,
    alarms: resources.filter((r) => r.type === 'AWS::CloudWatch::Alarm').map((r) => r.physicalId),
    queues,
  };
}

export interface AlarmState {
  readonly name: string;
  readonly state: string;
}

export async function alarmStates(
  cloudwatch: CloudWatchClient,
  names: readonly string[],
): Promise<AlarmState[]> {
  const states: AlarmState[] = [];
  // DescribeAlarms takes at most 100 names per call.
  for (let i = 0; i < names.length; i += 100) {
    let token: string | undefined;
    do {
      const page = await cloudwatch.send(
        new DescribeAlarmsCommand({ AlarmNames: names.slice(i, i + 100), NextToken: token }),
      );
      for (const alarm of page.MetricAlarms ?? []) {
        states.push({ name: alarm.AlarmName ?? '?', state: alarm.StateValue ?? 'INSUFFICIENT_DATA' });
      }
      token = page.NextToken;
    } while (token !== undefined);
  }
  return states.sort((a, b) => a.name.localeCompare(b.name));
}

export interface QueueDepth {
  readonly role: QueueRole;
  readonly url: string;
  readonly visible: number;
  readonly inFlight: number;
}

export async function queueDepths(
  sqs: SQSClient,
  queues: readonly { readonly role: QueueRole; readonly url: string }[],
): Promise<QueueDepth[]> {
  return Promise.all(
    queues.map(async ({ role, url }) => {
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return {
        role,
        url,
        visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
      };
    }),
  );
}

/** How far back the sweeper's invocations are looked for. */
export const SWEEP_LOOKBACK_MS = 30 * 60_000;

/**
 * The start of the last minute in which the sweep function ran (AWS/Lambda `Invocations`, 1-minute
 * periods; CloudWatch has it a minute or two late), or undefined when it did not run within
 * SWEEP_LOOKBACK_MS.
 */
export async function lastSweepInvocation(
  cloudwatch: CloudWatchClient,
  functionName: string,
  now: number,
): Promise<number | undefined> {
  const { MetricDataResults = [] } = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(now - SWEEP_LOOKBACK_MS),
      EndTime: new Date(now),
      ScanBy: 'TimestampDescending',
      MetricDataQueries: [
        {
          Id: 'sweeps',
          MetricStat: {
            Metric: {
              Namespace: 'AWS/Lambda',
              MetricName: 'Invocations',
              Dimensions: [{ Name: 'FunctionName', Value: functionName }],
            },
            Period: 60,
            Stat: 'Sum',
          },
        },
      ],
    }),
  );
  const result = MetricDataResults[0];
  const times = result?.Timestamps ?? [];
  const values = result?.Values ?? [];
  const latest = times
    .filter((_, i) => (values[i] ?? 0) > 0)
    .map((time) => time.getTime())
    .sort((a, b) => b - a)[0];
  return latest;
}

export interface SecretState {
  readonly client: string;
  readonly arn: string;
  readonly created: boolean;
  /** True while a created secret still holds the placeholder it was created with. */
  readonly placeholder?: boolean;
}

/** A value put later is a newer version: the secret is a placeholder while its current version is the first. */
const FIRST_VERSION_SLACK_MS = 60_000;

export async function secretStates(
  secretsManager: SecretsManagerClient,
  secrets: BrokerStack['secrets'],
): Promise<SecretState[]> {
  return Promise.all(
    secrets.map(async (secret) => {
      if (!secret.created) return secret;
      const [described, versions] = await Promise.all([
        secretsManager.send(new DescribeSecretCommand({ SecretId: secret.arn })),
        secretsManager.send(
          new ListSecretVersionIdsCommand({ SecretId: secret.arn, IncludeDeprecated: true }),
        ),
      ]);
      const all = versions.Versions ?? [];
      const current = all.find((version) => version.VersionStages?.includes('AWSCURRENT'));
      const createdAt = described.CreatedDate?.getTime();
      const currentAt = current?.CreatedDate?.getTime();
      const placeholder =
        all.length <= 1 ||
        (createdAt !== undefined &&
          currentAt !== undefined &&
          currentAt - createdAt < FIRST_VERSION_SLACK_MS);
      return { ...secret, placeholder };
    }),
  );
}

/** The sweep interval the broker runs with, from the function's BROKER_SETTINGS, when readable. */
export async function scheduleIntervalOf(
  lambda: LambdaClient,
  functionName: string,
): Promise<number | undefined> {
  try {
    const configuration = await lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: functionName }),
    );
    const settings = json(configuration.Environment?.Variables?.[ENV.settings]);
    const interval = settings?.scheduleIntervalMs;
    return typeof interval === 'number' && interval > 0 ? interval : undefined;
  } catch {
    // Not allowed to read the configuration: the caller falls back to the default interval.
    return undefined;
  }
}
