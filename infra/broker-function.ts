/**
 * One factory for the broker's functions: the prebuilt bundle, Node.js 24 on arm64, JSON logs in a
 * log group of its own that only its role may write, and the per-function options users can tune.
 */
import { type Duration, type RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { HANDLER, type PrebuiltFunction, prebuiltCode } from './prebuilt.js';

/** What a user may tune per function (`functions.mint`, `functions.sweep`, `functions.refresh`). */
export interface BrokerFunctionOptions {
  /**
   * Memory in MB (also buys CPU: a faster cold start).
   * @default 512 for mint, 256 for sweep and refresh
   */
  readonly memorySize?: number;
  /**
   * Concurrent executions reserved for (and capped at) this number.
   * @default mint: what the Hub rate limit lets it use inside one Hub deadline (infra/sizing.ts);
   * sweep: 1; refresh: no reservation (the queue's maximum concurrency caps it)
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * The lowest level the function logs (Lambda advanced logging controls; Powertools reads it).
   * @default the broker's `logLevel`
   */
  readonly logLevel?: lambda.ApplicationLogLevel;
  /**
   * How long the function's logs are kept.
   * @default the broker's `logRetention`
   */
  readonly logRetention?: logs.RetentionDays;
}

/** Lambda's limits for the per-function options, checked before CloudFormation would reject them. */
const MEMORY_MB = { min: 128, max: 10_240 } as const;

function checkFunctionOptions(name: string, options: BrokerFunctionOptions): void {
  const { memorySize, reservedConcurrentExecutions } = options;
  if (
    memorySize !== undefined &&
    !Token.isUnresolved(memorySize) &&
    !(Number.isInteger(memorySize) && memorySize >= MEMORY_MB.min && memorySize <= MEMORY_MB.max)
  ) {
    throw new Error(
      `ZaikioTokenBroker: functions.${name}.memorySize ${memorySize} must be whole MB from ${MEMORY_MB.min} to ${MEMORY_MB.max}`,
    );
  }
  if (
    reservedConcurrentExecutions !== undefined &&
    !Token.isUnresolved(reservedConcurrentExecutions) &&
    !(Number.isInteger(reservedConcurrentExecutions) && reservedConcurrentExecutions >= 0)
  ) {
    throw new Error(
      `ZaikioTokenBroker: functions.${name}.reservedConcurrentExecutions ${reservedConcurrentExecutions} must be a whole number, 0 or more`,
    );
  }
}

/** Memory per function when `functions.<name>.memorySize` is not given. */
const DEFAULT_MEMORY_MB: Readonly<Record<PrebuiltFunction, number>> = {
  // More CPU for a faster cold start on the synchronous path.
  mint: 512,
  sweep: 256,
  // I/O-bound and mostly waiting for its pacer: memory buys it nothing but cost.
  refresh: 256,
};

/** The broker-wide settings each function's own options fall back to. */
export interface FunctionDefaults {
  readonly removalPolicy: RemovalPolicy;
  readonly tracing: lambda.Tracing;
  readonly logLevel: lambda.ApplicationLogLevel;
  readonly logRetention: logs.RetentionDays;
}

/** One function's options, checked and resolved against the broker's defaults. */
export interface ResolvedFunctionOptions extends FunctionDefaults {
  readonly memorySize: number;
  readonly reservedConcurrentExecutions?: number;
}

export function resolveFunctionOptions(
  name: PrebuiltFunction,
  options: BrokerFunctionOptions,
  defaults: FunctionDefaults,
): ResolvedFunctionOptions {
  checkFunctionOptions(name, options);
  return {
    ...defaults,
    memorySize: options.memorySize ?? DEFAULT_MEMORY_MB[name],
    logLevel: options.logLevel ?? defaults.logLevel,
    logRetention: options.logRetention ?? defaults.logRetention,
    ...(options.reservedConcurrentExecutions === undefined
      ? {}
      : { reservedConcurrentExecutions: options.reservedConcurrentExecutions }),
  };
}

export interface BrokerFunctionProps extends ResolvedFunctionOptions {
  readonly code: PrebuiltFunction;
  readonly role: iam.IRole;
  readonly description: string;
  readonly timeout: Duration;
  readonly environment: Readonly<Record<string, string>>;
  readonly retryAttempts?: number;
  readonly maxEventAge?: Duration;
  /** How `currentVersion` is published (the mint's, which its consumer aliases point at). */
  readonly currentVersionOptions?: lambda.VersionOptions;
}

export function createBrokerFunction(
  scope: Construct,
  id: string,
  props: BrokerFunctionProps,
): lambda.Function {
  const { code, role, logLevel, logRetention, removalPolicy, environment, ...rest } = props;
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: logRetention, removalPolicy });
  logGroup.grantWrite(role);
  return new lambda.Function(scope, id, {
    ...rest,
    code: prebuiltCode(code),
    handler: HANDLER,
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    role,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    applicationLogLevelV2: logLevel,
    // Stack traces point into the TypeScript sources (the bundle ships a source map, no sources).
    environment: { ...environment, NODE_OPTIONS: '--enable-source-maps' },
  });
}
