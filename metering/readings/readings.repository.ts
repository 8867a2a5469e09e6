// Only this file reads the meter for readings: sums over the hourly or daily rollup (always across
// shards) and the per-operation listing from `events`, newest first, keyset-paged.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryRows } from '../../src/database/sql.js';
import type { EventCursor } from './event-cursor.js';
import type { EventViewSource } from './event-view.js';
import type { SumRow } from './meter-sums.js';
import type { GroupByDim, MeterFilter, MeterFilters, VisibilityScope } from './reading-query.js';

export interface MeterSqlSpec {
  accountId: string;
  rollup: 'hourly' | 'daily';
  from: Date;
  to: Date;
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

const HOURLY_DIM_SQL: Record<GroupByDim, string> = {
  model: 'model',
  tier: 'tier',
  unit: 'unit_id',
  person: 'person_id',
  agent: 'agent_id',
  operation: 'operation',
  channel: 'channel',
  label: 'label',
  session_context: 'session_context',
  day: `to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  hour: `to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":00:00.000Z"')`,
};

const DAILY_DIM_SQL: Partial<Record<GroupByDim, string>> = {
  tier: 'tier',
  label: 'label',
  channel: 'channel',
  day: `to_char(day, 'YYYY-MM-DD')`,
};

const FILTER_COLUMN: Record<MeterFilter, GroupByDim> = {
  person: 'person',
  unit: 'unit',
  agent: 'agent',
  model: 'model',
  channel: 'channel',
  label: 'label',
};

const TOKENS_SQL = '(input + cached_input + cache_write + output)';

const SUMS_SQL = `SUM(calls)::text AS calls, SUM(input)::text AS input, SUM(cached_input)::text AS cached_input,
  SUM(cache_write)::text AS cache_write, SUM(output)::text AS output, SUM(reasoning)::text AS reasoning,
  SUM(cost)::text AS cost,
  SUM(${TOKENS_SQL}) FILTER (WHERE label = 'effective')::text AS effective,
  SUM(${TOKENS_SQL}) FILTER (WHERE label = 'ineffective')::text AS ineffective`;

/** The rollup query for a reading; dimensions and columns come from fixed maps, values are parameters. */
export function meterSql(spec: MeterSqlSpec): { sql: string; params: unknown[] } {
  const daily = spec.rollup === 'daily';
  const dimSql = (d: GroupByDim): string => {
    const sql = daily ? DAILY_DIM_SQL[d] : HOURLY_DIM_SQL[d];
    if (sql === undefined) throw new Error(`meter_daily has no dimension ${d}`);
    return sql;
  };
  const params: unknown[] = [spec.accountId];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const where = [`account_id = $1`];
  if (daily) {
    where.push(`day >= ${p(spec.from.toISOString().slice(0, 10))}::date`, `day < ${p(spec.to.toISOString().slice(0, 10))}::date`);
  } else {
    where.push(`hour >= ${p(spec.from)}`, `hour < ${p(spec.to)}`);
  }
  for (const [filter, value] of Object.entries(spec.filters) as [MeterFilter, string][]) {
    where.push(`${dimSql(FILTER_COLUMN[filter])} = ${p(value)}`);
  }
  if (spec.scope !== null) {
    where.push(
      spec.scope.unitId === null
        ? `person_id = ${p(spec.scope.personId)}`
        : `(person_id = ${p(spec.scope.personId)} OR unit_id = ${p(spec.scope.unitId)})`,
    );
  }
  const keys = spec.groupBy.map((d) => `${dimSql(d)} AS "k_${d}"`);
  const positions = spec.groupBy.map((_, i) => String(i + 1));
  const sql = `SELECT ${[...keys, SUMS_SQL].join(', ')}
    FROM ${daily ? 'meter_daily' : 'meter_hourly'}
    WHERE ${where.join(' AND ')}
    ${positions.length ? `GROUP BY ${positions.join(', ')}` : ''}
    HAVING SUM(calls) <> 0 OR SUM(${TOKENS_SQL}) <> 0 OR SUM(cost) <> 0
    ${positions.length ? `ORDER BY ${positions.join(', ')}` : ''}`;
  return { sql, params };
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

  async meterSums(spec: MeterSqlSpec): Promise<GroupedSumRow[]> {
    const { sql, params } = meterSql(spec);
    const rows = await queryRows<SumRow & Record<string, string | null>>(this.dataSource, sql, params);
    return rows.map((row) => {
      const key: Partial<Record<GroupByDim, string>> = {};
      for (const d of spec.groupBy) key[d] = row[`k_${d}`] ?? '';
      return { key, sums: row };
    });
  }

  /** Up to `limit` events, newest first, strictly after the cursor. */
  listEvents(spec: EventListSpec): Promise<EventListRow[]> {
    const { sql, params } = eventListSql(spec);
    return queryRows<EventListRow>(this.dataSource, sql, params);
  }
}
