// One row per hour (and shard) with the label folded into effective and ineffective tokens: readings by hour
// and the hours at a reading's edges sum a quarter of the rows of meter_hourly_totals (one per label), which
// kept `group_by=hour` over a month above 10 ms p99 (BENCHMARKS.md). Filled from meter_hourly_totals for the
// data already stored (same shards, so readings are unchanged). rollup-sql.ts says which rollup answers what.
import type { MigrationInterface, QueryRunner } from 'typeorm';

const SUMS = ['calls', 'input', 'cached_input', 'cache_write', 'output', 'reasoning'];
const TOKENS = '(input + cached_input + cache_write + output)';

export class MeterHours1766000000000 implements MigrationInterface {
  name = 'MeterHours1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE meter_hours (
        account_id text NOT NULL,
        hour timestamptz NOT NULL,
        shard smallint NOT NULL,
        ${SUMS.map((s) => `${s} bigint NOT NULL`).join(', ')},
        cost numeric NOT NULL,
        effective bigint NOT NULL,
        ineffective bigint NOT NULL,
        PRIMARY KEY (account_id, hour, shard)
      )`);
    await q.query(`
      INSERT INTO meter_hours (account_id, hour, shard, ${SUMS.join(', ')}, cost, effective, ineffective)
      SELECT account_id, hour, shard, ${SUMS.map((s) => `sum(${s})`).join(', ')}, sum(cost),
             coalesce(sum(${TOKENS}) FILTER (WHERE label = 'effective'), 0),
             coalesce(sum(${TOKENS}) FILTER (WHERE label = 'ineffective'), 0)
        FROM meter_hourly_totals
       GROUP BY 1, 2, 3`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE meter_hours');
  }
}
