// A count per account of the rewrites of its rollup rows other than ingest's additions (the compaction
// folding rows into COMPACTED_SHARD, the rebuild replacing them), bumped in the rewrite's own transaction.
// A reader that remembers rows it read (the hourly reading's closed hours, metering/readings/hourly-
// readings.ts) compares it to know they may have moved. No row: no rewrite yet (generation 0).
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class MeterRewrites1766100000000 implements MigrationInterface {
  name = 'MeterRewrites1766100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE meter_rewrites (account_id text PRIMARY KEY, generation bigint NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE meter_rewrites');
  }
}
