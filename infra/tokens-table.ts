/**
 * The tokens table: keys, the sparse due index, TTL, encryption, the resource policy that keeps
 * writes and refresh tokens to the broker's own roles (docs/deploy.md, "Security"), and the grants
 * of the broker's writers and sweeper.
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

/** The writers' use of a customer managed table key: grantEncryptDecrypt's actions, written out. */
const KEY_WRITER_ACTIONS = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
];

/**
 * The table is a `dynamodb.Table` with its id in the broker's scope, so its logical ID is the one a
 * deployed stack already has. Its grants name single actions, without the wildcards of the stock
 * `grantReadWriteData` (least privilege, docs/deploy.md).
 */
export class TokensTable extends dynamodb.Table {
  constructor(scope: Construct, id: string, props: TokensTableProps) {
    const { writers, brokerRoles, removalPolicy, encryptionKey } = props;
    super(scope, id, {
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
          // A broad identity policy (an administrator's) reads no refresh token through the data plane:
          // everyone but the broker's roles may read only named attributes, and never the refresh
          // token. The control plane remains (docs/deploy.md, "What an administrator can still do").
          denyAllBut('OnlyTheBrokerReadsRefreshTokens', READ_ACTIONS, brokerRoles, {
            'ForAnyValue:StringEquals': { 'dynamodb:Attributes': [ATTR.refreshToken] },
          }),
          denyAllBut('OthersReadOnlyNamedAttributes', READ_ACTIONS, brokerRoles, {
            StringNotEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
          }),
          // A failed ConditionCheckItem with ReturnValuesOnConditionCheckFailure returns the whole
          // item, refresh token included, and no condition key can limit its attributes; the broker
          // never calls it.
          denyAllBut('OnlyTheBrokerChecksConditions', ['dynamodb:ConditionCheckItem'], brokerRoles),
        ],
      }),
    });
    this.addGlobalSecondaryIndex({
      indexName: TABLE.dueIndex.name,
      partitionKey: { name: TABLE.dueIndex.partitionKey, type: dynamodb.AttributeType.NUMBER },
      sortKey: { name: TABLE.dueIndex.sortKey, type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
  }

  /**
   * What a token writer (mint, refresh) needs: GetItem and UpdateItem, and on a customer managed key
   * what grantEncryptDecrypt gives, without its wildcards (kms:ReEncrypt*, kms:GenerateDataKey*, which
   * also cover the asymmetric data key pairs a table key never uses). The role must also be one of
   * `writers`, or the resource policy denies the writes.
   */
  grantTokenWrites(role: iam.IRole): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadAndWriteTokens',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.tableArn],
      }),
    );
    this.encryptionKey?.grant(role, ...KEY_WRITER_ACTIONS);
  }

  /** What the sweeper needs: a Query of the sparse due index (keys only), nothing of the table itself. */
  grantDueIndexQuery(role: iam.IRole): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'FindDueTokens',
        actions: ['dynamodb:Query'],
        resources: [`${this.tableArn}/index/${TABLE.dueIndex.name}`],
      }),
    );
    this.encryptionKey?.grantDecrypt(role);
  }
}
