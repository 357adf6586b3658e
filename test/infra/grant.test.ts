/**
 * grantTokenAccess: what a consumer may and may not do, checked by evaluating its synthesized
 * identity policy against requests (test/infra/support.ts), not only by matching its shape.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_ENV } from '../../functions/core/env.js';
import { ATTR, READABLE_ATTRIBUTES } from '../../functions/core/store/schema.js';
import { ZaikioTokenBrokerStack } from '../../infra/broker-stack.js';
import { readContext } from '../../infra/context.js';
import { ZaikioTokenBroker } from '../../infra/zaikio-token-broker.js';
import {
  actionsOf,
  evaluate,
  newApp,
  type PolicyStatement,
  type Request,
  statementsOfRole,
} from './support.js';

const ORG = 'b1475f65-236c-58b8-96e1-e1778b43beb7';
const OTHER_ORG = '0c5b1f5e-0000-4000-8000-000000000000';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:zaikio/warehouse-AbC123';

let stack: Stack;
let broker: ZaikioTokenBroker;
let template: Template;
let consumer: lambda.Function;
let reader: iam.Role;
let limited: PolicyStatement[];
let unlimited: PolicyStatement[];
let grant: iam.Grant;

beforeAll(() => {
  stack = new Stack(newApp({ bundle: false }), 'Consumers');
  broker = new ZaikioTokenBroker(stack, 'Broker', {
    hub: 'https://hub.example.test',
    clients: [
      { name: 'printing', existingSecret: { secretName: 'zaikio/printing' } },
      { name: 'warehouse', existingSecret: { secretCompleteArn: SECRET_ARN } },
    ],
    defaultClient: 'warehouse',
  });
  consumer = new lambda.Function(stack, 'Consumer', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('export const handler = async () => {};'),
    timeout: Duration.seconds(10),
  });
  grant = broker.grantTokenAccess(consumer, {
    consumer: 'orders',
    organizations: [ORG],
    scopes: ['warehouse.items.r', 'zaikio.*'],
  });
  reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
  broker.grantTokenAccess(reader, { allBearers: true, scopes: ['*'], clients: ['printing', 'warehouse'] });
  template = Template.fromStack(stack);
  limited = statementsOfRole(template, stack.getLogicalId(consumer.role?.node.defaultChild as never));
  unlimited = statementsOfRole(template, stack.getLogicalId(reader.node.defaultChild as never));
});

const table = () => stack.resolve(broker.table.tableArn);
/** The grants as the mint function reads them (ZAIKIO_GRANTS). */
const mintGrants = (): Record<string, unknown> => {
  const mint =
    template.findResources('AWS::Lambda::Function')[
      stack.getLogicalId(broker.mintFunction.node.defaultChild as never)
    ];
  return JSON.parse(mint?.Properties.Environment.Variables.ZAIKIO_GRANTS as string);
};
const getItem = (attributes: readonly string[] | undefined, pk = `Org/${ORG}`): Request => ({
  action: 'dynamodb:GetItem',
  resource: table(),
  context: {
    'dynamodb:LeadingKeys': [pk],
    // DynamoDB sets Select on every read: SPECIFIC_ATTRIBUTES with a projection, else ALL_ATTRIBUTES.
    'dynamodb:Select': attributes === undefined ? 'ALL_ATTRIBUTES' : 'SPECIFIC_ATTRIBUTES',
    ...(attributes === undefined ? {} : { 'dynamodb:Attributes': attributes }),
  },
});

describe('grantTokenAccess', () => {
  it('returns a successful grant on the consumer', () => {
    expect(grant.success).toBe(true);
    expect(grant.principalStatements.length).toBeGreaterThan(0);
  });

  it('allows a GetItem projecting the readable attributes, the way the consumer client reads', () => {
    expect(evaluate(limited, getItem(READABLE_ATTRIBUTES))).toBe('allow');
    expect(evaluate(unlimited, getItem(READABLE_ATTRIBUTES))).toBe('allow');
    expect(evaluate(unlimited, getItem(READABLE_ATTRIBUTES, `Per/${OTHER_ORG}`))).toBe('allow');
  });

  it('never lets a consumer read the refresh token or the lease bookkeeping', () => {
    for (const statements of [limited, unlimited]) {
      expect(evaluate(statements, getItem([...READABLE_ATTRIBUTES, ATTR.refreshToken]))).toBe('deny');
      expect(evaluate(statements, getItem([ATTR.pk, ATTR.sk, ATTR.refreshToken]))).toBe('deny');
      expect(evaluate(statements, getItem([ATTR.pk, ATTR.leaseOwner]))).toBe('deny');
      // No projection means all attributes.
      expect(evaluate(statements, getItem(undefined))).toBe('deny');
      // The policy names every readable attribute and nothing else.
      const allowed = statements
        .flatMap((statement) => Object.values(statement.Condition ?? {}))
        .flatMap((keys) => (keys as Record<string, unknown>)['dynamodb:Attributes'] ?? []);
      expect([...(allowed as string[])].sort()).toEqual([...READABLE_ATTRIBUTES].sort());
      expect(allowed).not.toContain(ATTR.refreshToken);
    }
  });

  it('limits reads to the listed organizations', () => {
    expect(evaluate(limited, getItem(READABLE_ATTRIBUTES, `Org/${OTHER_ORG}`))).toBe('deny');
    expect(evaluate(limited, getItem(READABLE_ATTRIBUTES, `Per/${ORG}`))).toBe('deny');
  });

  it('allows no write, query, scan or batch read', () => {
    for (const statements of [limited, unlimited]) {
      for (const action of [
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:BatchWriteItem',
        'dynamodb:BatchGetItem',
        'dynamodb:Query',
        'dynamodb:Scan',
        'dynamodb:PartiQLSelect',
      ]) {
        const request = { ...getItem(READABLE_ATTRIBUTES), action };
        expect(evaluate(statements, request), action).toBe('deny');
      }
      const indexQuery = {
        ...getItem(READABLE_ATTRIBUTES),
        action: 'dynamodb:Query',
        resource: `${table()}/index/due`,
      };
      expect(evaluate(statements, indexQuery)).toBe('deny');
    }
  });

  it('allows invoking its own mint alias only: not the function unqualified, not another alias', () => {
    const mint = stack.resolve(broker.mintFunction.functionArn);
    const invoke = (resource: unknown): Request => ({
      action: 'lambda:InvokeFunction',
      resource,
      context: {},
    });
    const orders = stack.resolve(broker.consumerEnvironment('orders')[CONSUMER_ENV.mintFunctionName]);
    const readerName = Object.keys(mintGrants()).find((name) => name !== 'orders') as string;
    const readers = stack.resolve(broker.consumerEnvironment(readerName)[CONSUMER_ENV.mintFunctionName]);
    expect(orders).not.toEqual(readers);
    expect(evaluate(limited, invoke(orders))).toBe('allow');
    expect(evaluate(limited, invoke(readers))).toBe('deny');
    expect(evaluate(unlimited, invoke(readers))).toBe('allow');
    expect(evaluate(unlimited, invoke(orders))).toBe('deny');
    for (const statements of [limited, unlimited]) {
      expect(evaluate(statements, invoke(mint))).toBe('deny');
      // A version or $LATEST is a qualifier of its own, which no grant names.
      expect(evaluate(statements, invoke({ 'Fn::Join': ['', [mint, ':$LATEST']] }))).toBe('deny');
      for (const fn of [broker.sweepFunction, broker.refreshFunction]) {
        const other = stack.resolve(fn.functionArn);
        expect(evaluate(statements, { action: 'lambda:InvokeFunction', resource: other, context: {} })).toBe(
          'deny',
        );
      }
      expect(evaluate(statements, { action: 'lambda:UpdateFunctionCode', resource: mint, context: {} })).toBe(
        'deny',
      );
    }
  });

  it('gives no access to the app credentials', () => {
    for (const statements of [limited, unlimited]) {
      for (const { secret } of broker.clientSecrets) {
        const request = {
          action: 'secretsmanager:GetSecretValue',
          resource: stack.resolve(secret.secretArn),
          context: {},
        };
        expect(evaluate(statements, request)).toBe('deny');
      }
      expect(
        statements
          .flatMap(actionsOf)
          .filter((action) => !/^(dynamodb:GetItem|lambda:InvokeFunction)$/.test(action)),
      ).toEqual(
        // The inline consumer's own log permissions come from its managed policy, not from the grant.
        [],
      );
    }
  });

  it('passes a consumer function the table, its mint alias, the default app and the use interval', () => {
    const fn =
      template.findResources('AWS::Lambda::Function')[
        stack.getLogicalId(consumer.node.defaultChild as never)
      ];
    const aliases = template.findResources('AWS::Lambda::Alias', { Properties: { Name: 'orders' } });
    expect(Object.keys(aliases)).toHaveLength(1);
    expect(fn?.Properties.Environment.Variables).toEqual({
      [CONSUMER_ENV.tableName]: stack.resolve(broker.table.tableName),
      [CONSUMER_ENV.mintFunctionName]: { Ref: Object.keys(aliases)[0] },
      [CONSUMER_ENV.defaultClient]: 'warehouse',
    });
  });

  it('gives the mint function every grant: bearers, scope patterns, apps', () => {
    expect(mintGrants().orders).toEqual({
      bearers: [`Org/${ORG}`],
      scopes: ['warehouse.items.r', 'zaikio.*'],
      clients: ['warehouse'],
    });
    expect(Object.values(mintGrants())).toContainEqual({
      bearers: '*',
      scopes: ['*'],
      clients: ['printing', 'warehouse'],
    });
  });

  it('points every alias at the current version, which a change of code or grants replaces', () => {
    const versions = template.findResources('AWS::Lambda::Version');
    expect(Object.keys(versions)).toHaveLength(1);
    const [versionId] = Object.keys(versions);
    for (const alias of Object.values(template.findResources('AWS::Lambda::Alias'))) {
      expect(alias.Properties.FunctionVersion).toEqual({ 'Fn::GetAtt': [versionId, 'Version'] });
    }
    // The version's logical ID carries a hash of the function's configuration, grants included.
    const other = new Stack(newApp({ bundle: false }), 'Consumers');
    const otherBroker = new ZaikioTokenBroker(other, 'Broker', {
      hub: 'https://hub.example.test',
      clients: [
        { name: 'printing', existingSecret: { secretName: 'zaikio/printing' } },
        { name: 'warehouse', existingSecret: { secretCompleteArn: SECRET_ARN } },
      ],
      defaultClient: 'warehouse',
    });
    otherBroker.addConsumer('orders', { organizations: [OTHER_ORG], scopes: ['warehouse.items.r'] });
    const otherVersions = Object.keys(Template.fromStack(other).findResources('AWS::Lambda::Version'));
    expect(otherVersions).toHaveLength(1);
    expect(otherVersions[0]).not.toBe(versionId);
  });

  it('needs explicit bearers and scopes: leaving them out never means everything', () => {
    const role = new iam.Role(stack, 'Rejected', { assumedBy: new iam.AccountRootPrincipal() });
    const grantTo = (options: object) => () => broker.grantTokenAccess(role, options as never);
    expect(grantTo({ scopes: ['warehouse.*'] })).toThrow(/name the bearers .* allBearers: true/);
    expect(grantTo({ organizations: ['Org/x'], scopes: ['warehouse.*'] })).toThrow(/organization id/);
    expect(grantTo({ organizations: [], scopes: ['warehouse.*'] })).toThrow(/must not be empty/);
    expect(grantTo({ allBearers: true, organizations: [ORG], scopes: ['*'] })).toThrow(/leave out/);
    expect(grantTo({ organizations: [ORG] })).toThrow(/scopes must name at least one/);
    expect(grantTo({ organizations: [ORG], scopes: ['warehouse'] })).toThrow(/scope pattern "warehouse"/);
    expect(grantTo({ organizations: [ORG], scopes: ['*'], clients: ['other'] })).toThrow(
      /client "other" is not one of/,
    );
    expect(grantTo({ consumer: '1st', organizations: [ORG], scopes: ['*'] })).toThrow(/consumer name/);
    expect(grantTo({ consumer: 'orders', organizations: [ORG], scopes: ['*'] })).toThrow(/already declared/);
    expect(() => broker.grantTokenAccess(role, undefined as never)).toThrow(/needs the grant/);
  });

  it('refuses a grantee that cannot take an identity policy, such as another account', () => {
    expect(() =>
      broker.grantTokenAccess(new iam.AccountPrincipal('111122223333'), {
        consumer: 'elsewhere',
        allBearers: true,
        scopes: ['*'],
      }),
    ).toThrow(/needs a grantee with an identity policy/);
  });
});

describe('imported credentials', () => {
  it('are read by name or complete ARN and passed to the functions by that id', () => {
    const mint =
      template.findResources('AWS::Lambda::Function')[
        stack.getLogicalId(broker.mintFunction.node.defaultChild as never)
      ];
    const clients = JSON.parse(mint?.Properties.Environment.Variables.ZAIKIO_CLIENTS as string);
    expect(clients).toEqual({ printing: 'zaikio/printing', warehouse: SECRET_ARN });
    expect(mint?.Properties.Environment.Variables.ZAIKIO_DEFAULT_CLIENT).toBe('warehouse');
    expect(mint?.Properties.Environment.Variables.ZAIKIO_HUB).toBe('https://hub.example.test');
    // Imported secrets are not the construct's to restrict with a resource policy.
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.resourceCountIs('AWS::SecretsManager::ResourcePolicy', 0);
  });

  it('grant the writer roles read access to exactly these secrets', () => {
    const mintRole = stack.getLogicalId(broker.mintFunction.role?.node.defaultChild as never);
    const statements = statementsOfRole(template, mintRole);
    const secretResources = statements
      .filter((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue'))
      .flatMap((statement) => [statement.Resource].flat());
    expect(secretResources).toHaveLength(2);
    expect(JSON.stringify(secretResources)).toContain('secret:zaikio/printing-??????');
    expect(secretResources).toContain(SECRET_ARN);
  });
});

describe('example consumer', () => {
  it('is deployed only on request, granted like any consumer, with its own role and log group', () => {
    const app = newApp({ bundle: false });
    const withExample = new ZaikioTokenBrokerStack(app, 'Example', {
      config: readContext((key) => (key === 'exampleConsumer' ? 'true' : undefined)),
    });
    const without = new ZaikioTokenBrokerStack(app, 'Plain', { config: readContext(() => undefined) });
    expect(without.exampleConsumer).toBeUndefined();
    const { broker } = withExample;
    const example = withExample.exampleConsumer as lambda.Function;
    expect(example).toBeDefined();
    const template = Template.fromStack(withExample);
    const fn =
      template.findResources('AWS::Lambda::Function')[
        withExample.getLogicalId(example.node.defaultChild as never)
      ];
    expect(fn?.Properties.Runtime).toBe('nodejs24.x');
    expect(fn?.Properties.Architectures).toEqual(['arm64']);
    expect(Object.keys(fn?.Properties.Environment.Variables).sort()).toEqual(
      ['NODE_OPTIONS', ...Object.values(CONSUMER_ENV)].sort(),
    );
    const statements = statementsOfRole(
      template,
      withExample.getLogicalId(example.role?.node.defaultChild as never),
    );
    expect(statements.flatMap(actionsOf).sort()).toEqual([
      'dynamodb:GetItem',
      'lambda:InvokeFunction',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
    ]);
    expect(
      evaluate(statements, {
        ...getItem([ATTR.pk, ATTR.refreshToken]),
        resource: withExample.resolve(broker.table.tableArn),
      }),
    ).toBe('deny');
  });
});

describe('construct validation', () => {
  const build = (props: ConstructorParameters<typeof ZaikioTokenBroker>[2]) => () =>
    new ZaikioTokenBroker(new Stack(newApp({ bundle: false })), 'Broker', props);

  it('deletes the table, the created secrets and the logs with the stack only when told to', () => {
    const destroyed = new Stack(newApp({ bundle: false }), 'Throwaway');
    new ZaikioTokenBroker(destroyed, 'Broker', { removalPolicy: RemovalPolicy.DESTROY });
    const throwaway = Template.fromStack(destroyed);
    throwaway.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
    throwaway.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
    for (const logGroup of Object.values(throwaway.findResources('AWS::Logs::LogGroup'))) {
      expect(logGroup.DeletionPolicy).toBe('Delete');
    }
  });

  it('rejects a refresh window shorter than two sweep intervals', () => {
    expect(build({ sweepInterval: Duration.minutes(5) })).toThrow(/at least two sweep intervals/);
  });

  it('rejects a bad Hub, bad client names, duplicates, an unknown default and a partial ARN', () => {
    expect(build({ hub: 'https://user:pw@hub.example.test' })).toThrow(/must not contain credentials/);
    expect(build({ hub: 'ftp://hub' as never })).toThrow(/hub/);
    expect(build({ clients: [{ name: 'Printing' }] })).toThrow(/clients\[0\].name "Printing"/);
    expect(build({ clients: [{ name: 'a' }, { name: 'a' }] })).toThrow(/configured twice/);
    expect(build({ clients: [] })).toThrow(/at least one/);
    expect(build({ defaultClient: 'other' })).toThrow(/defaultClient "other"/);
    expect(
      build({
        clients: [
          {
            name: 'a',
            existingSecret: { secretCompleteArn: 'arn:aws:secretsmanager:eu-central-1:1:secret:x' },
          },
        ],
      }),
    ).toThrow(/not a complete secret ARN/);
  });
});
