/**
 * dynalite in a child process (./dynalite-child.ts), reached over loopback like DynamoDB. The child
 * ends when this process closes its stdin (also when this process dies) or on `stop()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface DynamoProcess {
  readonly endpoint: string;
  readonly pid: number;
  /** A new SDK client each call, as a separate Lambda container would have. */
  client(options?: { maxAttempts?: number }): DynamoDBClient;
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./dynalite-child.ts', import.meta.url));

export async function startDynamoProcess(tables: readonly string[]): Promise<DynamoProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD, ...tables], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const pid = child.pid;
  if (pid === undefined || child.stdout === null) throw new Error('could not start dynalite');
  const lines = createInterface({ input: child.stdout });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`dynalite exited early (${code})`)));
    lines.once('line', (line) => resolve((JSON.parse(line) as { endpoint: string }).endpoint));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    endpoint,
    pid,
    client: (options = {}) =>
      new DynamoDBClient({
        endpoint,
        region: 'local',
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: options.maxAttempts ?? 3,
      }),
    async stop() {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGTERM'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
