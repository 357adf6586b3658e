/**
 * The deployable stack: one ZaikioTokenBroker configured from CDK context, and the outputs an
 * operator needs (docs/deploy.md).
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { StackContext } from './context.js';
import { ZaikioTokenBroker } from './zaikio-token-broker.js';

export interface ZaikioTokenBrokerStackProps extends StackProps {
  readonly config: StackContext;
}

export class ZaikioTokenBrokerStack extends Stack {
  readonly broker: ZaikioTokenBroker;

  constructor(scope: Construct, id: string, props: ZaikioTokenBrokerStackProps) {
    const { config, ...stackProps } = props;
    super(scope, id, {
      description: 'Zaikio token broker: mints, stores and refreshes Zaikio Hub access tokens',
      ...stackProps,
    });
    this.broker = new ZaikioTokenBroker(this, 'Broker', {
      ...config.broker,
      ...(config.alarmTopicArn === undefined
        ? {}
        : { alarmTopic: sns.Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn) }),
    });

    const { broker } = this;
    new CfnOutput(this, 'TableName', {
      value: broker.table.tableName,
      description: 'The tokens table (consumers: TOKENS_TABLE_NAME)',
    });
    new CfnOutput(this, 'MintFunctionName', {
      value: broker.mintFunction.functionName,
      description: 'The mint function (consumers: MINT_FUNCTION_NAME)',
    });
    new CfnOutput(this, 'MintFunctionArn', { value: broker.mintFunction.functionArn });
    new CfnOutput(this, 'ClientSecretArns', {
      value: this.toJsonString(
        Object.fromEntries(broker.clientSecrets.map(({ client, secret }) => [client, secret.secretArn])),
      ),
      description: 'App name -> ARN of the secret holding {"clientId","clientSecret"} (put-secret-value)',
    });
    new CfnOutput(this, 'DashboardName', { value: broker.observability.dashboard.dashboardName });
    if (broker.exampleConsumerFunction !== undefined) {
      new CfnOutput(this, 'ExampleConsumerFunctionName', {
        value: broker.exampleConsumerFunction.functionName,
        description: 'Invoke with {"organizationId": "<uuid>"}',
      });
    }
  }
}
