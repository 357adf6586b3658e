/** A Zaikio-like API on loopback that records what it was sent, for the fetch helper's tests. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly token: string;
  readonly body: string;
  readonly custom: string | undefined;
}

export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A Zaikio-like API on loopback: answers each request with `respond(token)`. */
export interface FakeApi {
  readonly url: string;
  readonly seen: Seen[];
  respond: (token: string) => Answer;
  /** Forgets what it was sent and answers 200 again, for the next test. */
  reset(): void;
  stop(): Promise<void>;
}

const ok = (_token: string): Answer => ({ status: 200, body: '{"items":[]}' });

export async function startFakeApi(): Promise<FakeApi> {
  const seen: Seen[] = [];
  const api = {
    url: '',
    seen,
    respond: ok,
    reset() {
      seen.length = 0;
      api.respond = ok;
    },
    stop: () => Promise.resolve(),
  };
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  };
  const server: Server = createServer((req, res) => {
    void read(req).then((body) => {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      const custom = req.headers['x-custom'];
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        token,
        body,
        custom: typeof custom === 'string' ? custom : undefined,
      });
      const answer = api.respond(token);
      res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  api.url = `http://127.0.0.1:${port}`;
  api.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return api;
}
