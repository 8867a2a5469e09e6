// Only this file reads the meter for readings: signed sums over ranges of the hourly and day rollups (always
// across shards, in one statement) and the per-operation listing from `events`, newest first, keyset-paged.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryPooled } from '../../src/database/sql.js';
import type { EventCursor } from './event-cursor.js';
import type { EventViewSource } from './event-view.js';
import { sumRowOf, type KeyedSumRow, type SumRow } from './meter-sums.js';
import { COMPACTED_SHARD, DIMENSION_COLUMNS, keepsLabel, METER_ROLLUPS, RATIO_TOKENS_SQL, type MeterRollupName } from '../ingest/rollup-sql.js';
import type { GroupByDim, MeterFilter, MeterFilters, RollupPart, VisibilityScope } from './reading-query.js';

export interface MeterSqlSpec {
  accountId: string;
  /** The rollup ranges whose (signed) sum is the reading: see readingPlan. */
  parts: readonly RollupPart[];
  groupBy: readonly GroupByDim[];
  filters: MeterFilters;
  scope: VisibilityScope | null;
}

export interface GroupedSumRow {
  /** Raw dimension values ('' where absent), by dimension. */
  key: Partial<Record<GroupByDim, string>>;
  sums: SumRow;
}

export const EVENT_FILTERS = ['person', 'agent', 'unit', 'model', 'task', 'label', 'channel', 'operation', 'session'] as const;
export type EventFilter = (typeof EVENT_FILTERS)[number];

export interface EventListSpec {
  accountId: string;
  from: Date | null;
  to: Date | null;
  filters: Partial<Record<EventFilter, string>>;
  scope: VisibilityScope | null;
  after: EventCursor | null;
  limit: number;
}

export type EventListRow = EventViewSource & { ts_us: string };

/**
 * Each rollup's table, and the SQL of each dimension it keeps (its key columns, and the time buckets of its
 * grain). A time bucket is grouped by as PostgreSQL keeps it (a date, a timestamptz) and written as text
 * only for the rows answered (TIME_TEXT): `to_char` on every rollup row read was half of an hourly reading's
 * SQL (720 rows from ~17,000). The text sorts as the value does, so ordering by the value is the same order.
 */
const ROLLUP_SOURCES = Object.fromEntries(
  METER_ROLLUPS.map((r) => {
    const dims: Partial<Record<GroupByDim, string>> = Object.fromEntries(r.dims.map((d) => [d, DIMENSION_COLUMNS[d]]));
    if (r.grain === 'hour') {
      dims.day = `(hour AT TIME ZONE 'UTC')::date`;
      dims.hour = 'hour';
    } else {
      dims.day = 'day';
    }
    return [r.name, { table: r.table, byDay: r.grain === 'day', labelled: keepsLabel(r), dims }];
  }),
) as Record<MeterRollupName, { table: string; byDay: boolean; labelled: boolean; dims: Partial<Record<GroupByDim, string>> }>;

/** The answer's text of a time bucket (a date for `day`, a timestamptz for `hour`), from its grouped value. */
const TIME_TEXT: Partial<Record<GroupByDim, (value: string) => string>> = {
  day: (value) => `to_char(${value}::timestamp, 'YYYY-MM-DD')`,
  hour: (value) => `to_char(${value} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":00:00.000Z"')`,
};

/** A group's effective and ineffective tokens: from the label a rollup keeps, or the sums one without it keeps. */
const LABELLED_SPLIT = `coalesce(SUM(${RATIO_TOKENS_SQL}) FILTER (WHERE label = 'effective'), 0),
  coalesce(SUM(${RATIO_TOKENS_SQL}) FILTER (WHERE label = 'ineffective'), 0)`;
const KEPT_SPLIT = 'SUM(effective), SUM(ineffective)';

/**
 * A group's sums as one text, `calls input cached_input cache_write output reasoning unpriced effective
 * ineffective cost` (SUM_TEXT_ORDER), which readingRows reads off its characters: one string per row from the driver
 * instead of nine (an hourly reading's 711 rows: 0.44 MB of driver strings and objects, 0.25 MB now).
 */
const sumsSql = (split: string): string =>
  `concat_ws(' ', SUM(calls), SUM(input), SUM(cached_input), SUM(cache_write), SUM(output), SUM(reasoning), SUM(unpriced),
  ${split},
  SUM(cost)) AS sums`;

const SUM_COLUMNS = ['calls', 'input', 'cached_input', 'cache_write', 'output', 'reasoning', 'cost', 'unpriced', 'effective', 'ineffective'] as const;

/** A column of a part's rows, signed; effective and ineffective computed from the label where it is kept. */
function partColumn(column: (typeof SUM_COLUMNS)[number], labelled: boolean, sign: 1 | -1): string {
  const value = labelled && (column === 'effective' || column === 'ineffective') ? `CASE WHEN label = '${column}' THEN ${RATIO_TOKENS_SQL} ELSE 0 END` : column;
  return sign === 1 && value === column ? column : `${sign === 1 ? '' : '-'}${value} AS ${column}`;
}

/**
 * The rollup query for a reading; dimensions and columns come from fixed maps, values are parameters.
 * One part is read straight from its rollup; several are one statement too: each part's rows (keys, label
 * and signed sums) in a UNION ALL, summed by the same aggregate.
 */
export function meterSql(spec: MeterSqlSpec): { sql: string; params: unknown[] } {
  const params: unknown[] = [spec.accountId];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  /** The table, and the conditions on it, for one part. */
  const source = (part: RollupPart): { table: string; labelled: boolean; where: string[]; dimSql: (d: GroupByDim) => string } => {
    const { table, byDay, labelled, dims } = ROLLUP_SOURCES[part.rollup];
    const dimSql = (d: GroupByDim): string => {
      const sql = dims[d];
      if (sql === undefined) throw new Error(`${table} has no dimension ${d}`);
      return sql;
    };
    const where = [`account_id = $1`];
    if (byDay) {
      where.push(`day >= ${p(part.from.toISOString().slice(0, 10))}::date`, `day < ${p(part.to.toISOString().slice(0, 10))}::date`);
    } else {
      where.push(`hour >= ${p(part.from)}`, `hour < ${p(part.to)}`);
    }
    for (const [filter, value] of Object.entries(spec.filters) as [MeterFilter, string][]) {
      where.push(`${dimSql(filter)} = ${p(value)}`);
    }
    if (spec.scope !== null) {
      where.push(
        spec.scope.unitId === null
          ? `person_id = ${p(spec.scope.personId)}`
          : `(person_id = ${p(spec.scope.personId)} OR unit_id = ${p(spec.scope.unitId)})`,
      );
    }
    return { table, labelled, where, dimSql };
  };

  // Grouped by position; a time bucket is grouped by its value and written as text outside (TIME_TEXT).
  const positions = spec.groupBy.map((_, i) => String(i + 1));
  const timed = spec.groupBy.some((d) => TIME_TEXT[d] !== undefined);
  const having = `HAVING SUM(calls) <> 0 OR SUM(${RATIO_TOKENS_SQL}) <> 0 OR SUM(cost) <> 0`;
  const tail = `${positions.length ? `GROUP BY ${positions.join(', ')}` : ''}
    ${having}
    ${positions.length && !timed ? `ORDER BY ${positions.join(', ')}` : ''}`;
  const [only] = spec.parts;
  if (only === undefined) throw new Error('a reading of no rollup range');
  /** The grouped statement's keys are "g_<dim>"; the answer's are "k_<dim>", time buckets as text. */
  const answer = (grouped: string): string => {
    if (!timed) return grouped;
    const keys = spec.groupBy.map((d) => `${TIME_TEXT[d]?.(`"g_${d}"`) ?? `"g_${d}"`} AS "k_${d}"`);
    return `SELECT ${[...keys, 'sums'].join(', ')}
    FROM (${grouped}) AS grouped
    ORDER BY ${spec.groupBy.map((d) => `"g_${d}"`).join(', ')}`;
  };
  const keyName = (d: GroupByDim): string => (timed ? `"g_${d}"` : `"k_${d}"`);

  if (spec.parts.length === 1 && only.sign === 1) {
    const { table, labelled, where, dimSql } = source(only);
    const keys = spec.groupBy.map((d) => `${dimSql(d)} AS ${keyName(d)}`);
    const sql = `SELECT ${[...keys, sumsSql(labelled ? LABELLED_SPLIT : KEPT_SPLIT)].join(', ')}
    FROM ${table}
    WHERE ${where.join(' AND ')}
    ${tail}`;
    return { sql: answer(sql), params };
  }

  const branches = spec.parts.map((part) => {
    const { table, labelled, where, dimSql } = source(part);
    const keys = spec.groupBy.map((d) => `${dimSql(d)} AS ${keyName(d)}`);
    const sums = SUM_COLUMNS.map((c) => partColumn(c, labelled, part.sign));
    return `SELECT ${[...keys, ...sums].join(', ')} FROM ${table} WHERE ${where.join(' AND ')}`;
  });
  const keys = spec.groupBy.map(keyName);
  const sql = `SELECT ${[...keys, sumsSql(KEPT_SPLIT)].join(', ')}
    FROM (${branches.join('\n      UNION ALL ')}) AS parts
    ${tail}`;
  return { sql: answer(sql), params };
}

/** What an hourly reading's statement says of its rows (hourlyReadingSql): see HourlyReadings. */
export interface HourlyCheck {
  /** The account's count of rollup rewrites (meter_rewrites; '0' before the first). */
  generation: string;
  /** The first hour of the range with rows in a writer's shard (as the rows' key text), or null. */
  sharded: string | null;
  /** The account's meter_hours rows in [range start, `sharded` or the range's end). */
  before: number;
}

/**
 * The account-wide reading by hour over [`from`, `to`) from `freshFrom` on, and in the same statement (so
 * the same snapshot) what HourlyReadings checks a remembered piece of the earlier hours against: the first
 * row is the check (k_hour null, its sums text "generation before [sharded]"), the others the reading's in
 * hour order (the hour's text sorts as the hour does).
 */
export function hourlyReadingSql(accountId: string, from: Date, to: Date, freshFrom: Date): { sql: string; params: unknown[] } {
  const reading = meterSql({ accountId, parts: [{ rollup: 'hours', from: freshFrom, to, sign: 1 }], groupBy: ['hour'], filters: {}, scope: null });
  const params = [...reading.params, from, to];
  const [f, t] = [`$${params.length - 1}::timestamptz`, `$${params.length}::timestamptz`];
  const check = `SELECT NULL::text AS k_hour,
      concat_ws(' ',
        coalesce((SELECT generation FROM meter_rewrites WHERE account_id = $1), 0),
        (SELECT count(*) FROM meter_hours WHERE account_id = $1 AND hour >= ${f} AND hour < coalesce(first.hour, ${t})),
        ${TIME_TEXT.hour!('first.hour')}) AS sums
    FROM (SELECT min(hour) AS hour FROM meter_hours
           WHERE account_id = $1 AND hour >= ${f} AND hour < ${t} AND shard <> ${COMPACTED_SHARD}) AS first`;
  return { sql: `SELECT k_hour, sums FROM (${check}
    UNION ALL
    (${reading.sql})) AS answer
    ORDER BY k_hour NULLS FIRST`, params };
}

const EVENT_COLUMNS = `event_id, ts, received_at, person_id, agent_id, unit_id, session_id, session_context, task_id,
  attempt_id, outcome, error_signature, operation, channel, model_name, model_id, tier, priced,
  input::text, cached_input::text, cache_write::text, output::text, reasoning::text,
  cost_input::text, cost_cached_input::text, cost_cache_write::text, cost_output::text, cost_reasoning::text,
  cost::text, label, adjustment, metadata,
  (extract(epoch FROM ts) * 1000000)::bigint::text AS ts_us`;

const EVENT_FILTER_SQL: Record<EventFilter, string> = {
  person: 'person_id',
  agent: 'agent_id',
  unit: 'unit_id',
  model: 'COALESCE(model_id, model_name)',
  task: 'task_id',
  label: 'label',
  channel: 'channel',
  operation: 'operation',
  session: 'session_id',
};

export function eventListSql(spec: EventListSpec): { sql: string; params: unknown[] } {
  const params: unknown[] = [spec.accountId];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const where = ['account_id = $1'];
  if (spec.from !== null) where.push(`ts >= ${p(spec.from)}`);
  if (spec.to !== null) where.push(`ts < ${p(spec.to)}`);
  for (const [filter, value] of Object.entries(spec.filters) as [EventFilter, string][]) {
    where.push(`${EVENT_FILTER_SQL[filter]} = ${p(value)}`);
  }
  if (spec.scope !== null) {
    where.push(
      spec.scope.unitId === null
        ? `person_id = ${p(spec.scope.personId)}`
        : `(person_id = ${p(spec.scope.personId)} OR unit_id = ${p(spec.scope.unitId)})`,
    );
  }
  if (spec.after !== null) {
    where.push(`(ts, event_id) < (timestamptz 'epoch' + ${p(spec.after.tsMicros)}::bigint * interval '1 microsecond', ${p(spec.after.eventId)})`);
  }
  const sql = `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')}
    ORDER BY ts DESC, event_id DESC LIMIT ${p(spec.limit)}`;
  return { sql, params };
}

@Injectable()
export class ReadingsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The reading's rows as the statement answers them (keys as `k_<dimension>`): readingRows reads them. */
  meterRows(spec: MeterSqlSpec): Promise<KeyedSumRow[]> {
    const { sql, params } = meterSql(spec);
    return queryPooled<KeyedSumRow>(this.dataSource, sql, params);
  }

  /** The rows of hourlyReadingSql: the check, and the reading's rows in hour order. */
  async hourlyRows(accountId: string, from: Date, to: Date, freshFrom: Date): Promise<{ check: HourlyCheck; rows: KeyedSumRow[] }> {
    const { sql, params } = hourlyReadingSql(accountId, from, to, freshFrom);
    // Prepared: its text never changes, and its plan (index ranges of one account) does not hinge on the values.
    const [head, ...rows] = await queryPooled<KeyedSumRow>(this.dataSource, sql, params, { prepared: true });
    if (head === undefined || head.k_hour !== null) throw new Error('an hourly reading without its check row');
    const [generation, before, sharded] = head.sums.split(' ');
    return { check: { generation: generation!, before: Number(before), sharded: sharded ?? null }, rows };
  }

  async meterSums(spec: MeterSqlSpec): Promise<GroupedSumRow[]> {
    const rows = await this.meterRows(spec);
    return rows.map((row) => {
      const key: Partial<Record<GroupByDim, string>> = {};
      for (const d of spec.groupBy) key[d] = row[`k_${d}`] ?? '';
      return { key, sums: sumRowOf(row.sums) };
    });
  }

  /** Up to `limit` events, newest first, strictly after the cursor. */
  listEvents(spec: EventListSpec): Promise<EventListRow[]> {
    const { sql, params } = eventListSql(spec);
    return queryPooled<EventListRow>(this.dataSource, sql, params);
  }
}
