/** The side-by-side benchmark in docs/BENCHMARKS.md: its section and the chart docs/benchmarks.svg. */
import {
  APPROACH_LABELS,
  type ApproachResult,
  type CompareResult,
  type StampedeResult,
} from '../compare/summary.js';
import { renderChart } from '../support/chart.js';
import { fixed, int, ms, table, usd } from './format.js';

function approachRows(approaches: readonly ApproachResult[], minimum: number): string {
  const cell = (pick: (a: ApproachResult) => string) => approaches.map(pick);
  const rows: string[][] = [
    [
      'token requests reaching the Hub',
      ...cell((a) => `${int(a.hubRequests)} (${fixed(a.hubRequests / minimum)} × min)`),
    ],
    ['Secrets Manager reads', ...cell((a) => int(a.secretsManagerReads))],
    [
      'DynamoDB requests',
      ...cell((a) =>
        a.dynamo.total === 0
          ? '0'
          : `${int(a.dynamo.total)} (${Object.entries(a.dynamo.requests)
              .map(([name, count]) => `${name} ${int(count)}`)
              .join(', ')})`,
      ),
    ],
    [
      'Lambda invokes (besides the consumers)',
      ...cell((a) =>
        a.lambdaInvokes === 0
          ? '0'
          : `${int(a.lambdaInvokes)} (mint ${a.lambda.mint.invocations}, sweep ${a.lambda.sweep.invocations}, refresh ${a.lambda.refresh.invocations})`,
      ),
    ],
    ['consumer latency p50', ...cell((a) => ms(a.latency.p50))],
    ['consumer latency p99', ...cell((a) => ms(a.latency.p99))],
    ['consumer latency max', ...cell((a) => ms(a.latency.max))],
    [
      'where calls were answered',
      ...cell((a) =>
        Object.entries(a.bySource)
          .map(
            ([source, entry]) => `${source} ${int(entry?.count ?? 0)} (p50 ${ms(entry?.p50 ?? Number.NaN)})`,
          )
          .join(', '),
      ),
    ],
    ['**USD per million consumer calls**', ...cell((a) => `**${usd(a.cost.perMillionCalls)}**`)],
  ];
  return table(['', ...approaches.map((a) => a.label)], ['l', ...approaches.map(() => 'r' as const)], rows);
}

function costRows(approaches: readonly ApproachResult[]): string {
  const names = Object.keys(approaches[0]?.cost.items ?? {});
  const rows = names.map((name) => [
    name,
    ...approaches.map((a) => {
      const value = ((a.cost.items[name] ?? 0) / a.calls) * 1e6;
      return value === 0 ? '–' : usd(value);
    }),
  ]);
  rows.push(['**total**', ...approaches.map((a) => `**${usd(a.cost.perMillionCalls)}**`)]);
  return table(
    ['USD per million consumer calls', ...approaches.map((a) => a.label)],
    ['l', ...approaches.map(() => 'r' as const)],
    rows,
  );
}

function stampedeRows(stampede: readonly StampedeResult[]): string {
  const labels: Record<string, string> = { naive: '1. naive', caching: '2. caching', broker: '3. broker' };
  return table(
    [
      'approach',
      'Hub token requests',
      'Secrets Manager reads',
      'mint invokes (containers)',
      'DynamoDB requests',
      'p50',
      'p99',
      'max',
      'errors',
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    stampede.map((s) => [
      labels[s.name] ?? s.name,
      int(s.hubRequests),
      int(s.secretsManagerReads),
      s.lambdaInvokes === 0 ? '–' : `${int(s.lambdaInvokes)} (${s.mintContainers})`,
      int(s.dynamoRequests),
      ms(s.latency.p50),
      ms(s.latency.p99),
      ms(s.latency.max),
      String(s.errors),
    ]),
  );
}

export function compareSection(compare: CompareResult): string {
  const o = compare.options;
  const p = compare.prices;
  return [
    `K = ${o.containers} consumer containers, ${o.organizations} token keys (one scope set for each of ${o.organizations} organizations), ` +
      `M = ${int(o.calls)} calls evenly spread over one simulated hour (container and key drawn at random, seed ${o.seed}, ` +
      `the same sequence for every approach), Hub latency ${o.hubLatencyMs} ms, ${o.tokenLifetimeSeconds / 60}-minute tokens. ` +
      `The minimum the token lifetimes require for these calls: **${int(compare.minimumHubRequests)}** token requests ` +
      '(for each key, the fewest tokens such that every call finds one valid for at least 60 s more).',
    '',
    approachRows(compare.approaches, compare.minimumHubRequests),
    '',
    '![Hub token requests, Secrets Manager reads, p99 latency and cost per approach](benchmarks.svg)',
    '',
    `Costs, from the counts above (${p.source}; Lambda $${p.lambdaGbSecond} per GB-s arm64 and $0.20 per million requests, ` +
      'DynamoDB $0.125 per million RRU and $0.625 per million WRU as computed by dynalite, plus 2 WRU per move of a due-index ' +
      "entry, SQS $0.40 per million requests plus Lambda's idle long polls (~890 an hour, docs/deploy.md), EventBridge " +
      `Scheduler $1 per million, Secrets Manager $0.05 per 10,000 calls; the consumers' time spent waiting for a token at ` +
      `${p.consumerMemoryGb * 1024} MB). Monthly fixed costs (the secret, the broker's alarms and dashboard) are left out.`,
    '',
    costRows(compare.approaches),
    '',
    `**Stampede**: ${int(compare.stampede[0]?.requests ?? 0)} concurrent requests for one key nobody has asked for yet, spread ` +
      `over ${compare.stampede[0]?.containers ?? 0} fresh containers, real time:`,
    '',
    stampedeRows(compare.stampede),
    '',
    `**Consumer client reads.** Warm (memory) read, ${int(compare.warmRead.calls)} calls in a tight loop, each timed: ` +
      `p50 **${fixed(compare.warmRead.p50Us)} µs**, p99 ${fixed(compare.warmRead.p99Us)} µs, mean ${fixed(compare.warmRead.meanUs)} µs. ` +
      `Cold read (a new client, the key in the table), median of ${int(compare.coldRead.samples)}: ` +
      `**${ms(compare.coldRead.consumerMedianMs)}** against a bare \`GetItem\` of the same item on the same client ` +
      `${ms(compare.coldRead.bareGetItemMedianMs)} (**${fixed(compare.coldRead.ratio, 3)} ×**) and a bare \`GetItem\` with the ` +
      `consumer's projection ${ms(compare.coldRead.bareProjectedMedianMs)}.`,
    '',
    `Command: \`${compare.command}\``,
  ].join('\n');
}

/** docs/benchmarks.svg: the hour's four headline figures, one bar per approach. */
export function compareChart(compare: CompareResult): string {
  const colors = { naive: '#d62728', caching: '#ff7f0e', broker: '#1f77b4' } as const;
  const { approaches, options } = compare;
  return renderChart({
    title: 'Three ways to get Zaikio tokens in a Lambda fleet',
    subtitle:
      `${options.containers} containers, ${options.calls} calls over a simulated hour, Hub latency ${options.hubLatencyMs} ms, ` +
      `${options.tokenLifetimeSeconds / 60}-minute tokens (minimum ${compare.minimumHubRequests} token requests)`,
    series: approaches.map((approach) => ({
      name: APPROACH_LABELS[approach.name],
      color: colors[approach.name],
    })),
    panels: [
      { title: 'Hub token requests', bars: approaches.map((a) => ({ value: a.hubRequests })) },
      { title: 'Secrets Manager reads', bars: approaches.map((a) => ({ value: a.secretsManagerReads })) },
      {
        title: 'consumer p99 latency, ms',
        bars: approaches.map((a) => ({
          value: a.latency.p99,
          text: a.latency.p99.toFixed(a.latency.p99 < 10 ? 1 : 0),
        })),
      },
      {
        title: 'USD per million calls',
        bars: approaches.map((a) => ({
          value: a.cost.perMillionCalls,
          text: `$${a.cost.perMillionCalls.toFixed(2)}`,
        })),
      },
    ],
  });
}
