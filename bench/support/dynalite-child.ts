/**
 * Runs dynalite (local/dynamodb.ts) in its own process, so DynamoDB's work runs on another core than
 * the fleet under test, as it would in AWS. Prints `{"endpoint": "..."}` on stdout once the tables
 * exist, then serves until stdin closes or SIGTERM. Started by ./dynamodb-process.ts.
 */
import { startLocalDynamoDB } from '../../local/dynamodb.js';

const tables = process.argv.slice(2);
const path = process.env.BENCH_DYNALITE_PATH;
const dynamo = await startLocalDynamoDB(path === undefined ? {} : { path });
for (const table of tables) await dynamo.createTokensTable(table);
process.stdout.write(`${JSON.stringify({ endpoint: dynamo.endpoint })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await dynamo.stop().catch(() => undefined);
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
