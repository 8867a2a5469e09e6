// One run id per `npm test`: every database a test file creates carries it, so teardown drops only ours.
// (The teardown imports nothing of the tests': jest maps no module names for it.)
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup(): void {
  const run = `tmt_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  process.env.TOKENMETER_TEST_RUN = run;
  // Where the run's migrated embedded store is kept: test-app.ts makes it, global-teardown.ts removes it.
  process.env.TOKENMETER_TEST_TEMPLATE = join(tmpdir(), `${run}.embedded-template.tar`);
}
