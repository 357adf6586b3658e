/**
 * Helpers for the infra tests: an App with cdk.json's context (the feature flags `cdk synth` uses),
 * template queries, and a small IAM evaluator for identity policies.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const cdkJson = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as {
  context: Record<string, unknown>;
};

/** `bundle: false` skips esbuild (tests that only read IAM or cdk-nag findings). */
export function newApp(options: { readonly bundle?: boolean; readonly context?: object } = {}): App {
  return new App({
    context: {
      ...cdkJson.context,
      ...(options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}),
      ...options.context,
    },
  });
}

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

const list = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Identity policy statements attached to a role, by the role's logical id. */
export function statementsOfRole(template: Template, roleLogicalId: string): PolicyStatement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) =>
      list(policy.Properties.Roles).some(
        (role) => JSON.stringify(role) === JSON.stringify({ Ref: roleLogicalId }),
      ),
    )
    .flatMap((policy) => list<PolicyStatement>(policy.Properties.PolicyDocument.Statement));
}

/** Every identity policy statement in the template, with the logical ids of the roles it is attached to. */
export function allIdentityStatements(
  template: Template,
): Array<{ roles: string[]; statement: PolicyStatement }> {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap((policy) => {
    const roles = list<{ Ref: string }>(policy.Properties.Roles).map((role) => role.Ref);
    return list<PolicyStatement>(policy.Properties.PolicyDocument.Statement).map((statement) => ({
      roles,
      statement,
    }));
  });
}

export const actionsOf = (statement: PolicyStatement): string[] => list(statement.Action);

export interface Request {
  readonly action: string;
  /** The resource as the template spells it (e.g. `{ 'Fn::GetAtt': [id, 'Arn'] }`). */
  readonly resource: unknown;
  /** Request context keys; an array is a multi-valued key. */
  readonly context: Readonly<Record<string, string | readonly string[]>>;
}

const glob = (pattern: string, value: string): boolean =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  ).test(value);

function conditionHolds(operator: string, key: string, expected: unknown, request: Request): boolean {
  const wanted = list(expected as string | string[]).map(String);
  const actual = request.context[key];
  const values = actual === undefined ? [] : typeof actual === 'string' ? [actual] : [...actual];
  switch (operator) {
    case 'StringEquals':
      return typeof actual === 'string' && wanted.includes(actual);
    case 'StringEqualsIfExists':
      return actual === undefined || (typeof actual === 'string' && wanted.includes(actual));
    case 'ForAllValues:StringEquals':
      return values.every((value) => wanted.includes(value));
    case 'ForAnyValue:StringEquals':
      return values.some((value) => wanted.includes(value));
    case 'StringNotEquals':
      // IAM: a negated operator holds when the key is absent.
      return actual === undefined || (typeof actual === 'string' && !wanted.includes(actual));
    case 'ArnNotEquals': {
      // ARNs in a template are often tokens ({ 'Fn::GetAtt': … }): the request names them as JSON.
      const arns = list(expected as unknown).map((arn) => JSON.stringify(arn));
      return actual === undefined || (typeof actual === 'string' && !arns.includes(actual));
    }
    default:
      throw new Error(`the test's IAM evaluator does not know the operator ${operator}`);
  }
}

function applies(statement: PolicyStatement, request: Request): boolean {
  if (statement.NotAction !== undefined) throw new Error('the test evaluator does not handle NotAction');
  if (!actionsOf(statement).some((action) => glob(action, request.action))) return false;
  const resourceMatches = list(statement.Resource).some((resource) =>
    resource === '*' ? true : JSON.stringify(resource) === JSON.stringify(request.resource),
  );
  if (!resourceMatches) return false;
  return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, expected]) => conditionHolds(operator, key, expected, request)),
  );
}

/** IAM's rule for identity policies: an explicit Deny wins, then an Allow, else an implicit deny. */
export function evaluate(statements: readonly PolicyStatement[], request: Request): 'allow' | 'deny' {
  const matching = statements.filter((statement) => applies(statement, request));
  if (matching.some((statement) => statement.Effect === 'Deny')) return 'deny';
  return matching.some((statement) => statement.Effect === 'Allow') ? 'allow' : 'deny';
}
