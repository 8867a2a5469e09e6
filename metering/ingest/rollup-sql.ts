// The rollups as SQL over an events-shaped relation with a `sign` column: every row adds sign x its calls,
// tokens and cost to its hourly and daily groups (and its cost to the day's spend). Ingest (new events, +1;
// relabelled ones, -1 old and +1 new) and the rebuild (every event, +1) use the same grouping, and the same
// list of rollups (ROLLUPS), so the two can never disagree.
const SUMS = ['input', 'cached_input', 'cache_write', 'output', 'reasoning'] as const;
const SUM_COLUMNS = `calls, ${SUMS.join(', ')}, cost`;
const SUM_EXPRESSIONS = `sum(sign), ${SUMS.map((s) => `sum(sign * ${s})`).join(', ')}, coalesce(sum(sign * cost), 0)`;

const HOURLY_KEY = 'account_id, hour, shard, model, tier, unit_id, person_id, agent_id, operation, channel, label, session_context';
const DAILY_KEY = 'account_id, day, shard, tier, label, channel';

function upsert(table: string, key: string): string {
  return `ON CONFLICT (${key}) DO UPDATE SET ${['calls', ...SUMS, 'cost'].map((c) => `${c} = ${table}.${c} + EXCLUDED.${c}`).join(', ')}`;
}

/** INSERT into meter_hourly from `relation`; `shard` is an SQL expression; `merge` adds to existing rows. */
export function hourlyRollupSql(relation: string, shard: string, merge: boolean): string {
  return `INSERT INTO meter_hourly (${HOURLY_KEY}, ${SUM_COLUMNS})
    SELECT account_id, date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', ${shard},
           coalesce(model_id, model_name, ''), coalesce(tier, ''), coalesce(unit_id, ''), coalesce(person_id, ''),
           coalesce(agent_id, ''), coalesce(operation, ''), coalesce(channel, ''), label, coalesce(session_context, ''),
           ${SUM_EXPRESSIONS}
      FROM ${relation} AS contributions
     GROUP BY 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12
    ${merge ? upsert('meter_hourly', HOURLY_KEY) : ''}`;
}

export function dailyRollupSql(relation: string, shard: string, merge: boolean): string {
  return `INSERT INTO meter_daily (${DAILY_KEY}, ${SUM_COLUMNS})
    SELECT account_id, (ts AT TIME ZONE 'UTC')::date, ${shard}, coalesce(tier, ''), label, coalesce(channel, ''), ${SUM_EXPRESSIONS}
      FROM ${relation} AS contributions
     GROUP BY 1, 2, 4, 5, 6
    ${merge ? upsert('meter_daily', DAILY_KEY) : ''}`;
}

const PEOPLE_KEY = 'account_id, day, shard, unit_id, person_id, agent_id, tier, label';

/**
 * Per UTC day by unit, person, agent, tier and label: members' readings and readings by people. Not by
 * channel: keyed by it too, this rollup cost 1.17 WAL records per ingested event in the bench instead of
 * 0.52 (about 0.4 upserted rows per event instead of 0.17); readings by people and channel sum the hourly one.
 */
export function peopleRollupSql(relation: string, shard: string, merge: boolean): string {
  return `INSERT INTO meter_daily_people (${PEOPLE_KEY}, ${SUM_COLUMNS})
    SELECT account_id, (ts AT TIME ZONE 'UTC')::date, ${shard}, coalesce(unit_id, ''), coalesce(person_id, ''), coalesce(agent_id, ''),
           coalesce(tier, ''), label, ${SUM_EXPRESSIONS}
      FROM ${relation} AS contributions
     GROUP BY 1, 2, 4, 5, 6, 7, 8
    ${merge ? upsert('meter_daily_people', PEOPLE_KEY) : ''}`;
}

/** The day's spend (cost only), read for the allowance left after each ingested event. */
export function spendRollupSql(relation: string, shard: string, merge: boolean): string {
  return `INSERT INTO meter_spend_daily (account_id, day, shard, cost)
    SELECT account_id, (ts AT TIME ZONE 'UTC')::date, ${shard}, coalesce(sum(sign * cost), 0)
      FROM ${relation} AS contributions
     GROUP BY 1, 2
    HAVING coalesce(sum(sign * cost), 0) <> 0
    ${merge ? 'ON CONFLICT (account_id, day, shard) DO UPDATE SET cost = meter_spend_daily.cost + EXCLUDED.cost' : ''}`;
}

/** Every rollup: the CTE name a statement gives it, its table, its SQL. Writers and the rebuild use this list. */
const ROLLUPS = [
  { name: 'hourly', table: 'meter_hourly', sql: hourlyRollupSql },
  { name: 'daily', table: 'meter_daily', sql: dailyRollupSql },
  { name: 'people', table: 'meter_daily_people', sql: peopleRollupSql },
  { name: 'spend', table: 'meter_spend_daily', sql: spendRollupSql },
] as const;

export const ROLLUP_TABLES: readonly string[] = ROLLUPS.map((r) => r.table);

/** Their short names (hourly, daily, ...), for reports. */
export const ROLLUP_NAMES: readonly string[] = ROLLUPS.map((r) => r.name);

/** The shard an incremental write adds to: its connection's, so concurrent writers of an account rarely share a row. */
const WRITER_SHARD = '(pg_backend_pid() % 8)::smallint';

/** CTEs (for a statement's WITH list) adding `relation` (events-shaped, with `sign`) to every rollup. */
export function addToRollupsCtes(relation: string): string {
  return ROLLUPS.map((r) => `${r.name} AS (${r.sql(relation, WRITER_SHARD, true)})`).join(',\n       ');
}

/** Statements filling every rollup from `relation` (empty rollups; all in shard 0): the rebuild. */
export function fillRollupsSql(relation: string): string[] {
  return ROLLUPS.map((r) => r.sql(relation, '0', false));
}
