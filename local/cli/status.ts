/**
 * `status` (alias `doctor`): is the broker healthy? Gathers tokens by status, the most overdue key,
 * the last sweep, queue and dead-letter depths and, for a deployed broker found by its stack, alarm
 * states and placeholder secrets; lists what needs attention (the exit code is 1 when anything does).
 *
 * Where the last sweep comes from: the local runtime records it and serves it at /local/status; for a
 * deployed broker it is the last minute with AWS/Lambda `Invocations` of the sweep function.
 */
import { resolveSettings } from '../../functions/core/settings.js';
import { LOCAL_STATUS_PATH, type LocalStatus } from '../status.js';
import {
  alarmStates,
  lastSweepInvocation,
  queueDepths,
  SWEEP_LOOKBACK_MS,
  scheduleIntervalOf,
  secretStates,
} from './deployed.js';
import { CliError, duration, iso } from './output.js';
import type { DeployedTarget, LocalTarget, Target } from './target.js';
import { readTokens, type TokenView } from './tokens.js';

export interface StatusReport {
  readonly broker: string;
  readonly tokens: {
    readonly total: number;
    readonly byStatus: Readonly<Record<string, number>>;
    /** Keys of failing, revoked and corrupt items: "pk sk". */
    readonly unhealthy: readonly { readonly key: string; readonly status: string; readonly error?: string }[];
  };
  readonly oldestOverdue: { readonly key: string; readonly overdueSeconds: number } | null;
  readonly overdueAfterSeconds: number;
  readonly lastSweep: {
    readonly at: string | null;
    readonly source: string;
    readonly detail?: string;
  } | null;
  readonly queues: readonly {
    readonly name: string;
    readonly visible: number;
    readonly inFlight: number;
    readonly deadLetter: boolean;
    readonly keys?: readonly string[];
  }[];
  readonly alarms?: readonly { readonly name: string; readonly state: string }[];
  readonly secrets?: readonly {
    readonly client: string;
    readonly arn: string;
    readonly placeholder: boolean | null;
  }[];
  /** What was not looked at, and why. */
  readonly notChecked: readonly string[];
  readonly attention: readonly string[];
}

const DEFAULT_INTERVAL_MS = resolveSettings().scheduleIntervalMs;

function summarize(views: readonly TokenView[], now: number, overdueAfterMs: number) {
  const byStatus: Record<string, number> = { active: 0, failing: 0, revoked: 0, corrupt: 0 };
  const unhealthy: { key: string; status: string; error?: string }[] = [];
  let oldest: TokenView | undefined;
  for (const view of views) {
    byStatus[view.status] = (byStatus[view.status] ?? 0) + 1;
    if (view.status !== 'active') {
      const error = view.problem ?? (view.lastError && `${view.lastError.code}: ${view.lastError.message}`);
      unhealthy.push({ key: `${view.pk} ${view.sk}`, status: view.status, ...(error ? { error } : {}) });
    }
    if (
      view.dueAt !== undefined &&
      view.dueAt < now &&
      (oldest?.dueAt ?? Number.POSITIVE_INFINITY) > view.dueAt
    ) {
      oldest = view;
    }
  }
  const oldestOverdue =
    oldest?.dueAt === undefined
      ? null
      : { key: `${oldest.pk} ${oldest.sk}`, overdueSeconds: Math.round((now - oldest.dueAt) / 1000) };
  const attention: string[] = [];
  for (const status of ['failing', 'revoked', 'corrupt']) {
    const count = byStatus[status] ?? 0;
    if (count > 0) attention.push(`${count} token(s) ${status}`);
  }
  if (oldestOverdue !== null && oldestOverdue.overdueSeconds * 1000 >= overdueAfterMs) {
    attention.push(
      `${oldestOverdue.key} is ${duration(oldestOverdue.overdueSeconds * 1000)} past its refresh time`,
    );
  }
  return { tokens: { total: views.length, byStatus, unhealthy }, oldestOverdue, attention };
}

async function localStatus(target: LocalTarget): Promise<LocalStatus> {
  let response: Response;
  try {
    response = await fetch(`${target.lambdaUrl}${LOCAL_STATUS_PATH}`);
  } catch {
    throw new CliError(`nothing listens on ${target.lambdaUrl}; start it with npm start`, 1);
  }
  if (!response.ok) {
    throw new CliError(
      `${target.lambdaUrl}${LOCAL_STATUS_PATH} answered ${response.status}: is this the local runtime?`,
      1,
    );
  }
  return (await response.json()) as LocalStatus;
}

export async function collectStatus(
  target: Target,
  table: string,
  options: { readonly overdueAfterSeconds?: number | undefined; readonly now?: () => number } = {},
): Promise<StatusReport> {
  const now = options.now ?? Date.now;
  return target.kind === 'local'
    ? collectLocal(target, table, now, options.overdueAfterSeconds)
    : collectDeployed(target, table, now, options.overdueAfterSeconds);
}

async function collectLocal(
  target: LocalTarget,
  table: string,
  now: () => number,
  overdueAfterSeconds: number | undefined,
): Promise<StatusReport> {
  const runtime = await localStatus(target);
  const views = await readTokens(target.dynamodb, table);
  const at = now();
  const interval = runtime.scheduleIntervalMs;
  const overdueAfterMs = overdueAfterSeconds === undefined ? 2 * interval : overdueAfterSeconds * 1000;
  const summary = summarize(views, at, overdueAfterMs);
  const attention = [...summary.attention];
  const sweep = runtime.lastSweep;
  const sinceStart = at - Date.parse(runtime.startedAt);
  if (sweep === null && sinceStart > 3 * interval)
    attention.push(`no sweep since the runtime started ${duration(sinceStart)} ago`);
  if (sweep !== null && at - Date.parse(sweep.at) > 3 * interval + 60_000) {
    attention.push(
      `the last sweep was ${duration(at - Date.parse(sweep.at))} ago (every ${duration(interval)} expected)`,
    );
  }
  if (sweep?.error !== undefined) attention.push(`the last sweep failed: ${sweep.error}`);
  const dead = runtime.deadLetterQueue;
  if (dead.messages > 0) attention.push(`${dead.messages} message(s) in the refresh dead-letter queue`);
  return {
    broker: `local runtime (DynamoDB ${target.dynamodbUrl}, Lambda ${target.lambdaUrl})`,
    ...summary,
    overdueAfterSeconds: overdueAfterMs / 1000,
    lastSweep:
      sweep === null
        ? null
        : {
            at: sweep.at,
            source: 'the local runtime',
            detail:
              sweep.error === undefined
                ? `${sweep.due ?? 0} due, ${sweep.enqueued ?? 0} queued${sweep.backlog ? ', backlog' : ''}`
                : `failed: ${sweep.error}`,
          },
    queues: [
      {
        name: 'refresh',
        visible: runtime.refreshQueue.visible,
        inFlight: runtime.refreshQueue.inFlight,
        deadLetter: false,
      },
      {
        name: 'refresh dead-letter',
        visible: dead.messages,
        inFlight: 0,
        deadLetter: true,
        keys: dead.deadLetters.flatMap((letter) => letter.keys),
      },
    ],
    notChecked: ['alarms and secrets: none locally'],
    attention,
  };
}

async function collectDeployed(
  target: DeployedTarget,
  table: string,
  now: () => number,
  overdueAfterSeconds: number | undefined,
): Promise<StatusReport> {
  const { clients, stack } = target;
  const interval =
    (target.mintFunction === undefined
      ? undefined
      : await scheduleIntervalOf(clients.lambda, target.mintFunction)) ?? DEFAULT_INTERVAL_MS;
  const overdueAfterMs = overdueAfterSeconds === undefined ? 2 * interval : overdueAfterSeconds * 1000;
  const at = now();
  const [views, queues, alarms, secrets, lastSweep] = await Promise.all([
    readTokens(target.dynamodb, table),
    stack === undefined ? undefined : queueDepths(clients.sqs, stack.queues),
    stack === undefined ? undefined : alarmStates(clients.cloudwatch, stack.alarms),
    stack === undefined ? undefined : secretStates(clients.secretsManager, stack.secrets),
    stack?.sweepFunction === undefined
      ? undefined
      : lastSweepInvocation(clients.cloudwatch, stack.sweepFunction, at),
  ]);
  const summary = summarize(views, at, overdueAfterMs);
  const attention = [...summary.attention];
  const notChecked: string[] = [];
  if (stack === undefined) notChecked.push('queues, alarms, secrets and the last sweep: pass --stack NAME');
  if (stack !== undefined && stack.sweepFunction === undefined)
    notChecked.push('the last sweep: no sweep function in the stack');
  for (const queue of queues ?? []) {
    if (queue.role !== 'refresh' && queue.visible + queue.inFlight > 0) {
      attention.push(`${queue.visible + queue.inFlight} message(s) in the ${queue.role} queue`);
    }
  }
  for (const alarm of alarms ?? [])
    if (alarm.state === 'ALARM') attention.push(`alarm ${alarm.name} is in ALARM`);
  for (const secret of secrets ?? []) {
    if (secret.placeholder === true) {
      attention.push(
        `the ${secret.client} secret still holds its placeholder: put the app's credentials in it`,
      );
    }
  }
  if (stack?.sweepFunction !== undefined && lastSweep === undefined) {
    attention.push(`no sweep invocation in the last ${SWEEP_LOOKBACK_MS / 60_000} minutes`);
  }
  return {
    broker: stack === undefined ? `deployed table ${table}` : `stack ${stack.name} (table ${table})`,
    ...summary,
    overdueAfterSeconds: overdueAfterMs / 1000,
    lastSweep:
      stack?.sweepFunction === undefined
        ? null
        : {
            at: iso(lastSweep) ?? null,
            source: `AWS/Lambda Invocations of ${stack.sweepFunction}, 1-minute periods`,
          },
    queues: (queues ?? []).map((queue) => ({
      name: queue.role,
      visible: queue.visible,
      inFlight: queue.inFlight,
      deadLetter: queue.role !== 'refresh',
    })),
    ...(alarms === undefined ? {} : { alarms }),
    ...(secrets === undefined
      ? {}
      : {
          secrets: secrets.map((secret) => ({
            client: secret.client,
            arn: secret.arn,
            // null: an imported secret, whose history is its owner's business.
            placeholder: secret.placeholder ?? null,
          })),
        }),
    notChecked,
    attention,
  };
}

export function renderStatus(report: StatusReport, now: number): string[] {
  const lines: string[] = [];
  const field = (name: string, value: string) => lines.push(`${name.padEnd(16)}${value}`);
  field('broker', report.broker);
  const { byStatus } = report.tokens;
  field(
    'tokens',
    `${report.tokens.total}: ${Object.entries(byStatus)
      .map(([status, count]) => `${count} ${status}`)
      .join(', ')}`,
  );
  for (const entry of report.tokens.unhealthy) {
    lines.push(
      `  ${entry.status.padEnd(9)}${entry.key}${entry.error === undefined ? '' : `  (${entry.error.slice(0, 80)})`}`,
    );
  }
  field(
    'oldest overdue',
    report.oldestOverdue === null
      ? 'none'
      : `${report.oldestOverdue.key}, ${duration(report.oldestOverdue.overdueSeconds * 1000)} past its refresh time (attention from ${duration(report.overdueAfterSeconds * 1000)})`,
  );
  if (report.lastSweep !== null) {
    const { at, detail, source } = report.lastSweep;
    field(
      'last sweep',
      at === null
        ? `none found (${source})`
        : `${duration(now - Date.parse(at))} ago${detail === undefined ? '' : `: ${detail}`} (${source})`,
    );
  }
  for (const queue of report.queues) {
    field(
      queue.deadLetter ? 'dead letters' : 'refresh queue',
      queue.deadLetter
        ? `${queue.visible + queue.inFlight} in the ${queue.name} queue`
        : `${queue.visible} waiting, ${queue.inFlight} in flight`,
    );
    for (const key of queue.keys ?? []) lines.push(`  ${key}`);
  }
  if (report.alarms !== undefined) {
    const counts = new Map<string, number>();
    for (const alarm of report.alarms) counts.set(alarm.state, (counts.get(alarm.state) ?? 0) + 1);
    field(
      'alarms',
      `${report.alarms.length}: ${[...counts].map(([state, count]) => `${count} ${state}`).join(', ') || 'none'}`,
    );
    for (const alarm of report.alarms)
      if (alarm.state !== 'OK') lines.push(`  ${alarm.state.padEnd(18)}${alarm.name}`);
  }
  for (const secret of report.secrets ?? []) {
    field(
      `secret ${secret.client}`,
      secret.placeholder === null
        ? 'imported (not checked)'
        : secret.placeholder
          ? 'PLACEHOLDER: no value put yet'
          : 'value put',
    );
  }
  for (const what of report.notChecked) field('not checked', what);
  if (report.attention.length === 0) lines.push('healthy');
  else {
    lines.push(`needs attention (${report.attention.length}):`);
    for (const line of report.attention) lines.push(`  - ${line}`);
  }
  return lines;
}
