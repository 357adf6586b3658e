/**
 * The monthly cost tables of the realistic-day benchmark: by line for the current (demand-driven)
 * policy at every scale, as docs/deploy.md ("What it costs") shows it, and the totals of both
 * policies side by side for docs/BENCHMARKS.md.
 */
import type { RealisticDayResult, ScenarioRun } from '../realistic-day/experiment.js';
import { COST_LINES, hubLimitFor } from '../support/cost-model.js';
import { fixed, int, paddedTable, table } from './format.js';

const MIX_LABEL: Readonly<Record<ScenarioRun['mix'], string>> = {
  realistic: 'realistic day',
  'all-hot': 'always in use',
};

/** Dollars with cents, thousands grouped: the deployment table's format. */
export const dollars = (value: number): string => `$${fixed(value, 2)}`;

/** Scenarios in the table's order: the realistic mix first, then all hot, each by size. */
export function orderedScenarios(result: RealisticDayResult): ScenarioRun[] {
  const order = (run: ScenarioRun) => (run.mix === 'realistic' ? 0 : 1);
  return [...result.scenarios].sort((a, b) => order(a) - order(b) || a.keys - b.keys);
}

/** Whether a scenario's busiest minute needs more than the Hub's default limit of 300 requests. */
function overDefaultLimit(run: ScenarioRun): boolean {
  return [run.eager, run.demand].some((policy) => hubLimitFor(policy.day.peak) > 300);
}

/** docs/deploy.md's table: every cost line of the demand-driven policy, with the eager total below. */
export function deployCostTable(result: RealisticDayResult): string {
  const runs = orderedScenarios(result);
  const header = [
    '',
    ...runs.map((run) => `${MIX_LABEL[run.mix]}: ${int(run.keys)}${overDefaultLimit(run) ? ' ¹' : ''}`),
  ];
  const rows = [
    ['Hub token requests per month', ...runs.map((run) => int(run.demand.month.hubRequests))],
    ...COST_LINES.map((line) => [line, ...runs.map((run) => dollars(run.demand.cost.lines[line]))]),
    ['**total per month**', ...runs.map((run) => `**${dollars(run.demand.cost.total)}**`)],
    ['previous release (eager refresh), total', ...runs.map((run) => dollars(run.eager.cost.total))],
  ];
  return paddedTable(header, ['l', ...runs.map(() => 'r' as const)], rows);
}

/** docs/BENCHMARKS.md's table: both policies' totals and Hub requests at every scale. */
export function scaleTable(result: RealisticDayResult): string {
  return table(
    [
      'population',
      'keys',
      'Hub requests / month, eager',
      'demand-driven',
      'Hub limit needed / min (eager → demand)',
      'cost / month, eager',
      'demand-driven',
      'eager / demand (cost)',
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    orderedScenarios(result).map((run) => [
      MIX_LABEL[run.mix],
      int(run.keys),
      int(run.eager.month.hubRequests),
      int(run.demand.month.hubRequests),
      `${int(run.eager.sizing.hubLimitPerMinute)} → ${int(run.demand.sizing.hubLimitPerMinute)}`,
      dollars(run.eager.cost.total),
      dollars(run.demand.cost.total),
      `${fixed(run.eager.cost.total / run.demand.cost.total)} ×`,
    ]),
  );
}
