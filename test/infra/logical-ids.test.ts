/**
 * The logical IDs of the stack `cdk synth` builds by default. A changed logical ID makes
 * CloudFormation replace the resource: a new, empty table, new functions, new queues (with the
 * messages of the old ones lost). Moving code between the broker's constructs must leave them as
 * they are.
 */
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ZaikioTokenBrokerStack } from '../../infra/broker-stack.js';
import { DEFAULT_STACK_NAME, readContext } from '../../infra/context.js';
import type { ZaikioTokenBroker } from '../../infra/zaikio-token-broker.js';
import { newApp } from './support.js';

let stack: Stack;
let broker: ZaikioTokenBroker;
let resources: Record<string, { Type: string }>;

beforeAll(() => {
  const app = newApp({ bundle: false });
  const brokerStack = new ZaikioTokenBrokerStack(app, DEFAULT_STACK_NAME, {
    config: readContext(() => undefined),
  });
  stack = brokerStack;
  broker = brokerStack.broker;
  resources = Template.fromStack(brokerStack).toJSON().Resources;
});

const logicalId = (construct: IConstruct): string => stack.getLogicalId(construct.node.defaultChild as never);

describe('logical IDs', () => {
  it('of the table, the three functions and the three queues are the deployed ones', () => {
    const pinned = {
      table: [broker.table, 'BrokerTokens7CE0AE68', 'AWS::DynamoDB::Table'],
      mintFunction: [broker.mintFunction, 'BrokerMint9F22767E', 'AWS::Lambda::Function'],
      sweepFunction: [broker.sweepFunction, 'BrokerSweep8A2485DA', 'AWS::Lambda::Function'],
      refreshFunction: [broker.refreshFunction, 'BrokerRefreshC838252E', 'AWS::Lambda::Function'],
      refreshQueue: [broker.refreshQueue, 'BrokerRefreshQueueCBD64532', 'AWS::SQS::Queue'],
      refreshDeadLetterQueue: [
        broker.refreshDeadLetterQueue,
        'BrokerRefreshDeadLetterQueueCE3068F1',
        'AWS::SQS::Queue',
      ],
      scheduleDeadLetterQueue: [
        broker.scheduleDeadLetterQueue,
        'BrokerScheduleDeadLetterQueueE2D86542',
        'AWS::SQS::Queue',
      ],
    } as const;
    for (const [member, [construct, expected, type]] of Object.entries(pinned)) {
      expect(logicalId(construct), member).toBe(expected);
      expect(resources[expected]?.Type, member).toBe(type);
    }
  });

  it('of the resources around them (log groups, roles, schedule, event source, queue policies) are the deployed ones', () => {
    const pinned: Record<string, string> = {
      BrokerMintLogsAFCEB472: 'AWS::Logs::LogGroup',
      BrokerSweepLogs7E008163: 'AWS::Logs::LogGroup',
      BrokerRefreshLogsD19DCDB6: 'AWS::Logs::LogGroup',
      BrokerMintRole9173814F: 'AWS::IAM::Role',
      BrokerSweepRole5B691F9F: 'AWS::IAM::Role',
      BrokerRefreshRole24ECF74E: 'AWS::IAM::Role',
      BrokerScheduleRoleE53508E3: 'AWS::IAM::Role',
      BrokerMintRoleDefaultPolicy8842C92E: 'AWS::IAM::Policy',
      BrokerSweepRoleDefaultPolicyA51710BC: 'AWS::IAM::Policy',
      BrokerRefreshRoleDefaultPolicy94CB671B: 'AWS::IAM::Policy',
      BrokerScheduleRoleDefaultPolicy40D9D34B: 'AWS::IAM::Policy',
      BrokerSweepSchedule7E53E674: 'AWS::Scheduler::Schedule',
      BrokerSweepEventInvokeConfig5FAEBC73: 'AWS::Lambda::EventInvokeConfig',
      BrokerRefreshSqsEventSourceZaikioTokenBrokerRefreshQueueAE0635DF2DCFC456:
        'AWS::Lambda::EventSourceMapping',
      BrokerRefreshQueuePolicyF292CA0E: 'AWS::SQS::QueuePolicy',
      BrokerRefreshDeadLetterQueuePolicyF76A5F41: 'AWS::SQS::QueuePolicy',
      BrokerScheduleDeadLetterQueuePolicyCB4090EA: 'AWS::SQS::QueuePolicy',
      BrokerCredentialsClientdefaultD56EE0D2: 'AWS::SecretsManager::Secret',
      BrokerCredentialsClientdefaultPolicyC07D8608: 'AWS::SecretsManager::ResourcePolicy',
      BrokerObservabilityDashboard916DC520: 'AWS::CloudWatch::Dashboard',
    };
    const actual = Object.fromEntries(
      Object.keys(pinned).map((logicalId) => [logicalId, resources[logicalId]?.Type]),
    );
    expect(actual).toEqual(pinned);
  });
});
