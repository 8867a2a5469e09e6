// One run id per `npm test`: every database a test file creates carries it, so teardown drops only ours.
import { randomBytes } from 'node:crypto';

export default function globalSetup(): void {
  process.env.TOKENMETER_TEST_RUN = `tmt_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}
