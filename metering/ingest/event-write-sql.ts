// The SQL of an ingest write: ONE statement that claims the ids, attributes units, stores the new events with
// the allowance left after each, adds them to the rollups and writes label and task changes, built per
// shape of the group (which parts it has) and kept; plus the label and task updates classification reuses.
import type { SpendLabel } from '../classification/classify.js';
import { arrayParam, EVENT_COLUMNS, eventArraysSql } from './event-row.js';
import { addToRollupsCtes } from './rollup-sql.js';

/**
 * Label changes of stored events: the changes as JSON (parameter $p) and their keys as arrays ($p+1: ts,
 * $p+2: event ids), so the planner finds the rows by the primary key instead of joining every partition.
 */
export const relabelSql = (p: number) => `
  UPDATE events e SET label = c.label
    FROM json_to_recordset($${p}::json) AS c(ts timestamptz, event_id text, label text)
   WHERE e.account_id = $1 AND e.ts = ANY($${p + 1}::timestamptz[]) AND e.event_id = ANY($${p + 2}::text[])
     AND e.ts = c.ts AND e.event_id = c.event_id`;

/** Task status changes and activity: the changes as JSON ($p) and their task ids ($p+1), found by key. */
export const taskUpdateSql = (p: number) => `
  UPDATE tasks t SET status = u.status,
         last_event_at = GREATEST(t.last_event_at, COALESCE(u.last_event_at, t.last_event_at)),
         closed_at = COALESCE(u.closed_at, t.closed_at), closed_by = COALESCE(u.closed_by, t.closed_by)
    FROM json_to_recordset($${p}::json) AS u(task_id text, status text, last_event_at timestamptz, closed_at timestamptz, closed_by text)
   WHERE t.account_id = $1 AND t.task_id = ANY($${p + 1}::text[]) AND t.task_id = u.task_id`;

/**
 * New tasks ($p: ids, sorted; $p+1 status; $p+2 when; $p+3 closed at; $p+4 closed by): inserted as they
 * stand after the statement's events, none if it exists already.
 */
const newTasksSql = (p: number) => `
  INSERT INTO tasks (account_id, task_id, status, opened_at, last_event_at, closed_at, closed_by)
  SELECT $1, t.task_id, t.status, t.at, t.at, t.closed_at, t.closed_by
    FROM unnest($${p}::text[], $${p + 1}::text[], $${p + 2}::timestamptz[], $${p + 3}::timestamptz[], $${p + 4}::text[])
         WITH ORDINALITY AS t(task_id, status, at, closed_at, closed_by, n)
   ORDER BY t.n
  ON CONFLICT DO NOTHING RETURNING task_id`;

/**
 * Refuses the statement unless it claimed every id in $p and, with `tasks`, created every new task
 * ($p+1, see newTasksSql). Read before anything else of the statement (first in its result), so tasks
 * are locked before ids, in the order of the locked path.
 */
const guardSql = (p: number, tasks: boolean) => `
  SELECT tokenmeter_refuse_unless(
           ${tasks ? `(SELECT count(*) FROM new_tasks) = cardinality($${p + 1}::text[]) AND ` : ''}(SELECT count(*) FROM claimed WHERE event_id = ANY($${p}::text[])) = cardinality($${p}::text[]),
           'a task of the group exists or an id of its task events is taken') AS ok`;

/** The parameters of guardSql: the ids, then (only when there are new tasks) those of newTasksSql. */
export function guardParams(g: WriteGuard): unknown[] {
  if (g.newTasks.length === 0) return [g.claimed];
  const tasks = [...g.newTasks].sort((a, b) => (a.task_id < b.task_id ? -1 : a.task_id > b.task_id ? 1 : 0));
  return [
    g.claimed,
    tasks.map((t) => t.task_id),
    tasks.map((t) => t.status),
    tasks.map((t) => t.at.toISOString()),
    tasks.map((t) => t.closed_at?.toISOString() ?? null),
    tasks.map((t) => t.closed_by),
  ];
}

/**
 * Refuses the statement unless every event of it is new and attributed to the unit its counters counted
 * its spend under ($p: event ids, $p+1: units; see UsageCountersStatement).
 */
const countedGuardSql = (p: number) => `
  SELECT tokenmeter_refuse_unless(
           (SELECT count(*) FROM claimed) = (SELECT count(*) FROM input)
           AND NOT EXISTS (SELECT 1 FROM input JOIN unnest($${p}::text[], $${p + 1}::text[]) AS x(event_id, unit_id) USING (event_id)
                            WHERE input.unit_id IS DISTINCT FROM x.unit_id),
           'an event of the group was stored before, or is in another unit than its spend was counted under') AS ok`;

/** The parameters of countedGuardSql. */
export function countedGuardParams(units: ReadonlyMap<string, string | null>): unknown[] {
  return [[...units.keys()], [...units.values()]];
}

/** The parameters of relabelSql: the changes, then their keys. */
export function relabelParams(changes: readonly { ts: Date; event_id: string; label: string }[]): unknown[] {
  const rows = changes.map(relabelRow);
  return [JSON.stringify(rows), rows.map((r) => r.ts), rows.map((r) => r.event_id)];
}

export function taskUpdateParams(updates: readonly { task_id: string }[]): unknown[] {
  return [JSON.stringify(updates), updates.map((u) => u.task_id)];
}

function relabelRow(r: { ts: Date; event_id: string; label: string }): { ts: Date; event_id: string; label: string } {
  return { ts: r.ts, event_id: r.event_id, label: r.label };
}

/**
 * The unit of an event that names none (`raw`, in writeBatch): its person's unit at the event's time, or,
 * for an event older than the person's first move, the unit they started in. Read once per person of
 * the statement (`histories`: their moves in time order, as arrays) and picked per event by counting
 * the moves at or before its time: one index probe per person, not two per event.
 */
const histories = (persons: string) => `
  SELECT person_id, array_agg(effective_from ORDER BY effective_from) AS froms, array_agg(unit_id ORDER BY effective_from) AS units
    FROM person_unit_history
   WHERE account_id = $1 AND person_id = ANY(${persons})
   GROUP BY person_id`;
const UNIT_AT_EVENT_TIME = `coalesce(raw.unit_id, CASE WHEN cardinality(h.froms) = 1 THEN h.units[1]
  ELSE h.units[greatest(1, (SELECT count(*) FROM unnest(h.froms) AS f WHERE f <= raw.ts))::int] END)`;

/**
 * What a write was classified on, checked by the statement itself: the tasks it creates (taken to be
 * new, as they stand after its events) and the ids of task events classified as new attempts. The
 * statement is refused (WRITE_REFUSED, nothing written) if a task existed or one of those ids was taken.
 */
export interface WriteGuard {
  newTasks: readonly { task_id: string; status: string; at: Date; closed_at: Date | null; closed_by: string | null }[];
  claimed: readonly string[];
}

/** A task's status change (written with its closing time and who closed it). */
export interface TaskUpdate {
  task_id: string;
  status: string;
  last_event_at: Date | null;
  closed_at: Date | null;
  closed_by: string | null;
}

/** What classifying tasks changed in stored rows: events' labels and tasks' status (see TaskLabels). */
export interface LabelChanges {
  readonly relabelled: readonly { ts: Date; event_id: string; label: SpendLabel }[];
  readonly taskUpdates: readonly TaskUpdate[];
}

/** SQLSTATE raised by tokenmeter_refuse_unless (migration 1764400000000): an optimistic write was refused. */
export const WRITE_REFUSED = 'TMW01';

/**
 * Where writeBatch put each part's parameters (0: the part is left out). Parts with nothing to do are
 * left out of the statement: an UPDATE ... FROM an empty JSON recordset is still planned as a join
 * against every partition of events.
 */
export interface WriteShape {
  /** The first of the new events' arrays (see eventArrayParams). */
  arrays: number;
  before: number;
  after: number;
  labelChanges: number;
  taskChanges: number;
  guarded: number;
  creates: boolean;
  /** The counters' part (see UsageCountersStatement): where countedGuardSql's parameters start, and its CTEs. */
  counted: { guard: number; ctes: string } | null;
}

/** writeBatch's statement for each shape, built once: a handful of texts, each prepared per connection. */
const writeStatements = new Map<string, string>();

export function writeSql(shape: WriteShape): string {
  const key = JSON.stringify(shape);
  let sql = writeStatements.get(key);
  if (sql === undefined) {
    sql = buildWriteSql(shape);
    writeStatements.set(key, sql);
  }
  return sql;
}

function buildWriteSql({ arrays, before, after, labelChanges, taskChanges, guarded, creates, counted }: WriteShape): string {
  const moves = before > 0;
  const taskUpdates = taskChanges > 0;
  const none = counted ? 'NULL AS event_id, NULL AS allowance_left, NULL AS unit_id, NULL::text AS counted' : 'NULL AS event_id, NULL AS allowance_left, NULL AS unit_id';
  return `WITH ${creates ? `new_tasks AS (${newTasksSql(guarded + 1)}),` : ''}
       raw AS (${eventArraysSql(arrays)}),
       histories AS (${histories(arrayParam(arrays, 'person_id'))}),
       input AS (
         SELECT ${EVENT_COLUMNS.map((c) => (c === 'unit_id' ? `${UNIT_AT_EVENT_TIME} AS unit_id` : `raw.${c}`)).join(', ')}
           FROM raw LEFT JOIN histories h ON h.person_id = raw.person_id),
       claimed AS (
         INSERT INTO event_keys (account_id, event_id, ts, content_hash)
         SELECT account_id, event_id, ts, content_hash FROM input ORDER BY event_id
         ON CONFLICT DO NOTHING RETURNING event_id),${guarded ? `
       guard AS (${guardSql(guarded, creates)}),` : ''}${counted ? `
       counted_guard AS (${countedGuardSql(counted.guard)}),
       ${counted.ctes},` : ''}
       fresh AS (SELECT input.* FROM input JOIN claimed USING (event_id)),
       spent AS (
         SELECT coalesce(sum(cost), 0) AS amount FROM meter_spend_daily
          WHERE account_id = $1 AND day >= ($3::timestamptz AT TIME ZONE 'UTC')::date AND day < ($4::timestamptz AT TIME ZONE 'UTC')::date),
       reading AS (
         SELECT fresh.event_id,
                CASE WHEN $2::numeric IS NULL THEN NULL ELSE greatest(0, $2::numeric - spent.amount - sum(
                  CASE WHEN fresh.ts >= $3::timestamptz AND fresh.ts < $4::timestamptz THEN coalesce(fresh.cost, 0) ELSE 0 END
                ) OVER (ORDER BY fresh.seq, fresh.event_id ROWS UNBOUNDED PRECEDING)) END AS allowance_left
           FROM fresh, spent),
       new_events AS (
         INSERT INTO events (${EVENT_COLUMNS.join(', ')})
         SELECT ${EVENT_COLUMNS.map((c) => (c === 'allowance_left' ? 'reading.allowance_left' : `fresh.${c}`)).join(', ')}
           FROM fresh JOIN reading USING (event_id)
         RETURNING event_id, allowance_left, unit_id),
       contributions AS (
         SELECT *, 1 AS sign FROM fresh${moves ? `
         UNION ALL SELECT ${EVENT_COLUMNS.join(', ')}, -1 AS sign FROM json_populate_recordset(NULL::events, $${before}::json)
         UNION ALL SELECT ${EVENT_COLUMNS.join(', ')}, 1 AS sign FROM json_populate_recordset(NULL::events, $${after}::json)` : ''}),
       ${addToRollupsCtes('contributions')}${
         moves ? `,
       relabelled AS (${relabelSql(labelChanges)})` : ''}${
         taskUpdates ? `,
       tasks_changed AS (${taskUpdateSql(taskChanges)})` : ''}
       ${guarded ? `SELECT ${none} FROM guard WHERE NOT ok UNION ALL ` : ''}${counted ? `SELECT ${none} FROM counted_guard WHERE NOT ok UNION ALL ` : ''}SELECT event_id, allowance_left::text AS allowance_left, unit_id${counted ? ', NULL AS counted' : ''} FROM new_events${
         counted ? `
       UNION ALL SELECT NULL, NULL, NULL, counted::text FROM counted` : ''}`;
}
