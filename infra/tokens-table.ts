/**
 * The tokens table: keys, the sparse due index, TTL, encryption, and the resource policy that keeps
 * writes and refresh tokens to the broker's own roles (docs/deploy.md, "Security").
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { ATTR, TABLE } from '../functions/core/store/schema.js';

/** Every way to read items; the table's resource policy limits them for everyone but the broker. */
const READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:PartiQLSelect',
];

const WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLInsert',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
];

/** A resource policy statement denying `actions` to every principal but `except`, when `condition` holds. */
function denyAllBut(
  sid: string,
  actions: readonly string[],
  except: readonly iam.IRole[],
  condition: Record<string, unknown> = {},
): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: [...actions],
    resources: ['*'],
    conditions: { ArnNotEquals: { 'aws:PrincipalArn': except.map((role) => role.roleArn) }, ...condition },
  });
}

export interface TokensTableProps {
  /** The roles that write tokens (mint, refresh). */
  readonly writers: readonly iam.IRole[];
  /** Every broker role: only these read refresh tokens or whole items. */
  readonly brokerRoles: readonly iam.IRole[];
  readonly removalPolicy: RemovalPolicy;
  /** A customer managed key; the AWS managed key aws/dynamodb otherwise. */
  readonly encryptionKey?: kms.IKey;
}

export function createTokensTable(scope: Construct, id: string, props: TokensTableProps): dynamodb.Table {
  const { writers, brokerRoles, removalPolicy, encryptionKey } = props;
  const table = new dynamodb.Table(scope, id, {
    partitionKey: { name: TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: TABLE.sortKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    // By default the AWS managed key aws/dynamodb: its use is logged in CloudTrail, and consumers need
    // no KMS grant. A customer managed key, when given, is granted to every reader by the grants.
    ...(encryptionKey === undefined
      ? { encryption: dynamodb.TableEncryption.AWS_MANAGED }
      : { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey }),
    timeToLiveAttribute: TABLE.ttlAttribute,
    removalPolicy,
    deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    resourcePolicy: new iam.PolicyDocument({
      statements: [
        denyAllBut('OnlyTheBrokerWritesTokens', WRITE_ACTIONS, writers),
        // Even an account administrator's broad policy cannot read refresh tokens: everyone but the
        // broker's roles may read only named attributes, and never the refresh token.
        denyAllBut('OnlyTheBrokerReadsRefreshTokens', READ_ACTIONS, brokerRoles, {
          'ForAnyValue:StringEquals': { 'dynamodb:Attributes': [ATTR.refreshToken] },
        }),
        denyAllBut('OthersReadOnlyNamedAttributes', READ_ACTIONS, brokerRoles, {
          StringNotEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        }),
      ],
    }),
  });
  table.addGlobalSecondaryIndex({
    indexName: TABLE.dueIndex.name,
    partitionKey: { name: TABLE.dueIndex.partitionKey, type: dynamodb.AttributeType.NUMBER },
    sortKey: { name: TABLE.dueIndex.sortKey, type: dynamodb.AttributeType.NUMBER },
    projectionType: dynamodb.ProjectionType.KEYS_ONLY,
  });
  return table;
}
