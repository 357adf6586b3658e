/**
 * The refresh fleet benchmark on its own (bench/refresh-fleet/): one run, its result printed as
 * JSON, nothing written. `npm run bench` runs it with the others and writes docs/BENCHMARKS.md.
 */
import { FLEET_DEFAULTS, runRefreshFleet } from './refresh-fleet/experiment.js';
import { numberFlag, parseCommandLine } from './support/cli.js';

const USAGE = `
Usage: npx tsx bench/refresh-fleet.ts [--items=N] [--rate=R] [--interval=MS] [--batch=B] [--latency=MS] [--timeout=S]

N due token items refreshed by the real sweeper and refresh workers against the Hub simulator,
limited to R requests a second. Reports wall time against the ideal N/R; prints the result as JSON.

  --items=N        due items (default 10000)
  --rate=R         Hub requests per second the refresh fleet may make (default 200)
  --interval=MS    the sweeper's schedule, shortened from a minute (default ${FLEET_DEFAULTS.scheduleIntervalMs})
  --batch=B        SQS messages per worker invocation, 1 to 10 (default ${FLEET_DEFAULTS.batchSize})
  --latency=MS     the Hub simulator's latency (default ${FLEET_DEFAULTS.hubLatencyMs})
  --timeout=S      stop after S seconds and project the rest (default 4 × N/R + 60 s)
  -h, --help       this text
`;

const options = parseCommandLine(
  USAGE,
  {
    items: { type: 'string' },
    rate: { type: 'string' },
    interval: { type: 'string' },
    batch: { type: 'string' },
    latency: { type: 'string' },
    timeout: { type: 'string' },
  },
  (values) => {
    const timeout = numberFlag('timeout', values.timeout, { min: 1 });
    return {
      items: numberFlag('items', values.items, { integer: true, min: 1 }) ?? 10_000,
      rate: numberFlag('rate', values.rate, { min: 1 }) ?? 200,
      scheduleIntervalMs:
        numberFlag('interval', values.interval, { integer: true, min: 1 }) ??
        FLEET_DEFAULTS.scheduleIntervalMs,
      // The construct's refreshBatchSize allows 1 to 10.
      batchSize:
        numberFlag('batch', values.batch, { integer: true, min: 1, max: 10 }) ?? FLEET_DEFAULTS.batchSize,
      hubLatencyMs: numberFlag('latency', values.latency, { min: 0 }) ?? FLEET_DEFAULTS.hubLatencyMs,
      ...(timeout === undefined ? {} : { timeoutMs: timeout * 1000 }),
    };
  },
);
const result = await runRefreshFleet(options);
console.log(JSON.stringify(result, null, 2));
