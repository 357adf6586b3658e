/**
 * The broker's configuration from CDK context (`-c key=value` or cdk.json "context"), checked.
 * Every key is optional; docs/deploy.md lists them.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { HubEnvironment } from '../functions/core/hub/environments.js';
import type { ZaikioClient } from './client-secrets.js';
import type { HubBaseUrl, ZaikioTokenBrokerProps } from './zaikio-token-broker.js';

export interface StackContext {
  readonly stackName: string;
  readonly alarmTopicArn?: string;
  /** Also deploy the example consumer (examples/consumer.ts). */
  readonly exampleConsumer: boolean;
  readonly broker: Omit<ZaikioTokenBrokerProps, 'alarmTopic'>;
}

export const CONTEXT_KEYS = [
  'stackName',
  'hub',
  'clientName',
  'secretName',
  'secretArn',
  'clients',
  'defaultClient',
  'removalPolicy',
  'logRetentionDays',
  'sweepIntervalMinutes',
  'alarmTopicArn',
  'exampleConsumer',
] as const;
type ContextKey = (typeof CONTEXT_KEYS)[number];

/** The stack's defaults: a sandbox broker with one app, "default", whose secret the stack creates. */
export const DEFAULT_HUB = 'sandbox';
export const DEFAULT_STACK_NAME = 'ZaikioTokenBroker';

function fail(key: string, message: string): never {
  throw new Error(`context "${key}": ${message}`);
}

export function readContext(get: (key: ContextKey) => unknown): StackContext {
  const text = (key: ContextKey): string | undefined => {
    const value = get(key);
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') fail(key, 'must be a string');
    return String(value);
  };
  const number = (key: ContextKey): number | undefined => {
    const value = text(key);
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value)) fail(key, `must be a whole number, got "${value}"`);
    return Number(value);
  };

  const removal = text('removalPolicy') ?? 'retain';
  if (removal !== 'retain' && removal !== 'destroy') fail('removalPolicy', 'must be "retain" or "destroy"');
  const retention = number('logRetentionDays');
  if (
    retention !== undefined &&
    !Object.values(logs.RetentionDays).includes(retention as logs.RetentionDays)
  ) {
    fail(
      'logRetentionDays',
      `${retention} is not a retention CloudWatch Logs offers (1, 3, 5, 7, 14, 30, 60, 90, ...)`,
    );
  }
  const sweepMinutes = number('sweepIntervalMinutes');
  const defaultClient = text('defaultClient');
  const alarmTopicArn = text('alarmTopicArn');
  const example = text('exampleConsumer') ?? 'false';
  if (example !== 'true' && example !== 'false') fail('exampleConsumer', 'must be "true" or "false"');

  return {
    stackName: text('stackName') ?? DEFAULT_STACK_NAME,
    ...(alarmTopicArn === undefined ? {} : { alarmTopicArn }),
    exampleConsumer: example === 'true',
    broker: {
      hub: (text('hub') ?? DEFAULT_HUB) as HubEnvironment | HubBaseUrl,
      clients: clientsFromContext(get('clients'), text('clientName'), text('secretName'), text('secretArn')),
      removalPolicy: removal === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      ...(defaultClient === undefined ? {} : { defaultClient }),
      ...(retention === undefined ? {} : { logRetention: retention as logs.RetentionDays }),
      ...(sweepMinutes === undefined ? {} : { sweepInterval: Duration.minutes(sweepMinutes) }),
    },
  };
}

/** A secret reference from context: a complete ARN, a name, or nothing (the stack creates one). */
function existingSecret(reference: string | undefined): ZaikioClient['existingSecret'] {
  if (reference === undefined || reference === '') return undefined;
  return reference.startsWith('arn:') ? { secretCompleteArn: reference } : { secretName: reference };
}

function clientsFromContext(
  clients: unknown,
  clientName: string | undefined,
  secretName: string | undefined,
  secretArn: string | undefined,
): ZaikioClient[] {
  if (clients !== undefined) {
    if (clientName !== undefined || secretName !== undefined || secretArn !== undefined) {
      fail('clients', 'use either "clients" or "clientName"/"secretName"/"secretArn", not both');
    }
    let parsed: unknown = clients;
    if (typeof clients === 'string') {
      try {
        parsed = JSON.parse(clients);
      } catch {
        fail('clients', 'must be a JSON object {"<app name>": "<secret name or complete ARN, or empty>"}');
      }
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      fail('clients', 'must be a JSON object {"<app name>": "<secret name or complete ARN, or empty>"}');
    }
    return Object.entries(parsed).map(([name, reference]) => {
      if (reference !== null && typeof reference !== 'string')
        fail('clients', `"${name}" must map to a string`);
      const existing = existingSecret(reference ?? undefined);
      return existing === undefined ? { name } : { name, existingSecret: existing };
    });
  }
  if (secretName !== undefined && secretArn !== undefined)
    fail('secretArn', 'use secretName or secretArn, not both');
  if (secretArn !== undefined && !secretArn.startsWith('arn:')) fail('secretArn', 'must be an ARN');
  const existing = existingSecret(secretArn ?? secretName);
  const name = clientName ?? 'default';
  return [existing === undefined ? { name } : { name, existingSecret: existing }];
}
