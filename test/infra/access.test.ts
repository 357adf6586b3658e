/**
 * Tenant isolation in the synthesized policies: a consumer granted organization A, whether the broker
 * is built in its app or imported from another, reads only A's tokens and invokes only its own mint
 * alias; and the broker's own roles hold no action their code does not use.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_ENV } from '../../functions/core/env.js';
import { READABLE_ATTRIBUTES } from '../../functions/core/store/schema.js';
import { ZaikioTokenBroker } from '../../infra/zaikio-token-broker.js';
import {
  actionsOf,
  allIdentityStatements,
  evaluate,
  newApp,
  type Request,
  statementsOfRole,
} from './support.js';

const A = 'b1475f65-236c-58b8-96e1-e1778b43beb7';
const B = '0d5e2c1a-7f43-4b8e-9a61-3c2b1f0e9d87';
const TABLE_ARN = 'arn:aws:dynamodb:eu-central-1:111122223333:table/Broker-Tokens';
const MINT_ARN = 'arn:aws:lambda:eu-central-1:111122223333:function:Broker-Mint';

const consumerFunction = (scope: Stack, id = 'Consumer') =>
  new lambda.Function(scope, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('export const handler = async () => {};'),
  });

const getItem = (resource: unknown, bearer: string): Request => ({
  action: 'dynamodb:GetItem',
  resource,
  context: {
    'dynamodb:LeadingKeys': [bearer],
    'dynamodb:Select': 'SPECIFIC_ATTRIBUTES',
    'dynamodb:Attributes': [...READABLE_ATTRIBUTES],
  },
});
const invoke = (resource: unknown): Request => ({ action: 'lambda:InvokeFunction', resource, context: {} });

describe('a consumer of another CDK app, granted organization A through a consumer the broker declared', () => {
  let brokerStack: Stack;
  let broker: ZaikioTokenBroker;
  let statements: ReturnType<typeof statementsOfRole>;
  let environment: Record<string, unknown>;

  beforeAll(() => {
    brokerStack = new Stack(newApp({ bundle: false }), 'Broker');
    broker = new ZaikioTokenBroker(brokerStack, 'Broker');
    broker.addConsumer('invoices', { organizations: [A], scopes: ['warehouse.items.r'] });
    broker.addConsumer('orders', { organizations: [B], scopes: ['warehouse.*'] });

    const other = new Stack(new App(), 'Invoices', {
      env: { account: '111122223333', region: 'eu-central-1' },
    });
    const imported = ZaikioTokenBroker.fromBrokerAttributes(other, 'Broker', {
      tableArn: TABLE_ARN,
      mintFunctionArn: MINT_ARN,
    });
    const fn = consumerFunction(other);
    imported.grantTokenAccess(fn, { consumer: 'invoices', organizations: [A] });
    const template = Template.fromStack(other);
    statements = statementsOfRole(template, other.getLogicalId(fn.role?.node.defaultChild as never));
    environment =
      template.findResources('AWS::Lambda::Function')[other.getLogicalId(fn.node.defaultChild as never)]
        ?.Properties.Environment.Variables;
  });

  it('reads A’s tokens, not B’s', () => {
    expect(evaluate(statements, getItem(TABLE_ARN, `Org/${A}`))).toBe('allow');
    expect(evaluate(statements, getItem(TABLE_ARN, `Org/${B}`))).toBe('deny');
    expect(evaluate(statements, getItem(TABLE_ARN, `Per/${A}`))).toBe('deny');
  });

  it('invokes its alias, never the function unqualified or as another consumer', () => {
    expect(environment[CONSUMER_ENV.mintFunctionName]).toBe(`${MINT_ARN}:invoices`);
    expect(evaluate(statements, invoke(`${MINT_ARN}:invoices`))).toBe('allow');
    expect(evaluate(statements, invoke(MINT_ARN))).toBe('deny');
    expect(evaluate(statements, invoke(`${MINT_ARN}:orders`))).toBe('deny');
    expect(evaluate(statements, invoke(`${MINT_ARN}:$LATEST`))).toBe('deny');
    expect(evaluate(statements, invoke(`${MINT_ARN}:1`))).toBe('deny');
  });

  it('the broker’s stack holds the aliases and the policy the mint enforces', () => {
    const template = Template.fromStack(brokerStack);
    const aliases = Object.values(template.findResources('AWS::Lambda::Alias')).map(
      (alias) => alias.Properties.Name,
    );
    expect(aliases.sort()).toEqual(['invoices', 'orders']);
    // Their asynchronous invocations are use reports: no retry, and none older than two minutes.
    const mintId = brokerStack.getLogicalId(broker.mintFunction.node.defaultChild as never);
    const asyncConfigs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig')).filter(
      (config) => config.Properties.FunctionName?.Ref === mintId,
    );
    // One per alias (the qualifier is the alias's name, taken from its ARN).
    expect(asyncConfigs).toHaveLength(2);
    for (const config of asyncConfigs) {
      expect(config.Properties).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 120 });
      expect(JSON.stringify(config.Properties.Qualifier)).toMatch(/BrokerConsumers(invoices|orders)/);
    }
    const mint =
      template.findResources('AWS::Lambda::Function')[
        brokerStack.getLogicalId(broker.mintFunction.node.defaultChild as never)
      ];
    expect(JSON.parse(mint?.Properties.Environment.Variables.ZAIKIO_GRANTS)).toEqual({
      invoices: { bearers: [`Org/${A}`], scopes: ['warehouse.items.r'], clients: ['default'] },
      orders: { bearers: [`Org/${B}`], scopes: ['warehouse.*'], clients: ['default'] },
    });
  });

  it('needs the consumer’s name and explicit bearers, and leaves the policy to the broker’s stack', () => {
    const other = new Stack(new App(), 'Other');
    const imported = ZaikioTokenBroker.fromBrokerAttributes(other, 'Broker', {
      tableArn: TABLE_ARN,
      mintFunctionArn: MINT_ARN,
    });
    const fn = consumerFunction(other);
    expect(() => imported.grantTokenAccess(fn, { organizations: [A] })).toThrow(/needs consumer/);
    expect(() => imported.grantTokenAccess(fn, { consumer: 'invoices' })).toThrow(/name the bearers/);
    expect(() =>
      imported.grantTokenAccess(fn, { consumer: 'invoices', organizations: [A], scopes: ['*'] }),
    ).toThrow(/belong to the broker's stack/);
  });
});

describe('the broker’s own roles', () => {
  let template: Template;
  let stack: Stack;
  let broker: ZaikioTokenBroker;

  beforeAll(() => {
    stack = new Stack(newApp({ bundle: false }), 'Roles');
    broker = new ZaikioTokenBroker(stack, 'Broker');
    template = Template.fromStack(stack);
  });

  it('hold no action the code never calls', () => {
    const actions = allIdentityStatements(template).flatMap(({ statement }) => actionsOf(statement));
    expect(actions).not.toContain('sqs:GetQueueUrl');
    expect(actions).not.toContain('secretsmanager:DescribeSecret');
    expect(actions).toContain('secretsmanager:GetSecretValue');
    const worker = statementsOfRole(
      template,
      stack.getLogicalId(broker.refreshFunction.role?.node.defaultChild as never),
    );
    expect(
      worker
        .flatMap(actionsOf)
        .filter((action) => action.startsWith('sqs:'))
        .sort(),
    ).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
    ]);
  });

  it('let only the account’s default schedule group assume the scheduler role', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'scheduler.amazonaws.com' } }] },
      },
    });
    const [role] = Object.values(roles);
    const condition = role?.Properties.AssumeRolePolicyDocument.Statement[0].Condition.StringEquals;
    expect(condition['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
    expect(JSON.stringify(condition['aws:SourceArn'])).toContain(':schedule-group/default');
  });
});
