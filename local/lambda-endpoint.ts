/**
 * A local stand-in for the Lambda Invoke API: `POST /2015-03-31/functions/{name}/invocations`,
 * answered the way AWS Lambda answers it, so the real `LambdaClient` (with `endpoint` pointed here)
 * and any other language's SDK can invoke in-process handlers. Used by the tests and `npm start`.
 * A qualifier (`name:alias` in the path, or `?Qualifier=alias` as the SDKs send it) reaches the
 * handler as Lambda reports it: in `context.invokedFunctionArn`, which the mint function identifies
 * its caller by. Locally nothing authorizes the qualifier, as IAM does in AWS.
 *
 * Payloads and results carry tokens: nothing here logs either, only names, status and duration.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** The part of Lambda's context the broker's handlers read. */
export interface LocalLambdaContext {
  readonly functionName: string;
  /** The unqualified ARN, or `<arn>:<qualifier>` when the caller named one. */
  readonly invokedFunctionArn: string;
  readonly awsRequestId: string;
}

export type LambdaFunction = (event: unknown, context: LocalLambdaContext) => Promise<unknown>;

export interface LambdaEndpointOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Function name → handler. */
  readonly functions: Readonly<Record<string, LambdaFunction>>;
  /** One line per invocation (name, type, status, duration; never a payload). @default nothing */
  readonly log?: (line: string) => void;
  /**
   * Read-only JSON documents answered to `GET <path>`, beside the Invoke API (the local runtime's
   * status for the operator CLI). What they return must hold no token or secret.
   */
  readonly documents?: Readonly<Record<string, () => unknown>>;
}

export interface LambdaEndpoint {
  /** Base URL, e.g. `http://127.0.0.1:40123`: the `endpoint` of a LambdaClient. */
  readonly url: string;
  /** How many invocations reached a known function (all of them, or one function's). */
  invocations(name?: string): number;
  /** Resolves once every asynchronous (`Event`) invocation accepted so far has run. */
  settled(): Promise<void>;
  /** Closes the server and every open socket, keep-alive ones included; idempotent. */
  stop(): Promise<void>;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
/** Lambda's limit for a synchronous request payload. */
const MAX_PAYLOAD_BYTES = 6_291_556;
/** Lambda reports the account in ARNs; locally there is none. */
const LOCAL_ARN_PREFIX = 'arn:aws:lambda:local:000000000000:function:';

interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

class PayloadTooLarge extends Error {}

/** The function name in any form Lambda accepts: a name, `name:qualifier`, a full or partial ARN. */
export function functionNameOf(identifier: string): string {
  return qualifiedNameOf(identifier).name;
}

/** Name and qualifier of `name`, `name:qualifier`, `function:name[:qualifier]` or a full ARN. */
export function qualifiedNameOf(identifier: string): { name: string; qualifier: string | undefined } {
  const parts = identifier.split(':');
  const at = parts.indexOf('function');
  const rest = at >= 0 ? parts.slice(at + 1) : parts;
  return { name: rest[0] ?? '', qualifier: rest[1] };
}

function serviceError(status: number, type: string, message: string): Reply {
  return {
    status,
    headers: { 'Content-Type': 'application/json', 'x-amzn-ErrorType': type },
    body: JSON.stringify({ Type: 'User', message }),
  };
}

/** What the Node.js runtime reports for an exception that leaves the handler. */
function functionError(error: unknown): Reply {
  const isError = error instanceof Error;
  const body = {
    errorType: isError ? error.name : typeof error,
    errorMessage: isError ? error.message : String(error),
    trace: isError ? (error.stack ?? '').split('\n') : [],
  };
  return {
    status: 200,
    headers: {
      'Content-Type': 'application/json',
      'X-Amz-Executed-Version': '$LATEST',
      'X-Amz-Function-Error': 'Unhandled',
    },
    body: JSON.stringify(body),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer: Buffer = chunk;
    size += buffer.length;
    if (size > MAX_PAYLOAD_BYTES) throw new PayloadTooLarge();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function run(fn: LambdaFunction, event: unknown, context: LocalLambdaContext): Promise<Reply> {
  let result: unknown;
  try {
    // A handler that throws before its first await is still a function error, not a crash here.
    result = await Promise.resolve().then(() => fn(event, context));
  } catch (error) {
    return functionError(error);
  }
  let body: string;
  try {
    body = JSON.stringify(result ?? null);
  } catch {
    const error = new Error('the function returned a value that is not JSON-serializable');
    error.name = 'Runtime.MarshalError';
    return functionError(error);
  }
  return {
    status: 200,
    headers: { 'Content-Type': 'application/json', 'X-Amz-Executed-Version': '$LATEST' },
    body,
  };
}

export async function startLambdaEndpoint(options: LambdaEndpointOptions): Promise<LambdaEndpoint> {
  const functions = new Map(Object.entries(options.functions));
  const counts = new Map<string, number>();
  const documents = new Map(Object.entries(options.documents ?? {}));
  const sockets = new Set<Socket>();
  const queued = new Set<Promise<void>>();
  const log = options.log;

  async function answer(req: IncomingMessage): Promise<Reply> {
    const document = documents.get((req.url ?? '/').split('?')[0] ?? '/');
    if (req.method === 'GET' && document !== undefined) {
      req.resume();
      return {
        status: 200,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(document()),
      };
    }
    const match = INVOKE_PATH.exec((req.url ?? '/').split('?')[0] ?? '/');
    if (req.method !== 'POST' || match?.[1] === undefined) {
      req.resume();
      return serviceError(404, 'UnknownOperationException', `no operation ${req.method} ${req.url}`);
    }
    let identifier: string;
    try {
      identifier = decodeURIComponent(match[1]);
    } catch {
      req.resume();
      return serviceError(
        400,
        'InvalidParameterValueException',
        'the function name is not valid URL encoding',
      );
    }
    const { name, qualifier: inPath } = qualifiedNameOf(identifier);
    const inQuery = new URL(req.url ?? '/', 'http://local').searchParams.get('Qualifier') ?? undefined;
    if (inPath !== undefined && inQuery !== undefined && inPath !== inQuery) {
      req.resume();
      return serviceError(
        400,
        'InvalidParameterValueException',
        'The derived qualifier from the function name does not match the specified qualifier.',
      );
    }
    const qualifier = inPath ?? inQuery;
    const fn = functions.get(name);
    if (fn === undefined) {
      req.resume();
      return serviceError(404, 'ResourceNotFoundException', `Function not found: ${LOCAL_ARN_PREFIX}${name}`);
    }
    let text: string;
    try {
      text = await readBody(req);
    } catch (error) {
      if (!(error instanceof PayloadTooLarge)) throw error;
      return serviceError(413, 'RequestTooLargeException', 'Request must be smaller than 6291556 bytes');
    }
    let event: unknown = null;
    if (text.trim() !== '') {
      try {
        event = JSON.parse(text);
      } catch {
        // Lambda's message names the problem, never the payload.
        return serviceError(400, 'InvalidRequestContentException', 'Could not parse request body into json');
      }
    }
    const type = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (type === 'DryRun') return { status: 204, headers: {}, body: '' };
    counts.set(name, (counts.get(name) ?? 0) + 1);
    const context: LocalLambdaContext = {
      functionName: name,
      invokedFunctionArn: `${LOCAL_ARN_PREFIX}${name}${qualifier === undefined ? '' : `:${qualifier}`}`,
      awsRequestId: randomUUID(),
    };
    if (type === 'Event') {
      // Lambda queues the event and answers at once; the outcome reaches nobody.
      const running = run(fn, event, context).then((reply) =>
        log?.(`lambda ${name} Event -> ${describe(reply)}`),
      );
      queued.add(running);
      void running.then(() => queued.delete(running));
      return { status: 202, headers: {}, body: '' };
    }
    return run(fn, event, context);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = Date.now();
    let reply: Reply;
    try {
      reply = await answer(req);
    } catch {
      reply = serviceError(500, 'ServiceException', 'the local Lambda endpoint failed');
    }
    if (res.destroyed) return;
    const body = Buffer.from(reply.body, 'utf8');
    res.writeHead(reply.status, {
      ...reply.headers,
      'x-amzn-RequestId': randomUUID(),
      'Content-Length': String(body.length),
    });
    res.end(body);
    log?.(`lambda ${req.method} ${req.url} -> ${describe(reply)} in ${Date.now() - startedAt} ms`);
  }

  const server = createServer((req, res) => void handle(req, res));
  // SDK clients reuse idle sockets far longer than Node's 5 s default; a socket the server closes
  // just as a client reuses it would turn into ECONNRESET.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = listening(server.address());
  const host = address.includes(':') ? `[${address}]` : address;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    invocations(name) {
      if (name !== undefined) return counts.get(name) ?? 0;
      let total = 0;
      for (const count of counts.values()) total += count;
      return total;
    },
    async settled() {
      await Promise.all([...queued]);
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return stopping;
    },
  };
}

function listening(address: AddressInfo | string | null): AddressInfo {
  if (address === null || typeof address === 'string') throw new Error('the server is not listening on TCP');
  return address;
}

function describe(reply: Reply): string {
  const error = reply.headers['x-amzn-ErrorType'] ?? reply.headers['X-Amz-Function-Error'];
  return error === undefined ? String(reply.status) : `${reply.status} ${error}`;
}
