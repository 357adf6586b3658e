// Another team's CommonJS CDK app: it knows the broker only from the outputs of the broker's stack
// (BrokerAttributes), and requires the ESM package (Node 22.12 and later load it with require()).
const { App, Stack } = require('aws-cdk-lib');
const iam = require('aws-cdk-lib/aws-iam');
const lambda = require('aws-cdk-lib/aws-lambda');
const { ZaikioTokenBroker } = require('zaikio-token-broker');

const app = new App();
const stack = new Stack(app, 'Invoices', { env: { account: '111111111111', region: 'eu-central-1' } });
const broker = ZaikioTokenBroker.fromBrokerAttributes(
  stack,
  'Broker',
  JSON.parse(process.env.BROKER_ATTRIBUTES),
);

const fn = new lambda.Function(stack, 'SendInvoices', {
  runtime: lambda.Runtime.NODEJS_24_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline('exports.handler = async () => ({})'),
});
// The consumer the broker's stack declared (addConsumer), which holds its policy; the bearers here
// limit this function's reads to the same organization.
broker.grantTokenAccess(fn, { consumer: 'invoices', organizations: [process.env.ORGANIZATION_ID] });

// A container task's role: granted too, but its environment is the user's to pass.
const taskRole = new iam.Role(stack, 'TaskRole', {
  assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
});
broker.grantTokenAccess(taskRole, { consumer: 'invoices-tasks', allBearers: true });

app.synth();
