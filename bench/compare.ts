/**
 * The side-by-side benchmark on its own (bench/compare/): prints its result as JSON and writes
 * nothing. `npm run bench` runs it with the others and writes docs/BENCHMARKS.md.
 */

import { DEFAULT_PARAMETERS, runCompare } from './compare/experiment.js';
import { numberFlag, parseCommandLine } from './support/cli.js';

const USAGE = `
Usage: npx tsx bench/compare.ts [--calls=M] [--containers=K] [--organizations=N]

Three ways to get Zaikio tokens in a Lambda fleet (naive, per-container caching, this broker) over a
simulated hour, then the stampede and the consumer client's warm and cold reads. Prints the result
as JSON.

  --calls=M            consumer calls over the simulated hour (default ${DEFAULT_PARAMETERS.calls})
  --containers=K       consumer containers (default ${DEFAULT_PARAMETERS.containers})
  --organizations=N    token keys: one scope set for each of N organizations (default ${DEFAULT_PARAMETERS.organizations})
  -h, --help           this text
`;

const options = parseCommandLine(
  USAGE,
  {
    calls: { type: 'string' },
    containers: { type: 'string' },
    organizations: { type: 'string' },
  },
  (values) => {
    const whole = { integer: true, min: 1 };
    const calls = numberFlag('calls', values.calls, whole);
    const containers = numberFlag('containers', values.containers, whole);
    const organizations = numberFlag('organizations', values.organizations, whole);
    return {
      ...(calls === undefined ? {} : { calls }),
      ...(containers === undefined ? {} : { containers }),
      ...(organizations === undefined ? {} : { organizations }),
    };
  },
);
const result = await runCompare(options);
console.log(JSON.stringify(result, null, 2));
