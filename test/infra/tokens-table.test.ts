/**
 * TokensTable on its own, in a plain stack: keys, the sparse due index, TTL, encryption, removal,
 * the resource policy that keeps writes and refresh tokens to the broker's roles, and its two grants.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { ATTR, TABLE } from '../../functions/core/store/schema.js';
import { TokensTable } from '../../infra/tokens-table.js';
import {
  actionsOf,
  evaluate,
  newApp,
  type PolicyStatement,
  type Request,
  statementsOfRole,
} from './support.js';

interface Synthesized {
  readonly stack: Stack;
  readonly table: TokensTable;
  readonly roles: { readonly writer: iam.Role; readonly sweeper: iam.Role; readonly other: iam.Role };
  readonly key?: kms.Key;
  readonly template: Template;
}

function synth(
  options: { readonly removalPolicy?: RemovalPolicy; readonly customerManagedKey?: boolean } = {},
): Synthesized {
  const stack = new Stack(newApp({ bundle: false }), 'Table');
  const role = (id: string) =>
    new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const roles = { writer: role('Writer'), sweeper: role('Sweeper'), other: role('Other') };
  const key = options.customerManagedKey ? new kms.Key(stack, 'Key', { enableKeyRotation: true }) : undefined;
  const table = new TokensTable(stack, 'Tokens', {
    writers: [roles.writer],
    brokerRoles: [roles.writer, roles.sweeper],
    removalPolicy: options.removalPolicy ?? RemovalPolicy.RETAIN,
    ...(key === undefined ? {} : { encryptionKey: key }),
  });
  table.grantTokenWrites(roles.writer);
  table.grantDueIndexQuery(roles.sweeper);
  return { stack, table, roles, ...(key === undefined ? {} : { key }), template: Template.fromStack(stack) };
}

const logicalId = (stack: Stack, construct: IConstruct): string =>
  stack.getLogicalId(construct.node.defaultChild as never);

const request = (action: string, resource: unknown) => ({ action, resource, context: {} });

describe('TokensTable', () => {
  it('is on-demand, with point-in-time recovery, TTL, the AWS managed key and the sparse due index', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      SSESpecification: { SSEEnabled: true, KMSMasterKeyId: Match.absent() },
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: TABLE.dueIndex.name,
          KeySchema: [
            { AttributeName: TABLE.dueIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE.dueIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        }),
      ],
      TableName: Match.absent(),
    });
  });

  it('is retained and protected from deletion with RETAIN, and neither with DESTROY', () => {
    synth().template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
    synth({ removalPolicy: RemovalPolicy.DESTROY }).template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
  });

  it('denies writes to all but the writers, and refresh tokens and unnamed attributes to all but the broker', () => {
    const { stack, roles, template } = synth();
    const arn = (role: iam.Role) => ({ 'Fn::GetAtt': [logicalId(stack, role), 'Arn'] });
    const [table] = Object.values(template.findResources('AWS::DynamoDB::Table'));
    const statements = table?.Properties.ResourcePolicy.PolicyDocument.Statement as Array<{
      Sid: string;
      Effect: string;
      Principal: unknown;
      Action: string[];
      Condition: Record<string, unknown>;
    }>;
    expect(statements.map(({ Sid }) => Sid)).toEqual([
      'OnlyTheBrokerWritesTokens',
      'OnlyTheBrokerReadsRefreshTokens',
      'OthersReadOnlyNamedAttributes',
      'OnlyTheBrokerChecksConditions',
    ]);
    for (const statement of statements) {
      expect(statement).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' } });
    }
    const [writes, refreshTokens, named, conditionChecks] = statements;
    expect(writes?.Action).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem']));
    expect(writes?.Condition).toEqual({ ArnNotEquals: { 'aws:PrincipalArn': [arn(roles.writer)] } });
    const brokerRoles = [arn(roles.writer), arn(roles.sweeper)];
    expect(refreshTokens?.Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': brokerRoles },
      'ForAnyValue:StringEquals': { 'dynamodb:Attributes': [ATTR.refreshToken] },
    });
    expect(named?.Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': brokerRoles },
      StringNotEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
    });
    // Its ReturnValuesOnConditionCheckFailure answer is the whole item, whatever the attributes.
    expect(conditionChecks?.Action).toBe('dynamodb:ConditionCheckItem');
    expect(conditionChecks?.Condition).toEqual({ ArnNotEquals: { 'aws:PrincipalArn': brokerRoles } });
  });

  it('leaves anyone but the broker no write and no unnamed or refresh-token read, whatever their identity policy allows', () => {
    const { stack, roles, template } = synth();
    const [table] = Object.values(template.findResources('AWS::DynamoDB::Table'));
    const statements = table?.Properties.ResourcePolicy.PolicyDocument.Statement as PolicyStatement[];
    const allowAll: PolicyStatement = { Effect: 'Allow', Action: '*', Resource: '*' };
    const as = (principal: unknown, action: string): Request => ({
      action,
      resource: '*',
      context: {
        'aws:PrincipalArn': JSON.stringify(principal),
        'dynamodb:Attributes': [ATTR.pk, ATTR.sk, ATTR.lastRequestedAt],
      },
    });
    const writer = { 'Fn::GetAtt': [logicalId(stack, roles.writer), 'Arn'] };
    const administrator = 'arn:aws:iam::111122223333:role/administrator';
    for (const action of ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem']) {
      expect(evaluate([...statements, allowAll], as(administrator, action))).toBe('deny');
      expect(evaluate([...statements, allowAll], as(writer, action))).toBe('allow');
    }
    // Reads: named attributes only, and never the refresh token, for anyone but the broker.
    const read = (principal: unknown, select: string, attributes: readonly string[]): Request => ({
      action: 'dynamodb:GetItem',
      resource: '*',
      context: {
        'aws:PrincipalArn': JSON.stringify(principal),
        'dynamodb:Select': select,
        'dynamodb:Attributes': attributes,
      },
    });
    const named = [ATTR.pk, ATTR.sk, ATTR.accessToken];
    expect(evaluate([...statements, allowAll], read(administrator, 'SPECIFIC_ATTRIBUTES', named))).toBe(
      'allow',
    );
    expect(evaluate([...statements, allowAll], read(administrator, 'ALL_ATTRIBUTES', named))).toBe('deny');
    expect(
      evaluate([...statements, allowAll], read(administrator, 'SPECIFIC_ATTRIBUTES', [ATTR.refreshToken])),
    ).toBe('deny');
    expect(evaluate([...statements, allowAll], read(writer, 'ALL_ATTRIBUTES', named))).toBe('allow');
  });

  it('grants a writer GetItem and UpdateItem on the table, and the sweeper Query on the due index only', () => {
    const { stack, table, roles, template } = synth();
    const tableArn = { 'Fn::GetAtt': [logicalId(stack, table), 'Arn'] };
    const dueIndex = { 'Fn::Join': ['', [tableArn, `/index/${TABLE.dueIndex.name}`]] };
    const writer = statementsOfRole(template, logicalId(stack, roles.writer));
    expect(writer.flatMap(actionsOf).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    expect(evaluate(writer, request('dynamodb:UpdateItem', tableArn))).toBe('allow');
    expect(evaluate(writer, request('dynamodb:Query', dueIndex))).toBe('deny');
    const sweeper = statementsOfRole(template, logicalId(stack, roles.sweeper));
    expect(sweeper.flatMap(actionsOf)).toEqual(['dynamodb:Query']);
    expect(evaluate(sweeper, request('dynamodb:Query', dueIndex))).toBe('allow');
    expect(evaluate(sweeper, request('dynamodb:Query', tableArn))).toBe('deny');
    expect(statementsOfRole(template, logicalId(stack, roles.other))).toEqual([]);
  });

  it('with a customer managed key: encrypts with it, and grants its writer and reader actions without wildcards', () => {
    const { stack, roles, key, template } = synth({ customerManagedKey: true });
    const keyArn = { 'Fn::GetAtt': [logicalId(stack, key as kms.Key), 'Arn'] };
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
    });
    const kmsActions = (role: iam.Role) =>
      statementsOfRole(template, logicalId(stack, role))
        .flatMap(actionsOf)
        .filter((action) => action.startsWith('kms:'))
        .sort();
    expect(kmsActions(roles.writer)).toEqual([
      'kms:Decrypt',
      'kms:Encrypt',
      'kms:GenerateDataKey',
      'kms:ReEncryptFrom',
      'kms:ReEncryptTo',
    ]);
    expect(kmsActions(roles.sweeper)).toEqual(['kms:Decrypt']);
    const sweeper = statementsOfRole(template, logicalId(stack, roles.sweeper));
    expect(evaluate(sweeper, request('kms:Decrypt', keyArn))).toBe('allow');
    expect(evaluate(sweeper, request('kms:Encrypt', keyArn))).toBe('deny');
  });
});
