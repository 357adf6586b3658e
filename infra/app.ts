/**
 * The CDK app (cdk.json "app"): the broker stack, configured from context, checked with cdk-nag's
 * AwsSolutions pack on every synth. Offline: no lookups, no Docker.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ZaikioTokenBrokerStack } from './broker-stack.js';
import { readContext } from './context.js';

const app = new App();
const config = readContext((key) => app.node.tryGetContext(key));
new ZaikioTokenBrokerStack(app, config.stackName, {
  config,
  // Account and region come from the CLI's credentials at deploy time; synth needs neither.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
