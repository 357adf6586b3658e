/**
 * What a consumer needs of a broker, whether it was built in this app or deployed by another:
 * `IZaikioTokenBroker`, its grant, and the broker imported from its stack's outputs.
 */
import { Annotations, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, type IConstruct } from 'constructs';
import { assertClientName } from '../functions/core/config.js';
import { CONSUMER_ENV } from '../functions/core/env.js';
import { assertBearerId, bearerKey } from '../functions/core/scopes.js';
import { DEFAULT_SETTINGS } from '../functions/core/settings.js';
import { READABLE_ATTRIBUTES } from '../functions/core/store/schema.js';

export interface TokenAccessOptions {
  /**
   * Limit reads to the tokens of these organizations (Zaikio organization ids) with
   * `dynamodb:LeadingKeys`. The mint function is not limited this way: see docs/deploy.md.
   * @default tokens of every bearer
   */
  readonly organizations?: readonly string[];
}

/** A token broker a consumer can be granted access to: one this app builds, or one imported. */
export interface IZaikioTokenBroker extends IConstruct {
  /** The tokens table. */
  readonly table: dynamodb.ITable;
  /** The get-or-mint function consumers invoke. */
  readonly mintFunction: lambda.IFunction;
  /** The app a request without `client` gets. */
  readonly defaultClient: string;
  /**
   * The environment the consumer client reads (TOKENS_TABLE_NAME, MINT_FUNCTION_NAME, …). The grant
   * sets it on a Lambda function; give it yourself to any other grantee.
   */
  readonly consumerEnvironment: Readonly<Record<string, string>>;
  /**
   * Lets `grantee` read tokens and ask for new ones: GetItem of the readable attributes only (never
   * the refresh token), optionally only for some organizations, and Invoke on the mint function.
   * Nothing else: no write, no Query or Scan, no secret. On a Lambda function it also sets
   * `consumerEnvironment`; on any other grantee it adds a warning saying to pass it yourself.
   */
  grantTokenAccess(grantee: iam.IGrantable, options?: TokenAccessOptions): iam.Grant;
}

/** What `ZaikioTokenBroker.fromBrokerAttributes` needs: the broker stack's `BrokerAttributes` output. */
export interface ZaikioTokenBrokerAttributes {
  /** The tokens table's ARN (output `TableArn`). */
  readonly tableArn: string;
  /** The mint function's ARN, unqualified (output `MintFunctionArn`). */
  readonly mintFunctionArn: string;
  /**
   * The app a request without `client` gets.
   * @default 'default'
   */
  readonly defaultClient?: string;
  /**
   * The broker's `usageRecordIntervalMs` setting, so consumers report use as often as it expects.
   * @default the broker's default (1 hour)
   */
  readonly usageRecordIntervalMs?: number;
  /**
   * The table's customer managed KMS key, when the broker was given one (`tableEncryptionKey`).
   * @default the AWS managed key, which needs no grant
   */
  readonly tableEncryptionKeyArn?: string;
}

/** The one implementation of the grant, shared by the construct and the imported broker. */
export abstract class TokenBrokerBase extends Construct implements IZaikioTokenBroker {
  abstract readonly table: dynamodb.ITable;
  abstract readonly mintFunction: lambda.IFunction;
  abstract readonly defaultClient: string;
  protected abstract readonly usageRecordIntervalMs: number;

  get consumerEnvironment(): Readonly<Record<string, string>> {
    return {
      [CONSUMER_ENV.tableName]: this.table.tableName,
      [CONSUMER_ENV.mintFunctionName]: this.mintFunction.functionName,
      [CONSUMER_ENV.defaultClient]: this.defaultClient,
      [CONSUMER_ENV.usageRecordIntervalMs]: String(this.usageRecordIntervalMs),
    };
  }

  grantTokenAccess(grantee: iam.IGrantable, options: TokenAccessOptions = {}): iam.Grant {
    const leadingKeys = options.organizations?.map((id) => {
      assertBearerId(id, 'organization id');
      return bearerKey({ type: 'Organization', id });
    });
    if (leadingKeys?.length === 0) {
      throw new Error(
        'ZaikioTokenBroker: grantTokenAccess: organizations must not be empty; omit it for all',
      );
    }
    const read = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem'],
      resourceArns: [this.table.tableArn],
      conditions: {
        'ForAllValues:StringEquals': {
          'dynamodb:Attributes': [...READABLE_ATTRIBUTES],
          ...(leadingKeys === undefined ? {} : { 'dynamodb:LeadingKeys': leadingKeys }),
        },
        // GetItem always carries Select: ALL_ATTRIBUTES unless a ProjectionExpression is given.
        StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
      },
    });
    const invoke = iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.mintFunction.functionArn],
    });
    if (!read.success || !invoke.success) {
      throw new Error(
        'ZaikioTokenBroker: grantTokenAccess needs a grantee with an identity policy (a role, user or function)',
      );
    }
    // A customer managed table key: DynamoDB decrypts on the reader's behalf, so the reader needs it.
    const key = this.table.encryptionKey;
    const grant =
      key === undefined ? read.combine(invoke) : read.combine(invoke).combine(key.grantDecrypt(grantee));
    this.#setEnvironment(grantee);
    return grant;
  }

  #setEnvironment(grantee: iam.IGrantable): void {
    if (hasEnvironment(grantee)) {
      for (const [name, value] of Object.entries(this.consumerEnvironment))
        grantee.addEnvironment(name, value);
      return;
    }
    const where: IConstruct = Construct.isConstruct(grantee) ? grantee : this;
    Annotations.of(where).addWarningV2(
      'zaikio-token-broker:consumerEnvironment',
      'grantTokenAccess could not set the consumer environment on this grantee (not a Lambda function): ' +
        `pass broker.consumerEnvironment (${Object.keys(this.consumerEnvironment).join(', ')}) to it yourself`,
    );
  }
}

/** lambda.Function and its kin; an imported function or a role has no environment to set. */
function hasEnvironment(
  grantee: iam.IGrantable,
): grantee is iam.IGrantable & { addEnvironment(name: string, value: string): unknown } {
  return typeof (grantee as { addEnvironment?: unknown }).addEnvironment === 'function';
}

const TABLE_ARN = /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[A-Za-z0-9_.-]{3,255}$/;
const FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}$/;

function checkArn(value: string, pattern: RegExp, what: string): void {
  if (!Token.isUnresolved(value) && !pattern.test(value)) {
    throw new Error(`ZaikioTokenBroker.fromBrokerAttributes: ${what} "${value}" is not valid`);
  }
}

/** A broker deployed by another stack or app, known by its outputs. */
export class ImportedZaikioTokenBroker extends TokenBrokerBase {
  readonly table: dynamodb.ITable;
  readonly mintFunction: lambda.IFunction;
  readonly defaultClient: string;
  protected readonly usageRecordIntervalMs: number;

  constructor(scope: Construct, id: string, attrs: ZaikioTokenBrokerAttributes) {
    super(scope, id);
    checkArn(attrs.tableArn, TABLE_ARN, 'tableArn');
    checkArn(attrs.mintFunctionArn, FUNCTION_ARN, 'mintFunctionArn (unqualified function ARN)');
    const defaultClient = attrs.defaultClient ?? 'default';
    try {
      assertClientName(defaultClient);
    } catch (error) {
      throw new Error(`ZaikioTokenBroker.fromBrokerAttributes: defaultClient: ${(error as Error).message}`);
    }
    const interval = attrs.usageRecordIntervalMs ?? DEFAULT_SETTINGS.usageRecordIntervalMs;
    if (!Number.isSafeInteger(interval) || interval < 0) {
      throw new Error(
        'ZaikioTokenBroker.fromBrokerAttributes: usageRecordIntervalMs must be whole milliseconds',
      );
    }
    this.defaultClient = defaultClient;
    this.usageRecordIntervalMs = interval;
    this.table = dynamodb.Table.fromTableAttributes(this, 'Tokens', {
      tableArn: attrs.tableArn,
      ...(attrs.tableEncryptionKeyArn === undefined
        ? {}
        : { encryptionKey: kms.Key.fromKeyArn(this, 'TableKey', attrs.tableEncryptionKeyArn) }),
    });
    this.mintFunction = lambda.Function.fromFunctionAttributes(this, 'Mint', {
      functionArn: attrs.mintFunctionArn,
      // Only add to the consumer's own policy; never try to edit the other app's function.
      skipPermissions: true,
    });
  }
}
