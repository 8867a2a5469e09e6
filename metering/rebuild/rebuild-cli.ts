// `npm run rebuild [-- <account>]`: recompute labels and rollups from raw events, of one account or of
// every account with events. On the embedded store, which belongs to one process, it is refused while the
// service runs (stop the service first).
import { parseArgs } from 'node:util';
import { runMaintenance, usageError } from '../../src/maintenance-cli.js';
import { RebuildService } from './rebuild.service.js';

const USAGE = 'usage: npm run rebuild [-- <account>]';

let parsed;
try {
  parsed = parseArgs({ options: { help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  if (parsed.positionals.length > 1) throw new Error(`one account at most, got ${parsed.positionals.length}`);
} catch (error) {
  usageError('rebuild', USAGE, (error as Error).message);
}
if (parsed.values.help) console.log(USAGE);
else runMaintenance('rebuild', (app) => app.get(RebuildService).rebuild(parsed.positionals[0]));
