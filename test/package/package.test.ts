/**
 * The package as a user gets it: packed, installed into an empty CDK app outside the repository,
 * synthesized by two apps (the broker's ESM app, another team's CommonJS app that knows the broker
 * only from its outputs) on Node 24 and Node 22, and its consumer client bundled from the installed
 * package and run against the local runtime's parts.
 */

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_BUNDLE_OPTIONS } from '../../bench/consumer-bundle-size.js';
import { node22, type Packed, pack, runNode, scratchApp } from '../../bench/support/scratch-app.js';
import { CONSUMER_ENV } from '../../functions/core/env.js';
import { READABLE_ATTRIBUTES } from '../../functions/core/store/schema.js';
import {
  type ConsumerFixture,
  ITEMS_READ_KEY,
  MINT_ALIAS,
  startConsumerFixture,
} from '../consumer/fixture.js';
import { ORG } from '../support/harness.js';

const ACCOUNT = '111111111111';
const REGION = 'eu-central-1';
const ATTRIBUTES = {
  tableArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/TokenBroker-BrokerTokens-1ABC`,
  mintFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:TokenBroker-BrokerMint-2DEF`,
  defaultClient: 'printing',
  // Put out by brokers of 0.2; still accepted (and ignored), so their attributes import unchanged.
  usageRecordIntervalMs: 1_800_000,
};

let work: string;
let packed: Packed;
let app: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'zaikio-package-'));
  packed = await pack(work);
  app = await scratchApp(packed.tarball);
  for (const file of ['broker-app.mjs', 'other-team-app.cjs', 'consumer.mjs']) {
    await copyFile(path.join(import.meta.dirname, 'apps', file), path.join(app, file));
  }
}, 120_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  if (app !== undefined) await rm(app, { recursive: true, force: true });
});

/** Synthesizes `file` with `nodeBinary` into a fresh cloud assembly and returns its folder. */
async function synth(nodeBinary: string, file: string): Promise<string> {
  const outdir = await mkdtemp(path.join(work, 'cdk.out-'));
  await runNode(nodeBinary, file, app, {
    CDK_OUTDIR: outdir,
    ORGANIZATION_ID: ORG,
    BROKER_ATTRIBUTES: JSON.stringify(ATTRIBUTES),
  });
  return outdir;
}

const template = async (outdir: string, stack: string) =>
  Template.fromJSON(JSON.parse(await readFile(path.join(outdir, `${stack}.template.json`), 'utf8')));

type Statement = {
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

/** The statements of every identity policy attached to the role of `functionPrefix` (or that role). */
function statementsFor(t: Template, rolePrefix: string): Statement[] {
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(rolePrefix))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

describe('the packed package', () => {
  it('holds the built entry points, the prebuilt functions and the docs, and nothing else', () => {
    const paths = packed.files.map((file) => file.path).sort();
    for (const required of [
      'package.json',
      'README.md',
      'LICENSE',
      'dist/infra/index.js',
      'dist/infra/index.d.ts',
      'dist/functions/consumer/index.js',
      'dist/functions/consumer/index.d.ts',
      'dist/cli/zaikio-tokens.mjs',
      ...['mint', 'sweep', 'refresh'].flatMap((name) => [
        `dist/assets/${name}/index.mjs`,
        `dist/assets/${name}/index.mjs.map`,
      ]),
    ]) {
      expect(paths).toContain(required);
    }
    const unexpected = paths.filter(
      (file) =>
        !['package.json', 'README.md', 'LICENSE'].includes(file) &&
        !/^dist\/(infra|functions)\/.+\.(js|d\.ts)$/.test(file) &&
        !/^dist\/assets\/(mint|sweep|refresh)\/index\.mjs(\.map)?$/.test(file) &&
        file !== 'dist/cli/zaikio-tokens.mjs',
    );
    expect(unexpected).toEqual([]);
    expect(
      paths.some((file) => /(^|\/)(test|bench|local|\.local-data)\//.test(file) || file.includes('.env')),
    ).toBe(false);
  });

  it('imports no build tool and no Lambda-only dependency from its construct or consumer code', async () => {
    const manifest = JSON.parse(
      await readFile(path.join(app, 'node_modules/zaikio-token-broker/package.json'), 'utf8'),
    );
    expect(Object.keys(manifest.dependencies).sort()).toEqual([
      '@aws-sdk/client-dynamodb',
      '@aws-sdk/client-lambda',
    ]);
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    const compiled = packed.files.filter((file) => /^dist\/(infra|functions)\/.+\.js$/.test(file.path));
    const specifiers = new Set<string>();
    for (const file of compiled) {
      const code = await readFile(path.join(app, 'node_modules/zaikio-token-broker', file.path), 'utf8');
      for (const match of code.matchAll(/from '([^.][^']*)'/g)) specifiers.add(match[1] as string);
    }
    const packages = [...specifiers].map((specifier) =>
      specifier.startsWith('@')
        ? specifier.split('/').slice(0, 2).join('/')
        : (specifier.split('/')[0] as string),
    );
    expect([...new Set(packages)].sort()).toEqual([
      '@aws-sdk/client-dynamodb',
      '@aws-sdk/client-lambda',
      'aws-cdk-lib',
      'constructs',
      // The consumer client hashes a rejected token (a forced refresh names it): a Node.js builtin.
      'node:crypto',
      'node:fs',
      'node:path',
    ]);
  });
});

describe.each([
  ['Node 24', async () => process.execPath],
  ['Node 22', node22],
])('a user app on %s', (_label, nodeBinary) => {
  let brokerOut: string;
  let otherOut: string;

  beforeAll(async () => {
    const binary = await nodeBinary();
    [brokerOut, otherOut] = await Promise.all([
      synth(binary, 'broker-app.mjs'),
      synth(binary, 'other-team-app.cjs'),
    ]);
  }, 240_000);

  it('synthesizes the broker from the prebuilt functions, with no bundler', async () => {
    const broker = await template(brokerOut, 'TokenBroker');
    const functions = Object.values(broker.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(3);
    const staged = (await readdir(brokerOut)).filter((entry) => entry.startsWith('asset.'));
    const shipped = await Promise.all(
      ['mint', 'sweep', 'refresh'].map((name) =>
        readFile(path.join(app, 'node_modules/zaikio-token-broker/dist/assets', name, 'index.mjs')),
      ),
    );
    const stagedBundles = await Promise.all(
      staged.map((dir) => readFile(path.join(brokerOut, dir, 'index.mjs')).catch(() => undefined)),
    );
    for (const bundle of shipped) {
      expect(stagedBundles.some((candidate) => candidate?.equals(bundle))).toBe(true);
    }
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
      });
    }
  });

  it('grants a consumer in another stack of the same app through cross-stack references', async () => {
    const orders = await template(brokerOut, 'Orders');
    const statements = statementsFor(orders, 'ListOrders');
    const read = statements.find((statement) => statement.Action === 'dynamodb:GetItem');
    expect(read?.Condition).toEqual({
      'ForAllValues:StringEquals': {
        'dynamodb:Attributes': [...READABLE_ATTRIBUTES],
        'dynamodb:LeadingKeys': [`Org/${ORG}`],
      },
      StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
    });
    expect(JSON.stringify(read?.Resource)).toContain('Fn::ImportValue');
    const invoke = statements.find((statement) => statement.Action === 'lambda:InvokeFunction');
    expect(JSON.stringify(invoke?.Resource)).toContain('Fn::ImportValue');
    // Its own alias of the mint function, declared in the broker's stack with the grant's policy.
    const broker = await template(brokerOut, 'TokenBroker');
    const aliases = Object.values(broker.findResources('AWS::Lambda::Alias')).map(
      (alias) => alias.Properties.Name,
    );
    expect(aliases.sort()).toEqual(['invoices', 'orders']);
    const [mint] = Object.values(
      broker.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { ZAIKIO_GRANTS: Match.anyValue() } } },
      }),
    );
    expect(JSON.parse(mint?.Properties.Environment.Variables.ZAIKIO_GRANTS)).toEqual({
      invoices: { bearers: [`Org/${ORG}`], scopes: ['warehouse.items.r'], clients: ['default'] },
      orders: { bearers: [`Org/${ORG}`], scopes: ['warehouse.*'], clients: ['default'] },
    });
    const [fn] = Object.values(orders.findResources('AWS::Lambda::Function'));
    const variables = fn?.Properties.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(variables).sort()).toEqual(Object.values(CONSUMER_ENV).sort());
    expect(JSON.stringify(variables[CONSUMER_ENV.tableName])).toContain('Fn::ImportValue');
    expect(variables[CONSUMER_ENV.defaultClient]).toBe('default');
  });

  it('grants a consumer of another app that knows the broker only by its outputs', async () => {
    const invoices = await template(otherOut, 'Invoices');
    const statements = statementsFor(invoices, 'SendInvoices');
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: 'dynamodb:GetItem',
          Resource: ATTRIBUTES.tableArn,
          Condition: expect.objectContaining({
            'ForAllValues:StringEquals': {
              'dynamodb:Attributes': [...READABLE_ATTRIBUTES],
              'dynamodb:LeadingKeys': [`Org/${ORG}`],
            },
          }),
        }),
        expect.objectContaining({
          Action: 'lambda:InvokeFunction',
          Resource: `${ATTRIBUTES.mintFunctionArn}:invoices`,
        }),
      ]),
    );
    expect(statements.flatMap((statement) => statement.Action).sort()).toEqual([
      'dynamodb:GetItem',
      'lambda:InvokeFunction',
    ]);
    const [fn] = Object.values(invoices.findResources('AWS::Lambda::Function'));
    expect(fn?.Properties.Environment.Variables).toEqual({
      [CONSUMER_ENV.tableName]: 'TokenBroker-BrokerTokens-1ABC',
      [CONSUMER_ENV.mintFunctionName]: `${ATTRIBUTES.mintFunctionArn}:invoices`,
      [CONSUMER_ENV.defaultClient]: 'printing',
    });
    // Every bearer for the task role, and no lambda permission on the other app's function.
    const task = statementsFor(invoices, 'TaskRole');
    const taskRead = task.find((statement) => statement.Action === 'dynamodb:GetItem');
    expect(taskRead?.Condition?.['ForAllValues:StringEquals']).not.toHaveProperty(['dynamodb:LeadingKeys']);
    invoices.resourceCountIs('AWS::Lambda::Permission', 0);
  });

  it('says where it could not set the consumer environment', async () => {
    const metadata = JSON.parse(
      await readFile(path.join(otherOut, 'Invoices.metadata.json'), 'utf8'),
    ) as Record<string, Array<{ type: string; data: string }>>;
    const warnings = Object.entries(metadata).flatMap(([where, entries]) =>
      entries
        .filter((entry) => entry.type === 'aws:cdk:warning')
        .map((entry) => ({ where, data: entry.data })),
    );
    expect(warnings).toEqual([
      expect.objectContaining({
        where: '/Invoices/TaskRole',
        data: expect.stringMatching(
          /consumerEnvironment \("invoices-tasks"\) .*TOKENS_TABLE_NAME, MINT_FUNCTION_NAME/,
        ),
      }),
    ]);
  });
});

describe('a consumer Lambda importing zaikio-token-broker/consumer', () => {
  let fx: ConsumerFixture;
  let bundle: string;
  let bundleBytes: number;

  beforeAll(async () => {
    fx = await startConsumerFixture();
    // As NodejsFunction bundles a user's handler: esbuild, ESM, the AWS SDK left to the runtime.
    bundle = path.join(app, 'consumer.bundle.mjs');
    const result = await build({
      ...CONSUMER_BUNDLE_OPTIONS,
      entryPoints: [path.join(app, 'consumer.mjs')],
      absWorkingDir: app,
      outfile: bundle,
    });
    bundleBytes = Object.values(result.metafile.outputs)[0]?.bytes ?? 0;
    expect(
      Object.keys(result.metafile.inputs).every(
        (input) => input.includes('zaikio-token-broker') || input === 'consumer.mjs',
      ),
    ).toBe(true);
  });

  afterAll(async () => {
    await fx?.stop();
  });

  it('bundles small from the installed package', () => {
    // About 14 KB of the package's own code (docs/package.md); a limit, not a measurement.
    expect(bundleBytes).toBeGreaterThan(1_000);
    expect(bundleBytes).toBeLessThan(20_000);
  });

  it('gets the token the broker stored, through the local mint function', async () => {
    const script = `import(${JSON.stringify(bundle)}).then((m) => m.handler({ organizationId: ${JSON.stringify(ORG)} })).then((r) => process.stdout.write(JSON.stringify(r)))`;
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', script],
      {
        cwd: app,
        env: {
          PATH: path.dirname(process.execPath),
          AWS_REGION: 'local',
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_ENDPOINT_URL_DYNAMODB: fx.harness.dynamo.endpoint,
          AWS_ENDPOINT_URL_LAMBDA: fx.endpoint.url,
          [CONSUMER_ENV.tableName]: fx.harness.config.tableName,
          [CONSUMER_ENV.mintFunctionName]: MINT_ALIAS,
        },
      },
    );
    const result = JSON.parse(stdout) as {
      tokenSha256: string;
      expiresAt: number;
      scopes: string[];
      source: string;
    };
    const stored = await fx.fullItem(ITEMS_READ_KEY);
    const token = stored?.accessToken?.S ?? '';
    expect(token).not.toBe('');
    expect(result).toEqual({
      tokenSha256: createHash('sha256').update(token).digest('hex'),
      expiresAt: Number(stored?.expiresAt?.N),
      scopes: ['warehouse.items.r'],
      source: 'mint',
    });
    expect(`${stdout}${stderr}`).not.toContain(token);
  });
});
