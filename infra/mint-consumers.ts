/**
 * The broker's consumers: one alias of the mint function per consumer, and the grants the mint
 * enforces (functions/core/access.ts), in the mint's environment. docs/deploy.md ("Security")
 * explains why an alias is the caller's identity.
 */
import { Duration, Lazy, Names, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, type IConstruct } from 'constructs';
import { type AccessPolicy, encodeGrants, isConsumerName } from '../functions/core/access.js';
import { ENV } from '../functions/core/env.js';
import { type GrantOptions, grantPolicy } from '../functions/core/grant-policy.js';

/**
 * What the grants may take of the mint's environment. Lambda allows 4 KB for all its variables; the
 * others take about 1 KB with one app (table name, secret ARNs, settings, service name).
 */
export const GRANTS_ENVIRONMENT_BUDGET_BYTES = 2_500;

/** A consumer the broker's stack declared: the alias it invokes and what the mint lets it have. */
export interface BrokerConsumer {
  /** The consumer's name: the alias name, and the `consumer` of the mint's audit log lines. */
  readonly name: string;
  /** The alias ARN the consumer invokes (its MINT_FUNCTION_NAME) and is allowed to invoke. */
  readonly aliasArn: string;
  readonly alias: lambda.IAlias;
  readonly policy: AccessPolicy;
}

export interface MintConsumersProps {
  readonly mintFunction: lambda.Function;
  /** The broker's apps, which a grant's `clients` must be among. */
  readonly clients: readonly string[];
  readonly defaultClient: string;
}

export class MintConsumers extends Construct {
  readonly #props: MintConsumersProps;
  readonly #consumers = new Map<string, BrokerConsumer>();

  constructor(scope: Construct, id: string, props: MintConsumersProps) {
    super(scope, id);
    this.#props = props;
    // Lazy: grants are added after the function exists, also from other stacks of the app. A change
    // changes the function's configuration, so `currentVersion` publishes a new version and every
    // alias moves to it, as it does for new code.
    props.mintFunction.addEnvironment(ENV.grants, Lazy.string({ produce: () => encodeGrants(this.grants) }));
    this.node.addValidation({ validate: () => this.#problems() });
  }

  /** Consumer name → policy, as the mint reads it. */
  get grants(): Record<string, AccessPolicy> {
    return Object.fromEntries([...this.#consumers].map(([name, consumer]) => [name, consumer.policy]));
  }

  get(name: string): BrokerConsumer | undefined {
    return this.#consumers.get(name);
  }

  add(name: string, options: GrantOptions): BrokerConsumer {
    const where = `ZaikioTokenBroker: consumer "${name}"`;
    if (!isConsumerName(name)) {
      throw new Error(
        `ZaikioTokenBroker: consumer name ${JSON.stringify(name)} must start with a letter and hold only ` +
          'letters, digits, "-" and "_" (at most 64): it is the mint alias',
      );
    }
    if (this.#consumers.has(name)) {
      throw new Error(`${where} is declared twice; grant it once with its whole policy`);
    }
    const policy = grantPolicy(options, this.#props.defaultClient, where);
    for (const client of policy.clients) {
      if (!this.#props.clients.includes(client)) {
        throw new Error(`${where}: client "${client}" is not one of the broker's clients`);
      }
    }
    const alias = new lambda.Alias(this, name, {
      aliasName: name,
      version: this.#props.mintFunction.currentVersion,
      description: `Zaikio token broker: the mint function as consumer ${name}`,
      // Asynchronous invocations are the consumer's use reports: one that failed, or waited past the
      // token's refresh time, is worth nothing, and a retry would only add load when Lambda is busy.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(2),
    });
    const consumer: BrokerConsumer = { name, aliasArn: alias.functionArn, alias, policy };
    this.#consumers.set(name, consumer);
    return consumer;
  }

  #problems(): string[] {
    const grants = encodeGrants(this.grants);
    const bytes = Buffer.byteLength(ENV.grants) + Buffer.byteLength(grants);
    if (Token.isUnresolved(grants) || bytes <= GRANTS_ENVIRONMENT_BUDGET_BYTES) return [];
    return [
      `the grants of ${this.#consumers.size} consumers take ${bytes} bytes of the mint function's environment, ` +
        `more than the ${GRANTS_ENVIRONMENT_BUDGET_BYTES} it can spare (Lambda allows 4 KB in all): merge ` +
        'consumers that share a policy, or grant allBearers with scope patterns instead of long id lists',
    ];
  }
}

/**
 * A consumer name for a grant that names none: the grantee's construct path (letters, digits and
 * "-", with a hash that makes it unique), readable in the mint's audit log and short enough for an alias.
 */
export function consumerNameFor(grantee: unknown): string | undefined {
  if (!Construct.isConstruct(grantee)) return undefined;
  const name = Names.uniqueResourceName(grantee as IConstruct, { maxLength: 64, separator: '-' });
  return /^[A-Za-z]/.test(name) ? name : `c-${name}`.slice(0, 64);
}
