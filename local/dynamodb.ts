/**
 * An in-process DynamoDB (dynalite) on loopback, with the tokens table created from the same
 * schema the CDK stack deploys. Used by the tests, the benchmarks and `npm start`.
 */
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createTableInput, TABLE } from '../functions/core/store/schema.js';

export interface LocalDynamoDB {
  readonly endpoint: string;
  /** A new SDK client each call, as a separate Lambda container would have. */
  client(): DynamoDBClient;
  createTokensTable(tableName: string): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalDynamoDBOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** LevelDB folder for data that survives restarts. @default in memory */
  readonly path?: string;
}

/** Dynalite checks no signatures; the SDK still wants some credentials. */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export async function startLocalDynamoDB(options: LocalDynamoDBOptions = {}): Promise<LocalDynamoDB> {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path === undefined ? {} : { path: options.path }),
  });
  // Node closes idle keep-alive sockets after 5 s; a client reusing one at that moment gets
  // ECONNRESET. SDK clients keep sockets far longer, so the server must too.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = () =>
    new DynamoDBClient({ endpoint, region: 'local', credentials: LOCAL_CREDENTIALS, maxAttempts: 5 });
  return {
    endpoint,
    client,
    async createTokensTable(tableName) {
      const dynamodb = client();
      try {
        await dynamodb.send(new CreateTableCommand(createTableInput(tableName)));
        await dynamodb
          .send(
            new UpdateTimeToLiveCommand({
              TableName: tableName,
              TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
            }),
          )
          .catch(() => undefined); // dynalite does not implement TTL; DynamoDB does.
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
      } finally {
        dynamodb.destroy();
      }
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections?.();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
