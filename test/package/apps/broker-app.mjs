// A user's ESM CDK app: the broker in one stack, a consumer function in another stack of the same
// app, granted through the construct object (CDK adds the cross-stack references).
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ZaikioTokenBroker } from 'zaikio-token-broker';

const env = { account: '111111111111', region: 'eu-central-1' };
const app = new App();

const brokerStack = new Stack(app, 'TokenBroker', { env });
const broker = new ZaikioTokenBroker(brokerStack, 'Broker', { hub: 'sandbox' });
// A consumer of another team's app (other-team-app.cjs): declared here, where its policy lives.
broker.addConsumer('invoices', {
  organizations: [process.env.ORGANIZATION_ID],
  scopes: ['warehouse.items.r'],
});

const orders = new Stack(app, 'Orders', { env });
const fn = new lambda.Function(orders, 'ListOrders', {
  runtime: lambda.Runtime.NODEJS_24_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline('exports.handler = async () => ({})'),
});
broker.grantTokenAccess(fn, {
  consumer: 'orders',
  organizations: [process.env.ORGANIZATION_ID],
  scopes: ['warehouse.*'],
});

app.synth();
