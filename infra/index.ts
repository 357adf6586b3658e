/**
 * The package's construct entry point, `zaikio-token-broker`: the CDK construct, its interface and
 * props, and the types they name. The consumer client is the other entry point,
 * `zaikio-token-broker/consumer` (functions/consumer/index.ts), and imports nothing from here.
 */

export { CONSUMER_ENV } from '../functions/core/env.js';
export type { HubEnvironment } from '../functions/core/hub/environments.js';
export type { BrokerSettings } from '../functions/core/settings.js';
export type { BrokerFunctionOptions } from './broker-function.js';
export type { ClientSecret, ExistingSecret, ZaikioClient } from './client-secrets.js';
export type { BrokerObservability } from './observability.js';
export type { Sizing, TunableSettings } from './sizing.js';
export type {
  IZaikioTokenBroker,
  TokenAccessOptions,
  ZaikioTokenBrokerAttributes,
} from './token-access.js';
export {
  type HubBaseUrl,
  type HubRateLimit,
  ZaikioTokenBroker,
  type ZaikioTokenBrokerProps,
} from './zaikio-token-broker.js';
