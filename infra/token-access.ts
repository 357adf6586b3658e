/**
 * What a consumer needs of a broker, whether it was built in this app or deployed by another:
 * `IZaikioTokenBroker`, its grant, and the broker imported from its stack's outputs. A grant is a
 * consumer of the broker: an alias of the mint function that only it may invoke, and the policy the
 * mint enforces for that alias (infra/mint-consumers.ts, functions/core/access.ts).
 */
import { Annotations, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, type IConstruct } from 'constructs';
import { ALL_BEARERS, isConsumerName } from '../functions/core/access.js';
import { assertClientName } from '../functions/core/config.js';
import { CONSUMER_ENV } from '../functions/core/env.js';
import { type GrantOptions, grantedBearers } from '../functions/core/grant-policy.js';
import { READABLE_ATTRIBUTES } from '../functions/core/store/schema.js';

export type { GrantOptions } from '../functions/core/grant-policy.js';

/**
 * A grant: the bearers (`organizations`, `persons`, or `allBearers: true`; reads are limited to the
 * same bearers with `dynamodb:LeadingKeys`), the scope patterns and the apps the consumer may ask
 * the mint function for, and its ceiling on new keys.
 */
export interface TokenAccessOptions extends GrantOptions {
  /**
   * The consumer's name: the mint alias it invokes and the name in the mint's audit log. On a broker
   * this app builds: a new consumer with this grant's policy, or one declared with `addConsumer` (then
   * give only its name: its declared policy is the whole grant). On an imported broker: required, a
   * consumer the broker's stack declared with `addConsumer`; give the same bearers, which limit the
   * reads here (this app's own IAM: the broker's stack cannot check them, its mint still does).
   * @default a new consumer named after the grantee's construct path
   */
  readonly consumer?: string;
}

/** What a grant resolves to: the alias ARN to invoke and the bearers whose items may be read. */
export interface ResolvedConsumer {
  readonly name: string;
  readonly aliasArn: string;
  readonly bearers: typeof ALL_BEARERS | readonly string[];
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
   * The environment the consumer client reads (TOKENS_TABLE_NAME, MINT_FUNCTION_NAME: the consumer's
   * alias ARN, …). The grant sets it on a Lambda function; give it yourself to any other grantee.
   */
  consumerEnvironment(consumer: string): Readonly<Record<string, string>>;
  /**
   * Lets `grantee` read tokens and ask for new ones as a consumer: GetItem of the readable attributes
   * only (never the refresh token) of the granted bearers' tokens, and Invoke on the consumer's mint
   * alias only, where the mint function enforces the grant's bearers, scopes and apps (and records
   * the consumer's use of a token, which keeps it refreshed). Nothing else: no write, no Query or
   * Scan, no secret, no other alias. On a Lambda function it also sets
   * `consumerEnvironment`; on any other grantee it adds a warning saying to pass it yourself.
   */
  grantTokenAccess(grantee: iam.IGrantable, options: TokenAccessOptions): iam.Grant;
}

/** What `ZaikioTokenBroker.fromBrokerAttributes` needs: the broker stack's `BrokerAttributes` output. */
export interface ZaikioTokenBrokerAttributes {
  /** The tokens table's ARN (output `TableArn`). */
  readonly tableArn: string;
  /** The mint function's ARN, unqualified (output `MintFunctionArn`); consumers invoke `<arn>:<consumer>`. */
  readonly mintFunctionArn: string;
  /**
   * The app a request without `client` gets.
   * @default 'default'
   */
  readonly defaultClient?: string;
  /**
   * @deprecated Ignored: consumers now report use once per token (docs/consumers.md, rule 4).
   * Accepted so that attributes a broker of an earlier version put out still import.
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
  /** The consumer a grant names or declares, checked. */
  protected abstract resolveConsumer(grantee: iam.IGrantable, options: TokenAccessOptions): ResolvedConsumer;
  /** The alias ARN of a consumer. */
  protected abstract aliasArnOf(consumer: string): string;

  consumerEnvironment(consumer: string): Readonly<Record<string, string>> {
    return {
      [CONSUMER_ENV.tableName]: this.table.tableName,
      // The alias names the caller: the mint refuses an unqualified invocation.
      [CONSUMER_ENV.mintFunctionName]: this.aliasArnOf(consumer),
      [CONSUMER_ENV.defaultClient]: this.defaultClient,
    };
  }

  grantTokenAccess(grantee: iam.IGrantable, options: TokenAccessOptions): iam.Grant {
    if (typeof options !== 'object' || options === null) {
      throw new Error(
        'ZaikioTokenBroker: grantTokenAccess needs the grant: its bearers (organizations, persons or ' +
          'allBearers: true) and scopes',
      );
    }
    const consumer = this.resolveConsumer(grantee, options);
    const leadingKeys = consumer.bearers === ALL_BEARERS ? undefined : [...consumer.bearers];
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
    // The alias only: neither the unqualified function, nor a version, nor another consumer's alias.
    const invoke = iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [consumer.aliasArn],
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
    this.#setEnvironment(grantee, consumer.name);
    return grant;
  }

  #setEnvironment(grantee: iam.IGrantable, consumer: string): void {
    const environment = this.consumerEnvironment(consumer);
    if (hasEnvironment(grantee)) {
      for (const [name, value] of Object.entries(environment)) grantee.addEnvironment(name, value);
      return;
    }
    const where: IConstruct = Construct.isConstruct(grantee) ? grantee : this;
    Annotations.of(where).addWarningV2(
      'zaikio-token-broker:consumerEnvironment',
      'grantTokenAccess could not set the consumer environment on this grantee (not a Lambda function): ' +
        `pass broker.consumerEnvironment ("${consumer}") (${Object.keys(environment).join(', ')}) to it yourself`,
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
    this.defaultClient = defaultClient;
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

  /**
   * The broker's stack declared the consumer (`addConsumer`) and holds its policy, which the mint
   * enforces; this app names it and limits its reads to the bearers given here.
   */
  protected resolveConsumer(_grantee: iam.IGrantable, options: TokenAccessOptions): ResolvedConsumer {
    const where = 'ZaikioTokenBroker: grantTokenAccess on an imported broker';
    const { consumer, scopes, clients, newKeysPerHour } = options;
    if (consumer === undefined || !isConsumerName(consumer)) {
      throw new Error(
        `${where} needs consumer: the name of a consumer the broker's stack declared with addConsumer`,
      );
    }
    if (scopes !== undefined || clients !== undefined || newKeysPerHour !== undefined) {
      throw new Error(
        `${where}: scopes, clients and newKeysPerHour belong to the broker's stack (addConsumer("${consumer}", …)), ` +
          'which the mint function enforces; give only the bearers here',
      );
    }
    return { name: consumer, aliasArn: this.aliasArnOf(consumer), bearers: grantedBearers(options, where) };
  }

  protected aliasArnOf(consumer: string): string {
    return `${this.mintFunction.functionArn}:${consumer}`;
  }
}
