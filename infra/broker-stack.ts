/**
 * The repository's deployable stack: one ZaikioTokenBroker configured from CDK context, the outputs
 * an operator and other apps need (docs/deploy.md), and, on request, the example consumer, wired as
 * any user wires their own functions.
 */
import path from 'node:path';
import { CfnOutput, Duration, type RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { StackContext } from './context.js';
import { ZaikioTokenBroker } from './zaikio-token-broker.js';

export interface ZaikioTokenBrokerStackProps extends StackProps {
  readonly config: StackContext;
}

const ROOT = path.resolve(import.meta.dirname, '..');

export class ZaikioTokenBrokerStack extends Stack {
  readonly broker: ZaikioTokenBroker;
  /** The example consumer, when the context asks for it (`exampleConsumer=true`). */
  readonly exampleConsumer?: nodejs.NodejsFunction;

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
      description:
        'The mint function; a consumer invokes its alias <name>:<consumer> (its MINT_FUNCTION_NAME)',
    });
    new CfnOutput(this, 'MintFunctionArn', { value: broker.mintFunction.functionArn });
    new CfnOutput(this, 'BrokerAttributes', {
      value: this.toJsonString(broker.attributes),
      description: 'JSON for ZaikioTokenBroker.fromBrokerAttributes in another stack or app',
    });
    new CfnOutput(this, 'ClientSecretArns', {
      value: this.toJsonString(
        Object.fromEntries(broker.clientSecrets.map(({ client, secret }) => [client, secret.secretArn])),
      ),
      description: 'App name -> ARN of the secret holding {"clientId","clientSecret"} (put-secret-value)',
    });
    new CfnOutput(this, 'DashboardName', { value: broker.observability.dashboard.dashboardName });

    if (config.exampleConsumer) {
      this.exampleConsumer = this.#exampleConsumer(config.broker.removalPolicy);
      new CfnOutput(this, 'ExampleConsumerFunctionName', {
        value: this.exampleConsumer.functionName,
        description: 'Invoke with {"organizationId": "<uuid>"}',
      });
    }
  }

  /**
   * examples/consumer.ts, bundled at synth time by the esbuild in node_modules (never Docker), as a
   * user's own function would be, and granted like one.
   */
  #exampleConsumer(removalPolicy: RemovalPolicy | undefined): nodejs.NodejsFunction {
    // Its own role, without AWSLambdaBasicExecutionRole: it may write only to its own log group.
    const role = new iam.Role(this, 'ExampleConsumerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Zaikio token broker: example consumer',
    });
    const logGroup = new logs.LogGroup(this, 'ExampleConsumerLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    logGroup.grantWrite(role);
    const fn = new nodejs.NodejsFunction(this, 'ExampleConsumer', {
      entry: path.join(ROOT, 'examples', 'consumer.ts'),
      description: 'Zaikio token broker: example consumer (lists warehouse items with a broker token)',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      loggingFormat: lambda.LoggingFormat.JSON,
      role,
      logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps' },
      projectRoot: ROOT,
      depsLockFilePath: path.join(ROOT, 'package-lock.json'),
      bundling: {
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
      },
    });
    // The example lists the items of whichever organization its event names, so it is granted every
    // bearer, explicitly, and nothing but the one scope it reads.
    this.broker.grantTokenAccess(fn, {
      consumer: 'example',
      allBearers: true,
      scopes: ['warehouse.items.r'],
    });
    return fn;
  }
}
