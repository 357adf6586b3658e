import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { readContext } from '../../infra/context.js';

const from =
  (values: Record<string, unknown>) =>
  (key: string): unknown =>
    values[key];

describe('readContext', () => {
  it('defaults to a retained sandbox broker with one app whose secret the stack creates', () => {
    const config = readContext(from({}));
    expect(config.stackName).toBe('ZaikioTokenBroker');
    expect(config.alarmTopicArn).toBeUndefined();
    expect(config.broker).toEqual({
      hub: 'sandbox',
      clients: [{ name: 'default' }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
  });

  it('imports one secret by name or by complete ARN', () => {
    expect(readContext(from({ secretName: 'zaikio/app' })).broker.clients).toEqual([
      { name: 'default', existingSecret: { secretName: 'zaikio/app' } },
    ]);
    const arn = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:zaikio/app-AbC123';
    expect(readContext(from({ clientName: 'printing', secretArn: arn })).broker.clients).toEqual([
      { name: 'printing', existingSecret: { secretCompleteArn: arn } },
    ]);
  });

  it('reads several apps from a JSON object; an empty reference creates the secret', () => {
    const config = readContext(
      from({ clients: '{"printing":"zaikio/printing","warehouse":""}', defaultClient: 'warehouse' }),
    );
    expect(config.broker.clients).toEqual([
      { name: 'printing', existingSecret: { secretName: 'zaikio/printing' } },
      { name: 'warehouse' },
    ]);
    expect(config.broker.defaultClient).toBe('warehouse');
  });

  it('reads the other keys', () => {
    const config = readContext(
      from({
        stackName: 'BrokerProd',
        hub: 'production',
        removalPolicy: 'destroy',
        logRetentionDays: '90',
        sweepIntervalMinutes: 2,
        alarmTopicArn: 'arn:aws:sns:eu-central-1:123456789012:ops',
        exampleConsumer: 'true',
      }),
    );
    expect(config.exampleConsumer).toBe(true);
    expect(config.stackName).toBe('BrokerProd');
    expect(config.alarmTopicArn).toBe('arn:aws:sns:eu-central-1:123456789012:ops');
    expect(config.broker.hub).toBe('production');
    expect(config.broker.removalPolicy).toBe(RemovalPolicy.DESTROY);
    expect(config.broker.logRetention).toBe(90);
    expect(config.broker.sweepInterval?.toMinutes()).toBe(Duration.minutes(2).toMinutes());
  });

  it('rejects what it cannot use, naming the key', () => {
    expect(() => readContext(from({ removalPolicy: 'snapshot' }))).toThrow(/context "removalPolicy"/);
    expect(() => readContext(from({ exampleConsumer: 'yes' }))).toThrow(/context "exampleConsumer"/);
    expect(() => readContext(from({ logRetentionDays: '31' }))).toThrow(/context "logRetentionDays"/);
    expect(() => readContext(from({ sweepIntervalMinutes: '1.5' }))).toThrow(
      /context "sweepIntervalMinutes"/,
    );
    expect(() => readContext(from({ clients: '{"a":' }))).toThrow(/context "clients"/);
    expect(() => readContext(from({ clients: '["a"]' }))).toThrow(/context "clients"/);
    expect(() => readContext(from({ clients: '{"a":"x"}', secretName: 'y' }))).toThrow(/not both/);
    expect(() => readContext(from({ secretName: 'a', secretArn: 'arn:aws:x' }))).toThrow(/not both/);
    expect(() => readContext(from({ secretArn: 'zaikio/app' }))).toThrow(/must be an ARN/);
  });
});
