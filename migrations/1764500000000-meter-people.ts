// Usage by person, unit and agent per day: what a member's own reading (their usage and their unit's) and
// finance's readings by person, unit or agent are summed from. The hourly rollup answers them too, but it
// keeps every dimension per hour (about one row per event in a busy account), so a month of it is read in
// hundreds of milliseconds; this one keeps unit, person, agent, tier and label per UTC day (not channel or
// model: each would multiply its rows, and every ingest write upserts them). Filled from the hourly rollup
// for data already stored (same shards, so readings are unchanged).
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class MeterPeople1764500000000 implements MigrationInterface {
  name = 'MeterPeople1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE meter_daily_people (
        account_id text NOT NULL,
        day date NOT NULL,
        shard smallint NOT NULL,
        unit_id text NOT NULL,
        person_id text NOT NULL,
        agent_id text NOT NULL,
        tier text NOT NULL,
        label text NOT NULL,
        calls bigint NOT NULL,
        input bigint NOT NULL,
        cached_input bigint NOT NULL,
        cache_write bigint NOT NULL,
        output bigint NOT NULL,
        reasoning bigint NOT NULL,
        cost numeric NOT NULL,
        PRIMARY KEY (account_id, day, shard, unit_id, person_id, agent_id, tier, label)
      )`);
    await q.query(`
      INSERT INTO meter_daily_people
      SELECT account_id, (hour AT TIME ZONE 'UTC')::date, shard, unit_id, person_id, agent_id, tier, label,
             sum(calls), sum(input), sum(cached_input), sum(cache_write), sum(output), sum(reasoning), sum(cost)
        FROM meter_hourly
       GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE meter_daily_people');
  }
}
