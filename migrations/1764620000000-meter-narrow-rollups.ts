// Narrow rollups so that every reading by any one dimension, and by the pairs of them people ask for, sums a
// few rows per day instead of the hourly rollup (about a row per event): by model (with its tier and the
// session context), by operation, by agent (with its person and unit, without the tier the people rollup
// keeps), by person and channel (with the unit), and per hour by label alone (for readings by hour, and the
// hours at the edges of a total). Filled from the hourly rollup for data already stored (same shards, so
// readings are unchanged). rollup-sql.ts says which rollup answers what.
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Each new rollup: its table, its time bucket, and its dimensions (columns of meter_hourly, all text). */
const ROLLUPS = [
  { table: 'meter_hourly_totals', time: 'hour', dims: ['label'] },
  { table: 'meter_daily_models', time: 'day', dims: ['model', 'tier', 'session_context', 'label'] },
  { table: 'meter_daily_operations', time: 'day', dims: ['operation', 'label'] },
  { table: 'meter_daily_agents', time: 'day', dims: ['unit_id', 'person_id', 'agent_id', 'label'] },
  { table: 'meter_daily_people_channels', time: 'day', dims: ['unit_id', 'person_id', 'channel', 'label'] },
] as const;

const SUMS = ['calls', 'input', 'cached_input', 'cache_write', 'output', 'reasoning'];

export class MeterNarrowRollups1764620000000 implements MigrationInterface {
  name = 'MeterNarrowRollups1764620000000';

  async up(q: QueryRunner): Promise<void> {
    for (const { table, time, dims } of ROLLUPS) {
      const key = ['account_id', time, 'shard', ...dims];
      await q.query(`
        CREATE TABLE ${table} (
          account_id text NOT NULL,
          ${time === 'hour' ? 'hour timestamptz' : 'day date'} NOT NULL,
          shard smallint NOT NULL,
          ${dims.map((d) => `${d} text NOT NULL`).join(',\n          ')},
          ${SUMS.map((s) => `${s} bigint NOT NULL`).join(', ')},
          cost numeric NOT NULL,
          PRIMARY KEY (${key.join(', ')})
        )`);
      const bucket = time === 'hour' ? 'hour' : `(hour AT TIME ZONE 'UTC')::date`;
      await q.query(`
        INSERT INTO ${table} (${key.join(', ')}, ${SUMS.join(', ')}, cost)
        SELECT account_id, ${bucket}, shard, ${dims.join(', ')}, ${SUMS.map((s) => `sum(${s})`).join(', ')}, sum(cost)
          FROM meter_hourly
         GROUP BY ${key.map((_, i) => i + 1).join(', ')}`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ${ROLLUPS.map((r) => r.table).join(', ')}`);
  }
}
