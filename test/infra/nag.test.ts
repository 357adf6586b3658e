/**
 * cdk-nag v3, AwsSolutions pack: no finding may be left, and every acknowledgement names one
 * finding on one resource with a specific reason.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { ZaikioTokenBrokerStack } from '../../infra/broker-stack.js';
import { readContext } from '../../infra/context.js';
import { ZaikioTokenBroker } from '../../infra/zaikio-token-broker.js';
import { newApp } from './support.js';

/** Findings as "RuleId at path", so a failure names what to fix. */
function findings(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((violation) =>
    violation.violatingResources.map(
      (resource) => `${violation.ruleName} (${violation.severity}) at ${resource.constructPath}`,
    ),
  );
}

function acknowledgements(scope: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing in the stack `cdk synth` builds by default', () => {
    const app = newApp({ bundle: false });
    new ZaikioTokenBrokerStack(app, 'Default', { config: readContext(() => undefined) });
    expect(findings(app)).toEqual([]);
  });

  it('finds nothing in the stack with the example consumer', () => {
    const app = newApp({ bundle: false });
    new ZaikioTokenBrokerStack(app, 'WithExample', {
      config: readContext((key) => (key === 'exampleConsumer' ? 'true' : undefined)),
    });
    expect(findings(app)).toEqual([]);
  });

  it('finds nothing with imported secrets, an alarm topic and consumers granted access', () => {
    const app = newApp({ bundle: false });
    const stack = new Stack(app, 'Variant');
    const broker = new ZaikioTokenBroker(stack, 'Broker', {
      hub: 'production',
      clients: [
        { name: 'printing', existingSecret: { secretName: 'zaikio/printing' } },
        { name: 'created' },
        {
          name: 'warehouse',
          existingSecret: {
            secretCompleteArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:zaikio/wh-AbC123',
          },
        },
      ],
      alarmTopic: sns.Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:eu-central-1:123456789012:ops'),
    });
    const consumer = new iam.Role(stack, 'Consumer', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    broker.grantTokenAccess(consumer, {
      organizations: ['b1475f65-236c-58b8-96e1-e1778b43beb7'],
      scopes: ['warehouse.items.r'],
    });
    expect(findings(app)).toEqual([]);
  });

  it('finds nothing with X-Ray tracing ACTIVE, a customer managed table key and a consumer granted access', () => {
    const app = newApp({ bundle: false });
    const stack = new Stack(app, 'Traced');
    const key = new kms.Key(stack, 'TableKey', { enableKeyRotation: true });
    const broker = new ZaikioTokenBroker(stack, 'Broker', {
      tracing: lambda.Tracing.ACTIVE,
      tableEncryptionKey: key,
    });
    const consumer = new iam.Role(stack, 'Consumer', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    broker.grantTokenAccess(consumer, { allBearers: true, scopes: ['warehouse.*'] });
    expect(findings(app)).toEqual([]);
  });

  it('finds nothing with tracing PASS_THROUGH either (Lambda adds the same X-Ray statement)', () => {
    const app = newApp({ bundle: false });
    new ZaikioTokenBroker(new Stack(app, 'PassThrough'), 'Broker', { tracing: lambda.Tracing.PASS_THROUGH });
    expect(findings(app)).toEqual([]);
  });

  it('does report X-Ray’s Resource "*" as AwsSolutions-IAM5 on a traced function nobody acknowledged', () => {
    const app = newApp({ bundle: false });
    new lambda.Function(new Stack(app, 'Unacknowledged'), 'Traced', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('export const handler = async () => {};'),
      tracing: lambda.Tracing.ACTIVE,
    });
    expect(findings(app)).toContain(
      'AwsSolutions-IAM5[Resource::*] (error) at Unacknowledged/Traced/ServiceRole/DefaultPolicy/Resource',
    );
  });

  it('acknowledges X-Ray’s Resource "*" on the three role policies, and only when tracing is on', () => {
    const traced = newApp({ bundle: false });
    new ZaikioTokenBroker(new Stack(traced, 'Traced'), 'Broker', { tracing: lambda.Tracing.ACTIVE });
    const acks = acknowledgements(traced);
    expect(acks.map(({ path, id }) => `${id} at ${path}`).sort()).toEqual([
      'AwsSolutions-IAM5[Resource::*] at Traced/Broker/MintRole/DefaultPolicy',
      'AwsSolutions-IAM5[Resource::*] at Traced/Broker/RefreshRole/DefaultPolicy',
      'AwsSolutions-IAM5[Resource::*] at Traced/Broker/SweepRole/DefaultPolicy',
      'AwsSolutions-SMG4 at Traced/Broker/Credentials/Client-default',
      'AwsSolutions-SQS3 at Traced/Broker/Default/ScheduleDeadLetterQueue',
    ]);
    for (const { id, reason } of acks.filter(({ id }) => id.startsWith('AwsSolutions-IAM5'))) {
      expect(reason.length, id).toBeGreaterThan(100);
      expect(reason).toMatch(/PutTraceSegments/);
      expect(reason).toMatch(/PutTelemetryRecords/);
      expect(reason).toMatch(/no resource-level permissions/);
    }

    const untraced = newApp({ bundle: false });
    new ZaikioTokenBroker(new Stack(untraced, 'Untraced'), 'Broker', { tracing: lambda.Tracing.DISABLED });
    expect(acknowledgements(untraced).filter(({ id }) => id.startsWith('AwsSolutions-IAM5'))).toEqual([]);
  });

  it('runs as a validation plugin in `cdk synth` and lets the app synthesize', () => {
    const app = newApp({ bundle: false });
    new ZaikioTokenBrokerStack(app, 'Synth', { config: readContext(() => undefined) });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const assembly = app.synth();
    expect(assembly.getStackByName('Synth').template.Resources).toBeDefined();
  });

  it('does report findings (the check is live): a queue without TLS or encryption', () => {
    const app = newApp({ bundle: false });
    new sqs.Queue(new Stack(app, 'Bad'), 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(findings(app).join('\n')).toMatch(/AwsSolutions-SQS4/);
  });

  it('acknowledges only named findings on single resources, each with a specific reason', () => {
    const app = newApp({ bundle: false });
    new ZaikioTokenBrokerStack(app, 'Acks', { config: readContext(() => undefined) });
    const acks = acknowledgements(app);
    expect(acks.map(({ path, id }) => `${id} at ${path}`).sort()).toEqual([
      'AwsSolutions-SMG4 at Acks/Broker/Credentials/Client-default',
      'AwsSolutions-SQS3 at Acks/Broker/Default/ScheduleDeadLetterQueue',
    ]);
    for (const { reason } of acks) {
      expect(reason.length).toBeGreaterThan(100);
      expect(reason).not.toMatch(/\b(todo|tbd|ignore|fixme)\b/i);
    }
  });
});
