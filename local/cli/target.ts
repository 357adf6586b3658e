/**
 * Which broker the CLI talks to: the local runtime (`npm start`, on loopback ports) or a deployed one,
 * found from its CloudFormation stack (`--stack`) or from explicit names (`--aws` with `--table`,
 * `--function` or TOKENS_TABLE_NAME, MINT_FUNCTION_NAME).
 */
import { connect } from 'node:net';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type AwsClients, type BrokerStack, describeBrokerStack } from './deployed.js';
import { CliError } from './output.js';

export const LOCAL_TABLE = 'zaikio-tokens';
export const LOCAL_FUNCTION = 'mint';

export type AwsClientFactory = (region: string | undefined) => AwsClients;

export const defaultAwsClients: AwsClientFactory = (region) => {
  const config = region === undefined ? {} : { region };
  return {
    dynamodb: new DynamoDBClient(config),
    lambda: new LambdaClient(config),
    cloudformation: new CloudFormationClient(config),
    cloudwatch: new CloudWatchClient(config),
    sqs: new SQSClient(config),
    secretsManager: new SecretsManagerClient(config),
  };
};

export interface LocalTarget {
  readonly kind: 'local';
  readonly dynamodbUrl: string;
  readonly lambdaUrl: string;
  readonly dynamodb: DynamoDBClient;
  readonly lambda: LambdaClient;
  readonly table: string;
  readonly mintFunction: string;
  readonly defaultClient?: undefined;
  close(): void;
}

export interface DeployedTarget {
  readonly kind: 'deployed';
  readonly clients: AwsClients;
  readonly dynamodb: DynamoDBClient;
  readonly lambda: LambdaClient;
  readonly table?: string;
  readonly mintFunction?: string;
  readonly stack?: BrokerStack;
  readonly defaultClient?: string;
  close(): void;
}

export type Target = LocalTarget | DeployedTarget;

export interface TargetOptions {
  readonly aws?: boolean;
  readonly stack?: string;
  readonly table?: string;
  readonly function?: string;
  readonly region?: string;
}

export async function resolveTarget(
  options: TargetOptions,
  env: NodeJS.ProcessEnv,
  awsClients: AwsClientFactory,
): Promise<Target> {
  if (options.aws !== true && options.stack === undefined) {
    const dynamodbUrl = `http://127.0.0.1:${env.DYNAMODB_PORT ?? 8000}`;
    const lambdaUrl = `http://127.0.0.1:${env.LAMBDA_PORT ?? 3001}`;
    // dynalite and the local endpoint check no signature; the SDK still wants a region and credentials.
    const local = {
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    };
    const dynamodb = new DynamoDBClient({ ...local, endpoint: dynamodbUrl });
    const lambda = new LambdaClient({ ...local, endpoint: lambdaUrl });
    return {
      kind: 'local',
      dynamodbUrl,
      lambdaUrl,
      dynamodb,
      lambda,
      table: options.table ?? env.TOKENS_TABLE_NAME ?? LOCAL_TABLE,
      mintFunction: options.function ?? env.MINT_FUNCTION_NAME ?? LOCAL_FUNCTION,
      close: () => {
        dynamodb.destroy();
        lambda.destroy();
      },
    };
  }
  const clients = awsClients(options.region);
  const close = () => {
    for (const client of Object.values(clients)) client.destroy();
  };
  try {
    const stack =
      options.stack === undefined
        ? undefined
        : await describeBrokerStack(clients.cloudformation, options.stack);
    const table = options.table ?? stack?.tableName ?? env.TOKENS_TABLE_NAME;
    const mintFunction = options.function ?? stack?.mintFunction ?? env.MINT_FUNCTION_NAME;
    return {
      kind: 'deployed',
      clients,
      dynamodb: clients.dynamodb,
      lambda: clients.lambda,
      ...(table === undefined ? {} : { table }),
      ...(mintFunction === undefined ? {} : { mintFunction }),
      ...(stack === undefined ? {} : { stack }),
      ...(stack?.defaultClient === undefined ? {} : { defaultClient: stack.defaultClient }),
      close,
    };
  } catch (error) {
    close();
    throw error;
  }
}

export function requireTable(target: Target): string {
  if (target.table === undefined) {
    throw new CliError('no tokens table: pass --stack NAME, --table NAME or set TOKENS_TABLE_NAME', 2);
  }
  return target.table;
}

export function requireFunction(target: Target): string {
  if (target.mintFunction === undefined) {
    throw new CliError('no mint function: pass --stack NAME, --function NAME or set MINT_FUNCTION_NAME', 2);
  }
  return target.mintFunction;
}

/** Fails with one line a newcomer can act on when the local runtime is not running. */
export async function ensureListening(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const listening = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.setTimeout(3_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
  if (!listening) throw new CliError(`nothing listens on ${url}; start it with npm start`, 1);
}
