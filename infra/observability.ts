/**
 * Alarms and the dashboard. Custom metrics are the ones the functions publish with Powertools
 * Metrics (CloudWatch EMF): namespace METRICS_NAMESPACE, one dimension `service` = the broker's
 * service name (POWERTOOLS_SERVICE_NAME), so two brokers in one account keep separate metrics.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE } from '../functions/core/metrics.js';
import type { BrokerSettings } from '../functions/core/settings.js';

/** The dimension Powertools Metrics adds to every metric. */
export const SERVICE_DIMENSION = 'service';

export interface BrokerObservabilityProps {
  readonly serviceName: string;
  readonly sweepInterval: Duration;
  /** The functions' settings: the refresh window, minimum validity, backoff and Hub deadline. */
  readonly settings: BrokerSettings;
  readonly table: dynamodb.ITable;
  readonly functions: {
    readonly mint: lambda.IFunction;
    readonly sweep: lambda.IFunction;
    readonly refresh: lambda.IFunction;
  };
  readonly queues: {
    readonly refresh: sqs.IQueue;
    readonly refreshDeadLetter: sqs.IQueue;
    readonly scheduleDeadLetter: sqs.IQueue;
  };
  readonly alarmTopic?: sns.ITopic;
}

const FIVE_MINUTES = Duration.minutes(5);
/** The broker's own DynamoDB calls: the throttles and system errors that alarm. */
const TABLE_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.QUERY,
];

/**
 * TokensOverdue's threshold (s): a key this far past its refresh time still has at least the
 * minimum validity left, since it became due with the whole refresh window ahead of its expiry.
 */
export function overdueThresholdSeconds(
  settings: Pick<BrokerSettings, 'refreshAheadMs' | 'minValiditySeconds'>,
): number {
  return (settings.refreshAheadMs - settings.minValiditySeconds * 1000) / 1000;
}

export class BrokerObservability extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  readonly #props: BrokerObservabilityProps;

  constructor(scope: Construct, id: string, props: BrokerObservabilityProps) {
    super(scope, id);
    this.#props = props;
    const { functions, queues, sweepInterval, settings, table } = props;

    for (const [name, queue, what] of [
      [
        'RefreshDeadLetterQueueNotEmpty',
        queues.refreshDeadLetter,
        'refresh requests the worker failed repeatedly',
      ],
      [
        'ScheduleDeadLetterQueueNotEmpty',
        queues.scheduleDeadLetter,
        'sweeps EventBridge Scheduler could not start',
      ],
    ] as const) {
      this.#alarm(name, {
        metric: queue.metricApproximateNumberOfMessagesVisible({
          period: FIVE_MINUTES,
          statistic: 'Maximum',
        }),
        threshold: 1,
        description: `A dead-letter queue holds ${what}. Inspect the messages, fix the cause, then purge or redrive.`,
      });
    }
    this.#alarm('RefreshFailures', {
      metric: this.metric(METRIC.refreshFailures, 'Sum', FIVE_MINUTES),
      threshold: 1,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      description:
        'Token refreshes keep failing at the Hub (outage, rate limit or refused credentials). See the worker logs.',
    });
    this.#alarm('TokensRevoked', {
      metric: this.metric(METRIC.revoked, 'Sum', FIVE_MINUTES),
      threshold: 1,
      description:
        'The Hub refused to renew a token for good (scope or connection withdrawn). Its consumers now get an error.',
    });
    // The sizing keeps the refresh window at least one sweep plus the minimum validity, so a key
    // found on time is under this threshold; the first sweep it misses crosses it while its token
    // still serves every consumer. The worker reports keys in backoff (out of the sweeper's sight) at
    // each retry, so one datapoint alarms and the alarm holds for as long as the longest backoff.
    const overdue = overdueThresholdSeconds(settings);
    const backoffSweeps = Math.ceil(settings.failureBackoffMaxMs / sweepInterval.toMilliseconds());
    this.#alarm('TokensOverdue', {
      metric: this.metric(METRIC.oldestOverdueSeconds, 'Maximum', sweepInterval),
      threshold: overdue,
      evaluationPeriods: Math.max(1, backoffSweeps),
      datapointsToAlarm: 1,
      description:
        `A token is ${overdue} s past its refresh time, found late by the sweeper or failing at the worker: ` +
        'it still has the minimum validity left, but refreshes are not keeping up.',
    });
    this.#alarm('RefreshQueueBacklog', {
      metric: queues.refresh.metricApproximateAgeOfOldestMessage({
        period: FIVE_MINUTES,
        statistic: 'Maximum',
      }),
      threshold: 300,
      description:
        'Refresh requests wait over 5 minutes in the queue: the worker is throttled, failing or too slow.',
    });
    const silence = Duration.minutes(Math.max(5, 2 * sweepInterval.toMinutes()));
    this.#alarm('SweeperNotRunning', {
      metric: functions.sweep.metricInvocations({ period: silence, statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      description: `The sweeper has not run for ${silence.toMinutes()} minutes: the schedule is off or cannot invoke it.`,
    });
    // The mint function reports the caller's refusals as function errors too: those are left out.
    this.#alarm('MintFunctionErrors', {
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(errors, 0) - FILL(refusals, 0)',
        usingMetrics: {
          errors: functions.mint.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
          refusals: this.metric(METRIC.mintRefusals, 'Sum', FIVE_MINUTES),
        },
        label: 'mint errors that are not the caller’s',
        period: FIVE_MINUTES,
      }),
      threshold: 5,
      description:
        'The mint function failed 5 or more times in 5 minutes for the broker or the Hub (not bad requests ' +
        'or ungranted scopes: MintRefusals). See its log group.',
    });
    for (const [name, fn] of [
      ['Sweep', functions.sweep],
      ['Refresh', functions.refresh],
    ] as const) {
      this.#alarm(`${name}FunctionErrors`, {
        metric: fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
        threshold: 1,
        description: `The ${name.toLowerCase()} function failed 1 or more times in 5 minutes. See its log group.`,
      });
    }
    for (const [name, fn] of [
      ['Mint', functions.mint],
      ['Sweep', functions.sweep],
      ['Refresh', functions.refresh],
    ] as const) {
      this.#alarm(`${name}FunctionThrottles`, {
        metric: fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }),
        threshold: 1,
        description: `Lambda throttled the ${name.toLowerCase()} function (account or reserved concurrency exhausted).`,
      });
    }
    const slow = settings.hubDeadlineMs;
    this.#alarm('MintDurationP99', {
      metric: functions.mint.metricDuration({ period: FIVE_MINUTES, statistic: 'p99' }),
      threshold: slow,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      description: `1 % of mints take ${slow / 1000} s (a whole Hub deadline) or more: callers wait on leases or a slow Hub.`,
    });
    this.#alarm('TableThrottles', {
      metric: table.metricThrottledRequestsForOperations({
        operations: TABLE_OPERATIONS,
        period: FIVE_MINUTES,
      }),
      threshold: 1,
      description: 'DynamoDB throttled the broker’s reads or writes of the tokens table.',
    });
    this.#alarm('TableSystemErrors', {
      metric: table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES }),
      threshold: 1,
      description: 'DynamoDB answered the broker with internal server errors.',
    });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          this.#graph('Mints', [METRIC.tokensServed, METRIC.tokensMinted]),
          this.#graph('Refreshes', [
            METRIC.refreshed,
            METRIC.fellBackToClientCredentials,
            METRIC.skipped,
            METRIC.retired,
          ]),
          this.#graph('Failures', [
            METRIC.mintFailures,
            METRIC.mintRefusals,
            METRIC.refreshFailures,
            METRIC.revoked,
          ]),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Token age: most overdue token (s) and tokens due per sweep',
            left: [this.metric(METRIC.oldestOverdueSeconds, 'Maximum', sweepInterval)],
            right: [this.metric(METRIC.due, 'Sum', sweepInterval)],
            leftAnnotations: [{ value: overdue, label: 'alarm' }],
          }),
          new cloudwatch.GraphWidget({
            title: 'Refresh queue',
            left: [
              queues.refresh.metricApproximateNumberOfMessagesVisible(),
              queues.refreshDeadLetter.metricApproximateNumberOfMessagesVisible({ label: 'dead letters' }),
            ],
            right: [queues.refresh.metricApproximateAgeOfOldestMessage()],
          }),
          new cloudwatch.GraphWidget({
            title: 'Function errors and throttles',
            left: Object.entries(functions).flatMap(([name, fn]) => [
              fn.metricErrors({ label: `${name} errors` }),
              fn.metricThrottles({ label: `${name} throttles` }),
            ]),
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Duration p99 (ms)',
            left: Object.entries(functions).map(([name, fn]) =>
              fn.metricDuration({ statistic: 'p99', label: name }),
            ),
          }),
          new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 12 }),
        ],
      ],
    });
  }

  /** A custom metric of this broker. */
  metric(name: string, statistic: 'Sum' | 'Maximum', period: Duration = FIVE_MINUTES): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: { [SERVICE_DIMENSION]: this.#props.serviceName },
      statistic,
      period,
    });
  }

  #graph(title: string, names: readonly string[]): cloudwatch.GraphWidget {
    return new cloudwatch.GraphWidget({ title, left: names.map((name) => this.metric(name, 'Sum')) });
  }

  #alarm(
    id: string,
    options: {
      readonly metric: cloudwatch.IMetric;
      readonly threshold: number;
      readonly description: string;
      readonly evaluationPeriods?: number;
      readonly datapointsToAlarm?: number;
      readonly comparisonOperator?: cloudwatch.ComparisonOperator;
      readonly treatMissingData?: cloudwatch.TreatMissingData;
    },
  ): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric: options.metric,
      threshold: options.threshold,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      datapointsToAlarm: options.datapointsToAlarm ?? 1,
      comparisonOperator:
        options.comparisonOperator ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: options.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: options.description,
    });
    if (this.#props.alarmTopic !== undefined) {
      const action = new actions.SnsAction(this.#props.alarmTopic);
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    this.alarms.push(alarm);
  }
}
