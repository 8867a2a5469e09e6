// Every meter rollup keeps `unpriced`: the tokens of its events whose model has no price yet, which its
// cost leaves out until they are priced (rollup-sql.ts). Filled here from the events already stored: each
// key's unpriced tokens are added to its compacted shard's row (a row of zero calls where the compaction
// has not written one yet), so every key's sum over shards is what the events say and nothing else moves.
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The rollups as they stand at this migration: table, time bucket, and dimensions (column: event value). */
const ROLLUPS: readonly { table: string; grain: 'hour' | 'day'; dims: readonly string[]; split: boolean }[] = [
  { table: 'meter_hours', grain: 'hour', dims: [], split: true },
  { table: 'meter_hourly_totals', grain: 'hour', dims: ['label'], split: false },
  {
    table: 'meter_hourly',
    grain: 'hour',
    dims: ['model', 'tier', 'unit_id', 'person_id', 'agent_id', 'operation', 'channel', 'label', 'session_context'],
    split: false,
  },
  { table: 'meter_daily', grain: 'day', dims: ['tier', 'label', 'channel'], split: false },
  { table: 'meter_daily_models', grain: 'day', dims: ['model', 'tier', 'session_context', 'label'], split: false },
  { table: 'meter_daily_operations', grain: 'day', dims: ['operation', 'label'], split: false },
  { table: 'meter_daily_agents', grain: 'day', dims: ['unit_id', 'person_id', 'agent_id', 'label'], split: false },
  { table: 'meter_daily_people', grain: 'day', dims: ['unit_id', 'person_id', 'agent_id', 'tier', 'label'], split: false },
  { table: 'meter_daily_people_channels', grain: 'day', dims: ['unit_id', 'person_id', 'channel', 'label'], split: false },
];

/** How an event gives each dimension column ('' where absent), as rollup-sql.ts has it. */
const EVENT_VALUE: Readonly<Record<string, string>> = {
  model: `coalesce(model_id, model_name, '')`,
  label: 'label',
};
const eventValue = (column: string): string => EVENT_VALUE[column] ?? `coalesce(${column}, '')`;

const TOKENS = '(input + cached_input + cache_write + output)';
const COUNTS = ['calls', 'input', 'cached_input', 'cache_write', 'output', 'reasoning'];
/** The shard the compaction folds closed buckets into (rollup-sql.ts COMPACTED_SHARD). */
const COMPACTED_SHARD = 8;

export class MeterUnpriced1766400000000 implements MigrationInterface {
  name = 'MeterUnpriced1766400000000';

  async up(q: QueryRunner): Promise<void> {
    for (const { table, grain, dims, split } of ROLLUPS) {
      await q.query(`ALTER TABLE ${table} ADD COLUMN unpriced bigint NOT NULL DEFAULT 0`);
      const key = ['account_id', grain, 'shard', ...dims];
      const bucket = grain === 'hour' ? `date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'` : `(ts AT TIME ZONE 'UTC')::date`;
      const zeros = [...COUNTS, 'cost', ...(split ? ['effective', 'ineffective'] : [])];
      await q.query(`
        INSERT INTO ${table} (${[...key, ...zeros, 'unpriced'].join(', ')})
        SELECT account_id, ${bucket}, ${COMPACTED_SHARD}, ${[...dims.map(eventValue), ...zeros.map(() => '0'), `sum(${TOKENS})`].join(', ')}
          FROM events WHERE NOT priced
         GROUP BY ${key.filter((c) => c !== 'shard').map((_, i) => (i < 2 ? i + 1 : i + 2)).join(', ')}
        HAVING sum(${TOKENS}) <> 0
        ON CONFLICT (${key.join(', ')}) DO UPDATE SET unpriced = ${table}.unpriced + EXCLUDED.unpriced`);
      // Every writer names it from now on: one that did not would fail, not write a zero.
      await q.query(`ALTER TABLE ${table} ALTER COLUMN unpriced DROP DEFAULT`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const { table } of ROLLUPS) await q.query(`ALTER TABLE ${table} DROP COLUMN unpriced`);
  }
}
