// The period's spend, for the reading returned with every ingested event: cost per account, day and
// shard only, so "spent this period" is a sum over at most a few hundred rows however many tiers,
// labels and channels the daily rollup holds. Filled from the daily rollup for data already stored.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class MeterSpend1764300000000 implements MigrationInterface {
  name = 'MeterSpend1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE meter_spend_daily (
        account_id text NOT NULL,
        day date NOT NULL,
        shard smallint NOT NULL,
        cost numeric NOT NULL,
        PRIMARY KEY (account_id, day, shard)
      )`);
    await q.query(`
      INSERT INTO meter_spend_daily (account_id, day, shard, cost)
      SELECT account_id, day, 0, sum(cost) FROM meter_daily GROUP BY account_id, day HAVING sum(cost) <> 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE meter_spend_daily');
  }
}
