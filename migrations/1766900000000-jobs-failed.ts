// The jobs that failed their last attempt, counted on every /metrics scrape (tokenmeter_jobs{state="failed"}):
// an index of their own, so the count does not walk the month of finished jobs the table keeps.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class JobsFailed1766900000000 implements MigrationInterface {
  name = 'JobsFailed1766900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX jobs_failed ON jobs (finished_at) WHERE status = 'failed'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX jobs_failed`);
  }
}
