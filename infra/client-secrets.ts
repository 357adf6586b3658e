/**
 * The Zaikio app credentials: one Secrets Manager secret per app ("client"), imported or created.
 * The secret's value is JSON {"clientId": "...", "clientSecret": "..."} (functions/core/credentials.ts).
 */

import type { RemovalPolicy } from 'aws-cdk-lib';
import { Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { assertClientName } from '../functions/core/config.js';

/** A secret that already exists; the construct only reads it. */
export type ExistingSecret =
  /** By name, in the stack's account and region. */
  | { readonly secretName: string }
  /** By complete ARN (with the 6-character suffix Secrets Manager appends). */
  | { readonly secretCompleteArn: string }
  /** Imported by the caller, e.g. with `Secret.fromSecretAttributes` to name its customer managed key. */
  | { readonly secret: secretsmanager.ISecret };

export interface ZaikioClient {
  /** The app's name, as consumers pass it in `client` (lowercase letters, digits, "-" and "_"). */
  readonly name: string;
  /**
   * Where the app's credentials are.
   * @default a new secret, created with a random placeholder value that the operator replaces with
   * `aws secretsmanager put-secret-value` (docs/deploy.md); until then the broker answers `secret_malformed`.
   */
  readonly existingSecret?: ExistingSecret;
}

export interface ClientSecret {
  readonly client: string;
  readonly secret: secretsmanager.ISecret;
  /** What the functions pass to GetSecretValue: the name, or an ARN. */
  readonly secretId: string;
  /** True when this construct created (and so owns) the secret. */
  readonly created: boolean;
}

const COMPLETE_SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;

export class ClientSecrets extends Construct {
  readonly clients: readonly ClientSecret[];

  constructor(
    scope: Construct,
    id: string,
    props: { readonly clients: readonly ZaikioClient[]; readonly removalPolicy: RemovalPolicy },
  ) {
    super(scope, id);
    if (props.clients.length === 0)
      throw new Error('ZaikioTokenBroker: configure at least one Zaikio client');
    const seen = new Set<string>();
    this.clients = props.clients.map((client, index) => {
      try {
        assertClientName(client.name);
      } catch (error) {
        throw new Error(
          `ZaikioTokenBroker: clients[${index}].name "${client.name}": ${(error as Error).message}`,
        );
      }
      if (seen.has(client.name))
        throw new Error(`ZaikioTokenBroker: client "${client.name}" is configured twice`);
      seen.add(client.name);
      return this.#secretOf(client, props.removalPolicy);
    });
  }

  /**
   * Denies reading the created secrets' values to every principal but the given roles, whatever
   * their identity policies say. Imported secrets keep the resource policy their owner gave them.
   */
  restrictReadsTo(roles: readonly iam.IRole[]): void {
    for (const { secret, created } of this.clients) {
      if (!created) continue;
      secret.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'OnlyTheBrokerReadsTheCredentials',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['secretsmanager:GetSecretValue'],
          resources: ['*'],
          conditions: { ArnNotEquals: { 'aws:PrincipalArn': roles.map((role) => role.roleArn) } },
        }),
      );
    }
  }

  /**
   * GetSecretValue on every app's secret, and nothing else: the stock `grantRead` adds
   * DescribeSecret, which no broker code calls. A secret under a customer managed key also needs
   * that key, through Secrets Manager only (as `grantRead` grants it).
   */
  grantValueRead(role: iam.IRole): void {
    for (const { secret } of this.clients) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          // A secret known by name has an ARN whose last 6 characters only Secrets Manager knows.
          resources: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
        }),
      );
      secret.encryptionKey?.grantDecrypt(
        new kms.ViaServicePrincipal(`secretsmanager.${Stack.of(this).region}.amazonaws.com`, role),
      );
    }
  }

  #secretOf(client: ZaikioClient, removalPolicy: RemovalPolicy): ClientSecret {
    const existing = client.existingSecret;
    const id = `Client-${client.name}`;
    if (existing === undefined) {
      const secret = new secretsmanager.Secret(this, id, {
        description: `Zaikio OAuth credentials of app "${client.name}" for the token broker: {"clientId","clientSecret"}`,
        removalPolicy,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The value is an OAuth client secret issued by the Zaikio Hub, which offers no API to rotate it, so no ' +
          'rotation Lambda can exist. Operators rotate it in the Hub and store the new value with ' +
          'put-secret-value; the broker re-reads the secret once when the Hub answers invalid_client.',
      });
      return { client: client.name, secret, secretId: secret.secretArn, created: true };
    }
    if ('secretName' in existing) {
      const secret = secretsmanager.Secret.fromSecretNameV2(this, id, existing.secretName);
      return { client: client.name, secret, secretId: existing.secretName, created: false };
    }
    if ('secretCompleteArn' in existing) {
      const arn = existing.secretCompleteArn;
      if (!Token.isUnresolved(arn) && !COMPLETE_SECRET_ARN.test(arn)) {
        throw new Error(
          `ZaikioTokenBroker: client "${client.name}": "${arn}" is not a complete secret ARN ` +
            '(arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>); pass secretName instead',
        );
      }
      const secret = secretsmanager.Secret.fromSecretCompleteArn(this, id, arn);
      return { client: client.name, secret, secretId: arn, created: false };
    }
    return {
      client: client.name,
      secret: existing.secret,
      secretId: existing.secret.secretArn,
      created: false,
    };
  }
}
