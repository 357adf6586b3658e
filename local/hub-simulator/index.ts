export { DEFAULT_APP, DEFAULT_KNOWN_SCOPES, TOKEN_PATH } from './config.js';
export { RATE_LIMIT_RULE } from './faults.js';
export { decodeJwt, type HubJwtPayload } from './jwt.js';
export { HubSimulator } from './server.js';
export type {
  Fault,
  FaultKind,
  FaultRule,
  HubSimulatorOptions,
  RecordedRequest,
  SimulatorApp,
  SimulatorGrant,
} from './types.js';
