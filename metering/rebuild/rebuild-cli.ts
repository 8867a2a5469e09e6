// `npm run rebuild [-- <account>]`: recompute labels and rollups from raw events (stop the service first
// when on the embedded store, which belongs to one process).
import { runMaintenance } from '../../src/maintenance-cli.js';
import { RebuildService } from './rebuild.service.js';

runMaintenance('rebuild', (app) => app.get(RebuildService).rebuild(process.argv[2]));
