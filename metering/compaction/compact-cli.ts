// `npm run compact [-- --all] [-- --account <id>]`: fold the meter rollups' closed hours and days into one
// row per key now, as the hourly job does. `--all` reaches back to the first event (the job looks back 48
// hours): run it once after upgrading from a version without the compaction, or after the jobs were
// stopped for long. Safe while the service runs on PostgreSQL; on the embedded store, which belongs to one
// process, it is refused while the service runs (stop the service first).
import { parseArgs } from 'node:util';
import { runMaintenance, usageError } from '../../src/maintenance-cli.js';
import { CompactionService } from './compaction.service.js';

const USAGE = 'usage: npm run compact [-- --all] [-- --account <id>] [-- --lookback-hours <n>]';

let args;
try {
  args = parseArgs({
    options: { all: { type: 'boolean' }, account: { type: 'string' }, 'lookback-hours': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (error) {
  usageError('compact', USAGE, (error as Error).message);
}
const lookback = args['lookback-hours'];
if (args.help) {
  console.log(USAGE);
} else {
  if (args.all && lookback !== undefined) usageError('compact', USAGE, '--all and --lookback-hours exclude each other');
  if (lookback !== undefined && !/^[1-9][0-9]*$/.test(lookback)) usageError('compact', USAGE, `--lookback-hours must be a whole number of hours >= 1, got "${lookback}"`);
  const options = { account: args.account, lookbackHours: args.all ? null : lookback === undefined ? undefined : Number(lookback) };
  runMaintenance('compact', (app) => app.get(CompactionService).compact(options));
}
