// Narrow rollups so that every reading by any one dimension, and by the pairs of them people ask for, sums a
// few rows per day instead of the hourly rollup (about a row per event): by model (with its tier and the
// session context), by operation, by agent (with its person and unit, without the tier the people rollup
// keeps), by person and channel (with the unit), and per hour by label alone (for readings by hour, and the
// hours at the edges of a total). Filled from the hourly rollup for data already
// stored (same shards, so readings are unchanged). rollup-sql.ts says which rollup answers what.
import type { MigrationInterface, QueryRunner } from 'typeorm';

const SUMS = `calls bigint NOT NULL, input bigint NOT NULL, cached_input bigint NOT NULL, cache_write bigint NOT NULL,
        output bigint NOT NULL, reasoning bigint NOT NULL, cost numeric NOT NULL`;
const SUMMED = 'sum(calls), sum(input), sum(cached_input), sum(cache_write), sum(output), sum(reasoning), sum(cost)';
const DAY = `(hour AT TIME ZONE 'UTC')::date`;

export class MeterNarrowRollups1764620000000 implements MigrationInterface {
  name = 'MeterNarrowRollups1764620000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE meter_hourly_totals (
        account_id text NOT NULL, hour timestamptz NOT NULL, shard smallint NOT NULL, label text NOT NULL,
        ${SUMS},
        PRIMARY KEY (account_id, hour, shard, label)
      )`);
    await q.query(`
      CREATE TABLE meter_daily_models (
        account_id text NOT NULL, day date NOT NULL, shard smallint NOT NULL,
        model text NOT NULL, tier text NOT NULL, session_context text NOT NULL, label text NOT NULL,
        ${SUMS},
        PRIMARY KEY (account_id, day, shard, model, tier, session_context, label)
      )`);
    await q.query(`
      CREATE TABLE meter_daily_operations (
        account_id text NOT NULL, day date NOT NULL, shard smallint NOT NULL, operation text NOT NULL, label text NOT NULL,
        ${SUMS},
        PRIMARY KEY (account_id, day, shard, operation, label)
      )`);
    await q.query(`
      CREATE TABLE meter_daily_agents (
        account_id text NOT NULL, day date NOT NULL, shard smallint NOT NULL,
        unit_id text NOT NULL, person_id text NOT NULL, agent_id text NOT NULL, label text NOT NULL,
        ${SUMS},
        PRIMARY KEY (account_id, day, shard, unit_id, person_id, agent_id, label)
      )`);
    await q.query(`
      CREATE TABLE meter_daily_people_channels (
        account_id text NOT NULL, day date NOT NULL, shard smallint NOT NULL,
        unit_id text NOT NULL, person_id text NOT NULL, channel text NOT NULL, label text NOT NULL,
        ${SUMS},
        PRIMARY KEY (account_id, day, shard, unit_id, person_id, channel, label)
      )`);
    await q.query(`
      INSERT INTO meter_hourly_totals
      SELECT account_id, hour, shard, label, ${SUMMED} FROM meter_hourly GROUP BY 1, 2, 3, 4`);
    await q.query(`
      INSERT INTO meter_daily_models
      SELECT account_id, ${DAY}, shard, model, tier, session_context, label, ${SUMMED} FROM meter_hourly GROUP BY 1, 2, 3, 4, 5, 6, 7`);
    await q.query(`
      INSERT INTO meter_daily_operations
      SELECT account_id, ${DAY}, shard, operation, label, ${SUMMED} FROM meter_hourly GROUP BY 1, 2, 3, 4, 5`);
    await q.query(`
      INSERT INTO meter_daily_agents
      SELECT account_id, ${DAY}, shard, unit_id, person_id, agent_id, label, ${SUMMED} FROM meter_hourly GROUP BY 1, 2, 3, 4, 5, 6, 7`);
    await q.query(`
      INSERT INTO meter_daily_people_channels
      SELECT account_id, ${DAY}, shard, unit_id, person_id, channel, label, ${SUMMED} FROM meter_hourly GROUP BY 1, 2, 3, 4, 5, 6, 7`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE meter_daily_people_channels, meter_daily_agents, meter_daily_operations, meter_daily_models, meter_hourly_totals');
  }
}
