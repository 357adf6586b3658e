import { Agent } from 'node:http';
import {
  InvokeCommand,
  LambdaClient,
  type LambdaClientConfig,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import {
  functionNameOf,
  type LambdaEndpoint,
  type LambdaEndpointOptions,
  startLambdaEndpoint,
} from '../../local/lambda-endpoint.js';

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const running: Array<{ stop(): unknown }> = [];

afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

async function start(functions: LambdaEndpointOptions['functions'], log?: (line: string) => void) {
  const endpoint = await startLambdaEndpoint({ functions, ...(log === undefined ? {} : { log }) });
  running.push(endpoint);
  return endpoint;
}

function lambdaClient(endpoint: LambdaEndpoint, config: LambdaClientConfig = {}): LambdaClient {
  const client = new LambdaClient({
    endpoint: endpoint.url,
    region: 'local',
    credentials: CREDENTIALS,
    maxAttempts: 1,
    ...config,
  });
  running.push({ stop: () => client.destroy() });
  return client;
}

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const decode = (bytes: Uint8Array | undefined): unknown => JSON.parse(new TextDecoder().decode(bytes));

class ScopeNotGrantedError extends Error {
  override readonly name = 'ScopeNotGrantedError';
}

describe('functionNameOf', () => {
  it('takes the name from a name, a qualified name, a full or a partial ARN', () => {
    expect(functionNameOf('mint')).toBe('mint');
    expect(functionNameOf('mint:live')).toBe('mint');
    expect(functionNameOf('arn:aws:lambda:eu-central-1:123456789012:function:mint')).toBe('mint');
    expect(functionNameOf('arn:aws:lambda:eu-central-1:123456789012:function:mint:$LATEST')).toBe('mint');
    expect(functionNameOf('123456789012:function:mint')).toBe('mint');
  });
});

describe('local Lambda endpoint with the real LambdaClient', () => {
  it('reports the qualifier the caller named in invokedFunctionArn, as Lambda does', async () => {
    const arns: string[] = [];
    const endpoint = await start({
      mint: async (_event, context) => {
        arns.push(context.invokedFunctionArn);
        return {};
      },
    });
    const lambda = lambdaClient(endpoint);
    await lambda.send(new InvokeCommand({ FunctionName: 'mint' }));
    await lambda.send(new InvokeCommand({ FunctionName: 'mint:orders' }));
    await lambda.send(new InvokeCommand({ FunctionName: 'mint', Qualifier: 'invoices' }));
    await lambda.send(
      new InvokeCommand({ FunctionName: 'arn:aws:lambda:eu-central-1:123456789012:function:mint:orders' }),
    );
    const arn = 'arn:aws:lambda:local:000000000000:function:mint';
    expect(arns).toEqual([arn, `${arn}:orders`, `${arn}:invoices`, `${arn}:orders`]);
    await expect(
      lambda.send(new InvokeCommand({ FunctionName: 'mint:orders', Qualifier: 'invoices' })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    expect(arns).toHaveLength(4);
  });

  it('passes the payload to the function and returns its JSON result', async () => {
    const seen: unknown[] = [];
    const endpoint = await start({
      echo: async (event) => {
        seen.push(event);
        return { got: event };
      },
    });
    const lambda = lambdaClient(endpoint);
    const result = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: encode({ a: 1 }) }));
    expect(result.StatusCode).toBe(200);
    expect(result.FunctionError).toBeUndefined();
    expect(result.ExecutedVersion).toBe('$LATEST');
    expect(decode(result.Payload)).toEqual({ got: { a: 1 } });
    expect(seen).toEqual([{ a: 1 }]);
    expect(endpoint.invocations('echo')).toBe(1);
    expect(endpoint.invocations()).toBe(1);
  });

  it('accepts an ARN, a qualifier and an empty payload (event null)', async () => {
    const seen: unknown[] = [];
    const endpoint = await start({ mint: async (event) => void seen.push(event) });
    const lambda = lambdaClient(endpoint);
    const arn = 'arn:aws:lambda:eu-central-1:123456789012:function:mint';
    const byArn = await lambda.send(new InvokeCommand({ FunctionName: arn, Payload: encode('x') }));
    await lambda.send(new InvokeCommand({ FunctionName: 'mint:live', Payload: encode(2) }));
    await lambda.send(new InvokeCommand({ FunctionName: 'mint', Qualifier: '$LATEST' }));
    expect(decode(byArn.Payload)).toBeNull();
    expect(seen).toEqual(['x', 2, null]);
    expect(endpoint.invocations('mint')).toBe(3);
  });

  it('reports a thrown error as Lambda does: FunctionError Unhandled and the error in the payload', async () => {
    const endpoint = await start({
      mint: async () => {
        throw new ScopeNotGrantedError('not granted [code=scope_not_granted details={}]');
      },
      sync: () => {
        throw new TypeError('thrown before any await');
      },
    });
    const lambda = lambdaClient(endpoint);
    const result = await lambda.send(new InvokeCommand({ FunctionName: 'mint', Payload: encode({}) }));
    expect(result.StatusCode).toBe(200);
    expect(result.FunctionError).toBe('Unhandled');
    const payload = decode(result.Payload);
    expect(payload).toMatchObject({
      errorType: 'ScopeNotGrantedError',
      errorMessage: 'not granted [code=scope_not_granted details={}]',
    });
    expect((payload as { trace: unknown }).trace).toEqual(expect.arrayContaining([expect.any(String)]));

    const sync = await lambda.send(new InvokeCommand({ FunctionName: 'sync' }));
    expect(sync.FunctionError).toBe('Unhandled');
    expect(decode(sync.Payload)).toMatchObject({ errorType: 'TypeError' });
  });

  it('answers an unknown function with ResourceNotFoundException', async () => {
    const endpoint = await start({ mint: async () => null });
    const lambda = lambdaClient(endpoint);
    const error = await lambda.send(new InvokeCommand({ FunctionName: 'nope' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect((error as Error).message).toContain('Function not found');
    expect(endpoint.invocations()).toBe(0);
  });

  it('answers an Event invocation with 202 and runs the function in the background', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const finished: unknown[] = [];
    const endpoint = await start({
      slow: async (event) => {
        await gate;
        finished.push(event);
      },
    });
    const lambda = lambdaClient(endpoint);
    const result = await lambda.send(
      new InvokeCommand({ FunctionName: 'slow', InvocationType: 'Event', Payload: encode('bg') }),
    );
    expect(result.StatusCode).toBe(202);
    expect(finished).toEqual([]);
    release();
    await expect.poll(() => finished).toEqual(['bg']);
    expect(endpoint.invocations('slow')).toBe(1);
  });
});

describe('local Lambda endpoint over plain HTTP', () => {
  const invoke = (
    endpoint: LambdaEndpoint,
    name: string,
    body: string,
    headers: Record<string, string> = {},
  ) =>
    fetch(`${endpoint.url}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, {
      method: 'POST',
      body,
      headers,
    });

  it('rejects a payload that is not JSON with 400 InvalidRequestContentException', async () => {
    const endpoint = await start({ mint: async () => 'never' });
    const res = await invoke(endpoint, 'mint', '{not json');
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
    expect(await res.json()).toMatchObject({ Type: 'User' });
    expect(endpoint.invocations()).toBe(0);
  });

  it('answers an unknown function with 404 and a Lambda-shaped body', async () => {
    const endpoint = await start({});
    const res = await invoke(endpoint, 'arn:aws:lambda:eu-central-1:1:function:ghost:live', '{}');
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(await res.json()).toEqual({
      Type: 'User',
      message: 'Function not found: arn:aws:lambda:local:000000000000:function:ghost',
    });
  });

  it('answers a DryRun with 204 without running the function', async () => {
    const endpoint = await start({ mint: async () => 'ran' });
    const res = await invoke(endpoint, 'mint', '{}', { 'X-Amz-Invocation-Type': 'DryRun' });
    expect(res.status).toBe(204);
    expect(endpoint.invocations()).toBe(0);
  });

  it('reports a result that is not JSON-serializable as a function error', async () => {
    const endpoint = await start({ big: async () => ({ n: 1n }) });
    const res = await invoke(endpoint, 'big', '');
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await res.json()).toMatchObject({ errorType: 'Runtime.MarshalError' });
  });

  it('logs names and status only, never payloads or results', async () => {
    const lines: string[] = [];
    const endpoint = await start(
      {
        secretive: async () => ({ accessToken: 'result-token-value' }),
        failing: async () => {
          throw new Error('boom');
        },
      },
      (line) => lines.push(line),
    );
    await invoke(endpoint, 'secretive', JSON.stringify({ scope: 'payload-secret-value' }));
    await invoke(endpoint, 'failing', '{}');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('Unhandled');
    expect(lines.join('\n')).not.toMatch(/result-token-value|payload-secret-value|boom/);
  });
});

describe('stop', () => {
  it('closes keep-alive sockets so it resolves at once, and is idempotent', async () => {
    const endpoint = await startLambdaEndpoint({ functions: { mint: async () => 'ok' } });
    const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    const lambda = new LambdaClient({
      endpoint: endpoint.url,
      region: 'local',
      credentials: CREDENTIALS,
      requestHandler: { httpAgent: agent },
    });
    try {
      await lambda.send(new InvokeCommand({ FunctionName: 'mint' }));
      const startedAt = Date.now();
      await Promise.all([endpoint.stop(), endpoint.stop()]);
      expect(Date.now() - startedAt).toBeLessThan(1000);
      const error = await lambda
        .send(new InvokeCommand({ FunctionName: 'mint' }))
        .catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(Error);
    } finally {
      lambda.destroy();
      agent.destroy();
    }
  });
});
