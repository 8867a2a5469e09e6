// The rollups as SQL over an events-shaped relation with a `sign` column: every row adds sign x its calls,
// tokens, cost and unpriced tokens to its groups in each rollup (and its cost to the day's spend). Ingest (new events, +1;
// relabelled ones, -1 old and +1 new) and the rebuild (every event, +1) use the same grouping, and the same
// list of rollups (ROLLUPS), so the two can never disagree; readings pick from the same list (METER_ROLLUPS).
const SUMS = ['input', 'cached_input', 'cache_write', 'output', 'reasoning'] as const;

/** The tokens of an events-shaped row (or a rollup row) that count toward the effective ratio. */
export const RATIO_TOKENS_SQL = '(input + cached_input + cache_write + output)';

/**
 * `unpriced`: the tokens of the group's events whose model has no price yet, which its cost leaves out until
 * they are priced (a repricing moves them out of it, as it moves their cost in). A reading says them beside
 * the cost, so an unpriced model's tokens never read as costing nothing. An event using tokens always names
 * its model, so `NOT priced` is exactly an event whose cost is still unknown.
 */
const SUM_COLUMNS = `calls, ${SUMS.join(', ')}, cost, unpriced`;
const SUM_EXPRESSIONS = `sum(sign), ${SUMS.map((s) => `sum(sign * ${s})`).join(', ')}, coalesce(sum(sign * cost), 0),
      coalesce(sum(sign * ${RATIO_TOKENS_SQL}) FILTER (WHERE NOT priced), 0)`;

/** What a rollup without the label keeps of it: its effective and its ineffective tokens (LABEL_SPLIT_COLUMNS). */
const LABEL_SPLIT_COLUMNS = 'effective, ineffective';
const LABEL_SPLIT_EXPRESSIONS = (['effective', 'ineffective'] as const)
  .map((l) => `coalesce(sum(sign * ${RATIO_TOKENS_SQL}) FILTER (WHERE label = '${l}'), 0)`)
  .join(', ');

/** The dimensions a rollup can keep: its column, and the value an event gives it ('' where absent, so it can sit in the key). */
const DIMENSIONS = {
  model: { column: 'model', value: `coalesce(model_id, model_name, '')` },
  tier: { column: 'tier', value: `coalesce(tier, '')` },
  unit: { column: 'unit_id', value: `coalesce(unit_id, '')` },
  person: { column: 'person_id', value: `coalesce(person_id, '')` },
  agent: { column: 'agent_id', value: `coalesce(agent_id, '')` },
  operation: { column: 'operation', value: `coalesce(operation, '')` },
  channel: { column: 'channel', value: `coalesce(channel, '')` },
  label: { column: 'label', value: 'label' },
  session_context: { column: 'session_context', value: `coalesce(session_context, '')` },
} as const;

export type MeterDim = keyof typeof DIMENSIONS;

/** A dimension's column in every rollup that keeps it. */
export const DIMENSION_COLUMNS: Readonly<Record<MeterDim, string>> = Object.fromEntries(
  Object.entries(DIMENSIONS).map(([d, { column }]) => [d, column]),
) as Record<MeterDim, string>;

/** The UTC time bucket of a rollup's rows: its column, and an event's bucket. */
const GRAINS = {
  hour: { column: 'hour', value: `date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'` },
  day: { column: 'day', value: `(ts AT TIME ZONE 'UTC')::date` },
} as const;

export type Grain = keyof typeof GRAINS;

export interface MeterRollup {
  name: string;
  table: string;
  grain: Grain;
  /**
   * What it is keyed by besides account, time and shard. Every reading splits effective from ineffective
   * tokens: a rollup either keeps `label`, or (without it: keepsLabel) its effective and ineffective tokens
   * as two sums of their own, which is all a reading that neither groups nor filters by label needs of it.
   */
  dims: readonly MeterDim[];
}

/** Whether a rollup keeps the label as a dimension (else it keeps effective and ineffective token sums). */
export function keepsLabel(rollup: Pick<MeterRollup, 'dims'>): boolean {
  return rollup.dims.includes('label');
}

/**
 * The rollups readings are summed from. Within a grain, in the order a reading tries them: the first that
 * keeps every dimension it asks for answers (the smaller ones first, as an account's rows usually go).
 * `hourly` keeps everything per hour (about one row per ingested event in a busy account): it answers what
 * no other does. `hours` is one row per hour (and shard), its labels folded into effective and ineffective
 * tokens: readings by hour and the hours at a reading's edges, when they ask nothing of the label, sum a
 * quarter of the rows `hourly_totals` (one per label) would give them. Each day rollup is a few rows per day, so a month of
 * it sums in milliseconds. Rows per event matter too: every ingest write upserts its rows in each one.
 * A dimension that follows from another costs no rows (an agent has one person, a person one unit at a
 * time, a model one tier); one that varies independently multiplies them. So readings by people come from
 * one per agent (with its person and unit), by people and tier from one with the tier too (four times its
 * rows in the bench), and by people and channel from one of its own (keyed by channel too, the people
 * rollup cost 1.17 WAL records per ingested event instead of 0.52).
 */
export const METER_ROLLUPS = [
  { name: 'hours', table: 'meter_hours', grain: 'hour', dims: [] },
  { name: 'hourly_totals', table: 'meter_hourly_totals', grain: 'hour', dims: ['label'] },
  {
    name: 'hourly',
    table: 'meter_hourly',
    grain: 'hour',
    dims: ['model', 'tier', 'unit', 'person', 'agent', 'operation', 'channel', 'label', 'session_context'],
  },
  { name: 'daily', table: 'meter_daily', grain: 'day', dims: ['tier', 'label', 'channel'] },
  { name: 'models', table: 'meter_daily_models', grain: 'day', dims: ['model', 'tier', 'session_context', 'label'] },
  { name: 'operations', table: 'meter_daily_operations', grain: 'day', dims: ['operation', 'label'] },
  { name: 'agents', table: 'meter_daily_agents', grain: 'day', dims: ['unit', 'person', 'agent', 'label'] },
  { name: 'people', table: 'meter_daily_people', grain: 'day', dims: ['unit', 'person', 'agent', 'tier', 'label'] },
  { name: 'people_channels', table: 'meter_daily_people_channels', grain: 'day', dims: ['unit', 'person', 'channel', 'label'] },
] as const satisfies readonly MeterRollup[];

export type MeterRollupName = (typeof METER_ROLLUPS)[number]['name'];

/** INSERT into a rollup from `relation`; `shard` is an SQL expression; `merge` adds to existing rows. */
function meterRollupSql(rollup: MeterRollup, relation: string, shard: string, merge: boolean): string {
  const grain = GRAINS[rollup.grain];
  const dims = rollup.dims.map((d) => DIMENSIONS[d]);
  const key = ['account_id', grain.column, 'shard', ...dims.map((d) => d.column)].join(', ');
  const groups = ['1', '2', '3', ...dims.map((_, i) => String(i + 4))].join(', ');
  const split = !keepsLabel(rollup);
  const columns = split ? `${SUM_COLUMNS}, ${LABEL_SPLIT_COLUMNS}` : SUM_COLUMNS;
  const sums = split ? `${SUM_EXPRESSIONS}, ${LABEL_SPLIT_EXPRESSIONS}` : SUM_EXPRESSIONS;
  const added = rollupColumns(rollup).sums;
  return `INSERT INTO ${rollup.table} (${key}, ${columns})
    SELECT account_id, ${grain.value}, ${shard}, ${[...dims.map((d) => d.value), sums].join(', ')}
      FROM ${relation} AS contributions
     GROUP BY ${groups}
    ${merge ? `ON CONFLICT (${key}) DO UPDATE SET ${added.map((c) => `${c} = ${rollup.table}.${c} + EXCLUDED.${c}`).join(', ')}` : ''}`;
}

/** The day's spend (cost only), read for the allowance left after each ingested event. */
export function spendRollupSql(relation: string, shard: string, merge: boolean): string {
  return `INSERT INTO meter_spend_daily (account_id, day, shard, cost)
    SELECT account_id, (ts AT TIME ZONE 'UTC')::date, ${shard}, coalesce(sum(sign * cost), 0)
      FROM ${relation} AS contributions
     GROUP BY 1, 2, 3
    HAVING coalesce(sum(sign * cost), 0) <> 0
    ${merge ? 'ON CONFLICT (account_id, day, shard) DO UPDATE SET cost = meter_spend_daily.cost + EXCLUDED.cost' : ''}`;
}

/** A rollup table's key besides account, time bucket and shard, and the sums a write adds to its rows. */
function rollupColumns(rollup: MeterRollup): { dims: string[]; sums: string[] } {
  return {
    dims: rollup.dims.map((d) => DIMENSIONS[d].column),
    sums: ['calls', ...SUMS, 'cost', 'unpriced', ...(keepsLabel(rollup) ? [] : ['effective', 'ineffective'])],
  };
}

interface Rollup {
  /** The CTE name a statement gives it, and its short name in reports. */
  name: string;
  table: string;
  grain: Grain;
  /** Its key besides account, time bucket and shard, and its sums. */
  dims: readonly string[];
  sums: readonly string[];
  sql: (relation: string, shard: string, merge: boolean) => string;
}

/** Every rollup. Writers, the rebuild and the compaction use this list. */
const ROLLUPS: readonly Rollup[] = [
  ...METER_ROLLUPS.map((r) => ({
    name: r.name,
    table: r.table,
    grain: r.grain,
    ...rollupColumns(r),
    sql: (relation: string, shard: string, merge: boolean) => meterRollupSql(r, relation, shard, merge),
  })),
  { name: 'spend', table: 'meter_spend_daily', grain: 'day', dims: [], sums: ['cost'], sql: spendRollupSql },
];

export const ROLLUP_TABLES: readonly string[] = ROLLUPS.map((r) => r.table);

/** Their short names (hourly, daily, ...), for reports. */
export const ROLLUP_NAMES: readonly string[] = ROLLUPS.map((r) => r.name);

/** The shard an incremental write adds to: its connection's, so concurrent writers of an account rarely share a row. */
const WRITER_SHARD = '(pg_backend_pid() % 8)::smallint';

/** CTEs (for a statement's WITH list) adding `relation` (events-shaped, with `sign`) to every rollup. */
export function addToRollupsCtes(relation: string): string {
  return ROLLUPS.map((r) => `${r.name} AS (${r.sql(relation, WRITER_SHARD, true)})`).join(',\n       ');
}

/**
 * Statements filling every rollup from `relation` (into empty rollups), all in shard 0. `shard` (an SQL
 * expression over the relation's rows, or one per time grain) spreads them instead, as concurrent ingest would.
 */
export function fillRollupsSql(relation: string, shard: string | ((grain: Grain) => string) = '0'): string[] {
  return ROLLUPS.map((r) => r.sql(relation, typeof shard === 'string' ? shard : shard(r.grain), false));
}

/**
 * The rebuild's statements: every rollup filled from `relation`, the buckets closed before `closed` (the
 * current UTC hour's start for the hourly rollups, the current UTC day's for the daily ones) straight into
 * COMPACTED_SHARD, one row a key, as the compaction leaves them, and the open ones into shard 0. So readings
 * that answer from the compacted hours (the account's reading by hour) are as fast right after a rebuild as
 * before it, and the next compaction finds nothing to fold.
 */
export function rebuildRollupsSql(relation: string, closed: { hour: Date; day: string }): string[] {
  // ISO texts of Dates: nothing of the caller's can reach the SQL.
  const before = (grain: Grain) => (grain === 'hour' ? closed.hour : new Date(`${closed.day}T00:00:00Z`)).toISOString();
  return fillRollupsSql(relation, (grain) => `(CASE WHEN ts < '${before(grain)}'::timestamptz THEN ${COMPACTED_SHARD} ELSE 0 END)::smallint`);
}

/**
 * The shard compaction folds closed time buckets into. Ingest writes shards 0-7 (WRITER_SHARD) and the
 * rebuild the open buckets into shard 0; nothing but the compaction and the rebuild (which holds the
 * account's rollups against a compaction, and whose buckets are closed) writes this one, so it never waits
 * for a writer's row lock.
 */
export const COMPACTED_SHARD = 8;

export interface CompactionStatement {
  table: string;
  grain: Grain;
  /**
   * Folds an account's rows ($1) of time buckets in [$2, $3) outside COMPACTED_SHARD into it, the first $4
   * rows in bucket order per call: those rows are deleted and their sums added to the row of their key in
   * COMPACTED_SHARD, in one statement, so every key's sum over shards is what it was. Rows a writer holds
   * are skipped (SKIP LOCKED), so a compaction never waits for ingest and no lock cycle can form with it;
   * they are folded by a later run. Returns { moved, written, last }: rows taken out of the writers'
   * shards, compacted rows written, and the last bucket taken (as text), where the next call starts: every
   * earlier bucket is done, so no call scans again what an earlier one deleted.
   */
  sql: string;
}

export const COMPACTION_STATEMENTS: readonly CompactionStatement[] = ROLLUPS.map((r) => {
  const bucket = GRAINS[r.grain].column;
  const type = r.grain === 'hour' ? 'timestamptz' : 'date';
  const grouped = ['account_id', bucket, ...r.dims];
  const key = ['account_id', bucket, 'shard', ...r.dims];
  return {
    table: r.table,
    grain: r.grain,
    sql: `WITH picked AS (
        SELECT ctid, ${bucket} AS at FROM ${r.table}
         WHERE account_id = $1 AND ${bucket} >= $2::${type} AND ${bucket} < $3::${type} AND shard <> ${COMPACTED_SHARD}
         ORDER BY ${bucket} LIMIT $4 FOR UPDATE SKIP LOCKED),
      moved AS (DELETE FROM ${r.table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM picked)) RETURNING *),
      written AS (
        INSERT INTO ${r.table} (${key.join(', ')}, ${r.sums.join(', ')})
        SELECT ${grouped.slice(0, 2).join(', ')}, ${COMPACTED_SHARD}, ${[...r.dims, ...r.sums.map((c) => `sum(${c})`)].join(', ')}
          FROM moved GROUP BY ${grouped.join(', ')}
        ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${r.sums.map((c) => `${c} = ${r.table}.${c} + EXCLUDED.${c}`).join(', ')}
        RETURNING 1)
      SELECT (SELECT count(*) FROM moved)::int AS moved, (SELECT count(*) FROM written)::int AS written, (SELECT max(at) FROM picked)::text AS last`,
  };
});

/**
 * pg_advisory_xact_lock(ROLLUP_REWRITE_LOCK, hashtext(account)): held by what rewrites an account's rollup
 * rows other than ingest's additions (the rebuild replacing them, the compaction moving them), so the two
 * never interleave: a rebuild's DELETE does not see compacted rows written after its snapshot.
 */
export const ROLLUP_REWRITE_LOCK = 7_310_003;

/**
 * Counts one rewrite of account $1's rollup rows in meter_rewrites: run in the transaction of every write
 * that moves or replaces rows rather than adding to the writers' shards (the compaction, the rebuild). A
 * reader remembering rows it read compares the count (metering/readings/hourly-readings.ts).
 */
export const COUNT_REWRITE_SQL = `INSERT INTO meter_rewrites (account_id, generation) VALUES ($1, 1)
  ON CONFLICT (account_id) DO UPDATE SET generation = meter_rewrites.generation + 1`;
