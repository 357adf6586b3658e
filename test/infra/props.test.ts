/**
 * The production props of ZaikioTokenBroker (functions, logLevel, logRetention, tracing,
 * tableEncryptionKey, tags): each one lands in the synthesized template, and its documented default
 * holds when it is absent.
 */
import { Duration, Stack, Tags } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ZaikioTokenBroker, type ZaikioTokenBrokerProps } from '../../infra/zaikio-token-broker.js';
import {
  actionsOf,
  allIdentityStatements,
  evaluate,
  newApp,
  type PolicyStatement,
  statementsOfRole,
} from './support.js';

const NAMES = ['mint', 'sweep', 'refresh'] as const;
type Name = (typeof NAMES)[number];

const TABLE_ARN = 'arn:aws:dynamodb:eu-central-1:123456789012:table/ZaikioTokens';
const MINT_ARN = 'arn:aws:lambda:eu-central-1:123456789012:function:zaikio-mint';
const KEY_ARN = 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

interface Synthesized {
  readonly stack: Stack;
  readonly broker: ZaikioTokenBroker;
  readonly template: Template;
}

/** One app per broker: an app cannot be changed once it has been synthesized. */
function synth(props?: ZaikioTokenBrokerProps, extend?: (stack: Stack, broker: ZaikioTokenBroker) => void) {
  const stack = new Stack(newApp({ bundle: false }), 'Props');
  const broker = new ZaikioTokenBroker(stack, 'Broker', props);
  extend?.(stack, broker);
  return { stack, broker, template: Template.fromStack(stack) } satisfies Synthesized;
}

const logicalId = (stack: Stack, construct: IConstruct): string =>
  stack.getLogicalId(construct.node.defaultChild as never);

const fnOf = (broker: ZaikioTokenBroker, name: Name): lambda.IFunction =>
  ({ mint: broker.mintFunction, sweep: broker.sweepFunction, refresh: broker.refreshFunction })[name];

/** The synthesized properties of one of the broker's functions. */
function functionProps({ stack, broker, template }: Synthesized, name: Name): Record<string, unknown> {
  const resource = template.findResources('AWS::Lambda::Function')[logicalId(stack, fnOf(broker, name))];
  expect(resource, name).toBeDefined();
  return resource?.Properties as Record<string, unknown>;
}

/** The log group the function writes to (LoggingConfig.LogGroup), not just any log group. */
function logGroupProps(synthesized: Synthesized, name: Name): Record<string, unknown> {
  const loggingConfig = functionProps(synthesized, name).LoggingConfig as { LogGroup: { Ref: string } };
  const resource = synthesized.template.findResources('AWS::Logs::LogGroup')[loggingConfig.LogGroup.Ref];
  expect(resource, `${name} log group`).toBeDefined();
  return resource?.Properties as Record<string, unknown>;
}

const roleStatements = ({ stack, broker, template }: Synthesized, name: Name): PolicyStatement[] =>
  statementsOfRole(template, logicalId(stack, fnOf(broker, name).role as iam.IRole));

const consumerFunction = (stack: Stack, id = 'Consumer'): lambda.Function =>
  new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('export const handler = async () => {};'),
    timeout: Duration.seconds(10),
  });

const kmsRequest = (action: string, resource: unknown) => ({ action, resource, context: {} });

describe('defaults, with no production prop', () => {
  let defaults: Synthesized;
  beforeAll(() => {
    defaults = synth();
  });

  it('gives mint 512 MB and sweep and refresh 256 MB, and reserves the sized ceilings', () => {
    const memory = NAMES.map((name) => functionProps(defaults, name).MemorySize);
    expect(memory).toEqual([512, 256, 256]);
    expect(NAMES.map((name) => functionProps(defaults, name).ReservedConcurrentExecutions)).toEqual([
      defaults.broker.sizing.mintConcurrency,
      1,
      undefined,
    ]);
  });

  it('logs at INFO through Lambda advanced logging controls, kept for 30 days', () => {
    for (const name of NAMES) {
      expect(functionProps(defaults, name).LoggingConfig, name).toMatchObject({
        ApplicationLogLevel: 'INFO',
        LogFormat: 'JSON',
      });
      expect(logGroupProps(defaults, name).RetentionInDays, name).toBe(30);
    }
  });

  it('does not trace, and grants no X-Ray permission', () => {
    for (const name of NAMES) {
      expect(functionProps(defaults, name), name).not.toHaveProperty('TracingConfig');
    }
    const xray = allIdentityStatements(defaults.template).filter(({ statement }) =>
      actionsOf(statement).some((action) => action.startsWith('xray:')),
    );
    expect(xray).toEqual([]);
  });

  it('encrypts the table with the AWS managed key: SSE on, no key id, no KMS grant anywhere', () => {
    defaults.template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: Match.absent(), KMSMasterKeyId: Match.absent() },
    });
    defaults.template.resourceCountIs('AWS::KMS::Key', 0);
    const kmsStatements = allIdentityStatements(defaults.template).filter(({ statement }) =>
      actionsOf(statement).some((action) => action.startsWith('kms:')),
    );
    expect(kmsStatements).toEqual([]);
    expect(defaults.broker.table.encryptionKey).toBeUndefined();
    expect(defaults.broker.attributes).not.toHaveProperty('tableEncryptionKeyArn');
  });

  it('grants a consumer no KMS permission', () => {
    const { stack, template } = synth(undefined, (scope, broker) => {
      broker.grantTokenAccess(consumerFunction(scope), { allBearers: true, scopes: ['*'] });
    });
    const consumer = stack.node.findChild('Consumer') as lambda.Function;
    const statements = statementsOfRole(template, logicalId(stack, consumer.role as iam.IRole));
    expect(statements.flatMap(actionsOf).sort()).toEqual(['dynamodb:GetItem', 'lambda:InvokeFunction']);
  });
});

describe('functions', () => {
  it('takes each function’s memorySize, leaving the others at their defaults', () => {
    const synthesized = synth({ functions: { mint: { memorySize: 1024 }, refresh: { memorySize: 128 } } });
    expect(NAMES.map((name) => functionProps(synthesized, name).MemorySize)).toEqual([1024, 256, 128]);
    const sweepOnly = synth({ functions: { sweep: { memorySize: 10_240 } } });
    expect(NAMES.map((name) => functionProps(sweepOnly, name).MemorySize)).toEqual([512, 10_240, 256]);
  });

  it('caps the mint at its sizing and the sweeper at 1 by default; the refresh worker has its queue', () => {
    const synthesized = synth();
    // 300 requests per 60 s, each up to the 15 s Hub deadline.
    expect(functionProps(synthesized, 'mint').ReservedConcurrentExecutions).toBe(75);
    expect(synthesized.broker.sizing.mintConcurrency).toBe(75);
    expect(functionProps(synthesized, 'sweep').ReservedConcurrentExecutions).toBe(1);
    expect(functionProps(synthesized, 'refresh')).not.toHaveProperty('ReservedConcurrentExecutions');
  });

  it('takes each function’s own reservation over the defaults', () => {
    const synthesized = synth({
      functions: { mint: { reservedConcurrentExecutions: 25 }, refresh: { reservedConcurrentExecutions: 4 } },
    });
    expect(functionProps(synthesized, 'mint').ReservedConcurrentExecutions).toBe(25);
    expect(functionProps(synthesized, 'refresh').ReservedConcurrentExecutions).toBe(4);
    expect(functionProps(synthesized, 'sweep').ReservedConcurrentExecutions).toBe(1);
  });

  it('keeps a reservation of 0 (Lambda’s way to stop a function), not dropping it as falsy', () => {
    const synthesized = synth({ functions: { sweep: { reservedConcurrentExecutions: 0 } } });
    expect(functionProps(synthesized, 'sweep').ReservedConcurrentExecutions).toBe(0);
    expect(functionProps(synthesized, 'mint').ReservedConcurrentExecutions).toBe(75);
  });

  it('applies the broker-wide logLevel and logRetention to every function', () => {
    const synthesized = synth({
      logLevel: lambda.ApplicationLogLevel.WARN,
      logRetention: logs.RetentionDays.ONE_WEEK,
    });
    for (const name of NAMES) {
      expect(functionProps(synthesized, name).LoggingConfig, name).toMatchObject({
        ApplicationLogLevel: 'WARN',
      });
      expect(logGroupProps(synthesized, name).RetentionInDays, name).toBe(7);
    }
  });

  it('lets a function’s own logLevel and logRetention override the broker-wide ones', () => {
    const synthesized = synth({
      logLevel: lambda.ApplicationLogLevel.WARN,
      logRetention: logs.RetentionDays.ONE_WEEK,
      functions: {
        mint: { logLevel: lambda.ApplicationLogLevel.DEBUG },
        refresh: {
          logRetention: logs.RetentionDays.THREE_MONTHS,
          logLevel: lambda.ApplicationLogLevel.ERROR,
        },
      },
    });
    const level = (name: Name) =>
      (functionProps(synthesized, name).LoggingConfig as { ApplicationLogLevel: string }).ApplicationLogLevel;
    expect(NAMES.map(level)).toEqual(['DEBUG', 'WARN', 'ERROR']);
    expect(NAMES.map((name) => logGroupProps(synthesized, name).RetentionInDays)).toEqual([7, 7, 90]);
  });

  it('lets a function’s own log settings override the defaults when no broker-wide one is given', () => {
    const synthesized = synth({
      functions: {
        sweep: { logLevel: lambda.ApplicationLogLevel.TRACE, logRetention: logs.RetentionDays.ONE_YEAR },
      },
    });
    const level = (name: Name) =>
      (functionProps(synthesized, name).LoggingConfig as { ApplicationLogLevel: string }).ApplicationLogLevel;
    expect(NAMES.map(level)).toEqual(['INFO', 'TRACE', 'INFO']);
    expect(NAMES.map((name) => logGroupProps(synthesized, name).RetentionInDays)).toEqual([30, 365, 30]);
  });
});

describe('invalid function options', () => {
  const attempt = (functions: ZaikioTokenBrokerProps['functions']) => () => synth({ functions });

  it('rejects a memorySize Lambda does not offer, when the app is built, naming the function', () => {
    // CloudFormation's schema check would catch 64 and 128.5 only as a synthesis report, and 10241
    // not at all (the deployment would fail); the construct names the prop instead.
    expect(attempt({ mint: { memorySize: 64 } })).toThrow(/functions\.mint\.memorySize 64 .*128 to 10240/);
    expect(attempt({ sweep: { memorySize: 10_241 } })).toThrow(/functions\.sweep\.memorySize 10241/);
    expect(attempt({ refresh: { memorySize: 128.5 } })).toThrow(/functions\.refresh\.memorySize 128\.5/);
    expect(attempt({ mint: { memorySize: 0 } })).toThrow(/functions\.mint\.memorySize 0/);
    expect(attempt({ mint: { memorySize: 128 }, sweep: { memorySize: 10_240 } })).not.toThrow();
  });

  it('rejects a negative or fractional reserved concurrency', () => {
    expect(attempt({ sweep: { reservedConcurrentExecutions: -1 } })).toThrow(
      /functions\.sweep\.reservedConcurrentExecutions -1 must be a whole number, 0 or more/,
    );
    expect(attempt({ mint: { reservedConcurrentExecutions: 1.5 } })).toThrow(
      /functions\.mint\.reservedConcurrentExecutions 1\.5/,
    );
    expect(attempt({ refresh: { reservedConcurrentExecutions: Number.NaN } })).toThrow(
      /functions\.refresh\.reservedConcurrentExecutions NaN/,
    );
  });

  it('rejects a refresh reservation below the refresh queue’s maximum concurrency', () => {
    // The default rate limit gives a maximum concurrency of 2: one reserved worker would be throttled.
    expect(attempt({ refresh: { reservedConcurrentExecutions: 1 } })).toThrow(
      /functions\.refresh\.reservedConcurrentExecutions 1 is below the refresh queue's maximum concurrency \(2/,
    );
    expect(attempt({ refresh: { reservedConcurrentExecutions: 2 } })).not.toThrow();
  });
});

describe('tracing', () => {
  const xrayStatements = (statements: readonly PolicyStatement[]) =>
    statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith('xray:')));

  it('ACTIVE: traces all three functions and lets each role write to X-Ray', () => {
    const synthesized = synth({ tracing: lambda.Tracing.ACTIVE });
    for (const name of NAMES) {
      expect(functionProps(synthesized, name).TracingConfig, name).toEqual({ Mode: 'Active' });
      const xray = xrayStatements(roleStatements(synthesized, name));
      expect(xray, name).toHaveLength(1);
      expect(actionsOf(xray[0] as PolicyStatement).sort()).toEqual([
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
      // X-Ray has no resource-level permissions for these actions (see the cdk-nag test).
      expect(xray[0]?.Resource).toBe('*');
    }
  });

  it('PASS_THROUGH: passes the mode on to all three functions', () => {
    const synthesized = synth({ tracing: lambda.Tracing.PASS_THROUGH });
    for (const name of NAMES) {
      expect(functionProps(synthesized, name).TracingConfig, name).toEqual({ Mode: 'PassThrough' });
    }
  });

  it('DISABLED, given explicitly: no TracingConfig and no X-Ray permission', () => {
    const synthesized = synth({ tracing: lambda.Tracing.DISABLED });
    for (const name of NAMES) {
      expect(functionProps(synthesized, name), name).not.toHaveProperty('TracingConfig');
      expect(xrayStatements(roleStatements(synthesized, name)), name).toEqual([]);
    }
  });
});

describe('tableEncryptionKey', () => {
  let synthesized: Synthesized;
  let key: kms.Key;
  let consumer: lambda.Function;
  let grant: iam.Grant;
  let keyArn: unknown;

  beforeAll(() => {
    const stack = new Stack(newApp({ bundle: false }), 'Encrypted');
    key = new kms.Key(stack, 'TableKey', { enableKeyRotation: true });
    const broker = new ZaikioTokenBroker(stack, 'Broker', { tableEncryptionKey: key });
    consumer = consumerFunction(stack);
    grant = broker.grantTokenAccess(consumer, { allBearers: true, scopes: ['*'] });
    synthesized = { stack, broker, template: Template.fromStack(stack) };
    keyArn = stack.resolve(key.keyArn);
  });

  it('encrypts the table with that key', () => {
    expect(keyArn).toEqual({ 'Fn::GetAtt': [logicalId(synthesized.stack, key), 'Arn'] });
    synthesized.template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
    });
    expect(synthesized.broker.table.encryptionKey).toBe(key);
  });

  it('lets the mint and refresh roles encrypt and decrypt with the key, without wildcard actions', () => {
    for (const name of ['mint', 'refresh'] as const) {
      const statements = roleStatements(synthesized, name);
      const onKey = statements.filter(
        (statement) => JSON.stringify(statement.Resource) === JSON.stringify(keyArn),
      );
      expect(onKey, name).toHaveLength(1);
      expect(actionsOf(onKey[0] as PolicyStatement), name).toEqual(
        expect.arrayContaining(['kms:Decrypt', 'kms:Encrypt']),
      );
      for (const action of actionsOf(onKey[0] as PolicyStatement)) expect(action).not.toContain('*');
      expect(evaluate(statements, kmsRequest('kms:Decrypt', keyArn)), name).toBe('allow');
      expect(evaluate(statements, kmsRequest('kms:Encrypt', keyArn)), name).toBe('allow');
      expect(evaluate(statements, kmsRequest('kms:GenerateDataKey', keyArn)), name).toBe('allow');
      // Nothing beyond using the key.
      for (const action of ['kms:ScheduleKeyDeletion', 'kms:PutKeyPolicy', 'kms:CreateGrant']) {
        expect(evaluate(statements, kmsRequest(action, keyArn)), `${name} ${action}`).toBe('deny');
      }
    }
  });

  it('lets the sweep role only decrypt with the key', () => {
    const statements = roleStatements(synthesized, 'sweep');
    const kmsActions = statements.flatMap(actionsOf).filter((action) => action.startsWith('kms:'));
    expect(kmsActions).toEqual(['kms:Decrypt']);
    expect(evaluate(statements, kmsRequest('kms:Decrypt', keyArn))).toBe('allow');
    expect(evaluate(statements, kmsRequest('kms:Encrypt', keyArn))).toBe('deny');
  });

  it('gives a consumer granted token access kms:Decrypt on the key, and no other KMS action', () => {
    const statements = statementsOfRole(
      synthesized.template,
      logicalId(synthesized.stack, consumer.role as iam.IRole),
    );
    expect(evaluate(statements, kmsRequest('kms:Decrypt', keyArn))).toBe('allow');
    expect(evaluate(statements, kmsRequest('kms:Encrypt', keyArn))).toBe('deny');
    expect(evaluate(statements, kmsRequest('kms:GenerateDataKey', keyArn))).toBe('deny');
    expect(statements.flatMap(actionsOf).filter((action) => action.startsWith('kms:'))).toEqual([
      'kms:Decrypt',
    ]);
    // The returned grant covers the key too.
    expect(
      grant.principalStatements.some(
        (statement) =>
          statement.actions.includes('kms:Decrypt') &&
          JSON.stringify(synthesized.stack.resolve(statement.resources)) === JSON.stringify([keyArn]),
      ),
    ).toBe(true);
  });

  it('names the key in the attributes another app imports the broker with', () => {
    expect(synthesized.stack.resolve(synthesized.broker.attributes.tableEncryptionKeyArn)).toEqual(keyArn);
  });
});

describe('tableEncryptionKeyArn of an imported broker', () => {
  const imported = (attrs: { tableEncryptionKeyArn?: string }) => {
    const stack = new Stack(newApp({ bundle: false }), 'Consumers');
    const broker = ZaikioTokenBroker.fromBrokerAttributes(stack, 'Broker', {
      tableArn: TABLE_ARN,
      mintFunctionArn: MINT_ARN,
      ...attrs,
    });
    const consumer = consumerFunction(stack);
    broker.grantTokenAccess(consumer, { consumer: 'orders', allBearers: true });
    const template = Template.fromStack(stack);
    return statementsOfRole(template, logicalId(stack, consumer.role as iam.IRole));
  };

  it('gives the consumer kms:Decrypt on that key', () => {
    const statements = imported({ tableEncryptionKeyArn: KEY_ARN });
    expect(evaluate(statements, kmsRequest('kms:Decrypt', KEY_ARN))).toBe('allow');
    expect(evaluate(statements, kmsRequest('kms:Encrypt', KEY_ARN))).toBe('deny');
    expect(statements.filter((statement) => actionsOf(statement).includes('kms:Decrypt'))).toEqual([
      { Action: 'kms:Decrypt', Effect: 'Allow', Resource: KEY_ARN },
    ]);
  });

  it('gives no KMS permission without it', () => {
    const statements = imported({});
    expect(statements.flatMap(actionsOf).sort()).toEqual(['dynamodb:GetItem', 'lambda:InvokeFunction']);
  });
});

describe('tags', () => {
  /** Every resource type that takes tags and that the broker creates, with how many it creates. */
  const TAGGED = {
    'AWS::DynamoDB::Table': 1,
    'AWS::Lambda::Function': 3,
    'AWS::SQS::Queue': 3,
    'AWS::SecretsManager::Secret': 1,
    'AWS::Logs::LogGroup': 3,
    // mint, sweep, refresh and the schedule's role.
    'AWS::IAM::Role': 4,
  } as const;

  const tagsOf = (resource: { Properties?: { Tags?: unknown } }) =>
    (resource.Properties?.Tags ?? []) as Array<{ Key: string; Value: string }>;

  it('applied to the stack reach the table, functions, queues, secrets, log groups and roles', () => {
    const { template } = synth(undefined, (stack) => {
      Tags.of(stack).add('cost-center', 'identity-42');
    });
    for (const [type, count] of Object.entries(TAGGED)) {
      template.resourceCountIs(type, count);
      template.allResourcesProperties(type, {
        Tags: Match.arrayWith([{ Key: 'cost-center', Value: 'identity-42' }]),
      });
    }
  });

  it('applied to the construct reach all of its resources and nothing outside it', () => {
    const { stack, template } = synth(undefined, (scope, broker) => {
      new iam.Role(scope, 'Outside', { assumedBy: new iam.AccountRootPrincipal() });
      Tags.of(broker).add('component', 'token-broker');
    });
    const outside = logicalId(stack, stack.node.findChild('Outside'));
    for (const type of Object.keys(TAGGED)) {
      const resources = Object.entries(template.findResources(type));
      expect(resources.length, type).toBeGreaterThan(0);
      for (const [id, resource] of resources) {
        const tagged = tagsOf(resource).some(
          ({ Key, Value }) => Key === 'component' && Value === 'token-broker',
        );
        expect(tagged, `${type} ${id}`).toBe(id !== outside);
      }
    }
  });
});
