// Only this file reads and writes events, event_keys, tasks and the meter rollups on the ingest path.
// Every batch is a handful of statements whatever its size (arrays through unnest).
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { pgArray, queryPrepared, queryRows, type Db } from '../../src/database/sql.js';
import type { SpendLabel } from '../classification/classify.js';
import { addToRollupsCtes } from './rollup-sql.js';

/** An event as stored (the columns ingest and classification need). */
export interface StoredEvent {
  account_id: string;
  event_id: string;
  ts: Date;
  received_at: Date;
  seq: string;
  person_id: string | null;
  agent_id: string | null;
  unit_id: string | null;
  session_id: string | null;
  session_context: 'internal' | 'external' | null;
  task_id: string | null;
  attempt_id: string | null;
  outcome: 'success' | 'failure' | null;
  error_signature: string | null;
  learned_from: string[] | null;
  task_status: 'succeeded' | 'failed' | 'abandoned' | null;
  operation: string | null;
  channel: string | null;
  model_name: string | null;
  model_id: string | null;
  tier: string | null;
  price_book_version: number | null;
  rates_used: string | null;
  usage_format: string | null;
  input: string;
  cached_input: string;
  cache_write: string;
  output: string;
  reasoning: string;
  cost_input: string | null;
  cost_cached_input: string | null;
  cost_cache_write: string | null;
  cost_output: string | null;
  cost_reasoning: string | null;
  cost: string | null;
  priced: boolean;
  label: SpendLabel;
  reservation_id: string | null;
  metadata: Record<string, unknown> | null;
  content_hash: string;
  allowance_left: string | null;
  adjustment: boolean;
}

export type NewEventRow = Omit<StoredEvent, 'seq'> & { seq: number };

/** The period's included allowance, for the reading after each event. */
export interface Allowance {
  amount: string;
  periodStart: Date;
  periodEnd: Date;
}

/** Per new event (by id): the allowance left after it and the unit it was attributed to. */
export type Written = Map<string, { allowance_left: string | null; unit_id: string | null }>;

/** Every column of `events` with its type, as in the migration. */
const EVENT_COLUMN_TYPES = {
  account_id: 'text', event_id: 'text', ts: 'timestamptz', received_at: 'timestamptz', seq: 'int8', person_id: 'text',
  agent_id: 'text', unit_id: 'text', session_id: 'text', session_context: 'text', task_id: 'text', attempt_id: 'text',
  outcome: 'text', error_signature: 'text', learned_from: 'jsonb', task_status: 'text', operation: 'text', channel: 'text',
  model_name: 'text', model_id: 'text', tier: 'text', price_book_version: 'int4', rates_used: 'text', usage_format: 'text',
  input: 'int8', cached_input: 'int8', cache_write: 'int8', output: 'int8', reasoning: 'int8', cost_input: 'numeric',
  cost_cached_input: 'numeric', cost_cache_write: 'numeric', cost_output: 'numeric', cost_reasoning: 'numeric', cost: 'numeric',
  priced: 'bool', label: 'text', reservation_id: 'text', metadata: 'jsonb', content_hash: 'text', allowance_left: 'numeric',
  adjustment: 'bool',
} as const satisfies Record<keyof StoredEvent, string>;

const EVENT_COLUMNS = Object.keys(EVENT_COLUMN_TYPES) as (keyof StoredEvent)[];

/** The columns of new events sent as arrays: all but `account_id` ($1) and `allowance_left` (computed). */
const SENT_COLUMNS: readonly (keyof StoredEvent)[] = EVENT_COLUMNS.filter((c) => c !== 'account_id' && c !== 'allowance_left');

/**
 * The new events' columns as arrays (pgArray), one parameter each, in SENT_COLUMNS order. Arrays carry
 * values only: about half the bytes of the same rows as JSON objects, which the driver writes to the
 * socket and the server parses on every group. Timestamps travel as epoch milliseconds (sentType).
 */
function eventArrayParams(rows: readonly NewEventRow[]): string[] {
  return SENT_COLUMNS.map((c) => {
    const type = EVENT_COLUMN_TYPES[c];
    if (type === 'jsonb') return pgArray(rows, true, (r) => (r[c] === null || r[c] === undefined ? null : JSON.stringify(r[c])));
    return pgArray(rows, type === 'text', (r) => r[c]);
  });
}

/** The type a column's array is sent as: its own, but timestamps as epoch milliseconds. */
function sentType(c: keyof StoredEvent): string {
  const type = EVENT_COLUMN_TYPES[c];
  return type === 'timestamptz' ? 'int8' : type;
}

/** The parameter (numbered from `first`, in SENT_COLUMNS order) that carries column `c`, with its cast. */
function arrayParam(first: number, c: keyof StoredEvent): string {
  const i = SENT_COLUMNS.indexOf(c);
  if (i < 0) throw new Error(`${c} is not sent as an array`);
  return `$${first + i}::${sentType(c)}[]`;
}

/** The SQL that turns the arrays (from parameter `first`) back into rows (`unnest`). */
function eventArraysSql(first: number): string {
  const select = EVENT_COLUMNS.map((c) =>
    c === 'account_id'
      ? '$1::text AS account_id'
      : c === 'allowance_left'
        ? 'NULL::numeric AS allowance_left'
        : EVENT_COLUMN_TYPES[c] === 'timestamptz'
          ? `timestamptz 'epoch' + u.${c} * interval '1 millisecond' AS ${c}`
          : `u.${c}`,
  );
  return `SELECT ${select.join(', ')} FROM unnest(${SENT_COLUMNS.map((c) => arrayParam(first, c)).join(', ')}) AS u(${SENT_COLUMNS.join(', ')})`;
}

/**
 * Label changes of stored events: the changes as JSON (parameter $p) and their keys as arrays ($p+1: ts,
 * $p+2: event ids), so the planner finds the rows by the primary key instead of joining every partition.
 */
const relabelSql = (p: number) => `
  UPDATE events e SET label = c.label
    FROM json_to_recordset($${p}::json) AS c(ts timestamptz, event_id text, label text)
   WHERE e.account_id = $1 AND e.ts = ANY($${p + 1}::timestamptz[]) AND e.event_id = ANY($${p + 2}::text[])
     AND e.ts = c.ts AND e.event_id = c.event_id`;

/** Task status changes and activity: the changes as JSON ($p) and their task ids ($p+1), found by key. */
const taskUpdateSql = (p: number) => `
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
function guardParams(g: WriteGuard): unknown[] {
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

/** The parameters of relabelSql: the changes, then their keys. */
function relabelParams(changes: readonly { ts: Date; event_id: string; label: string }[]): unknown[] {
  const rows = changes.map(relabelRow);
  return [JSON.stringify(rows), rows.map((r) => r.ts), rows.map((r) => r.event_id)];
}

function taskUpdateParams(updates: readonly { task_id: string }[]): unknown[] {
  return [JSON.stringify(updates), updates.map((u) => u.task_id)];
}

function relabelRow(r: { ts: Date; event_id: string; label: string }): { ts: Date; event_id: string; label: string } {
  return { ts: r.ts, event_id: r.event_id, label: r.label };
}

export function monthPartition(ts: Date): { name: string; from: string; to: string } {
  const y = ts.getUTCFullYear();
  const m = ts.getUTCMonth();
  const from = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
  const to = new Date(Date.UTC(y, m + 1, 1)).toISOString().slice(0, 10);
  return { name: `events_y${y}m${String(m + 1).padStart(2, '0')}`, from, to };
}

const PARTITION_LOCK = 7_310_002;

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

export interface TaskRow {
  task_id: string;
  status: 'open' | 'succeeded' | 'failed' | 'abandoned';
}

/**
 * Where writeBatch put each part's parameters (0: the part is left out). Parts with nothing to do are
 * left out of the statement: an UPDATE ... FROM an empty JSON recordset is still planned as a join
 * against every partition of events.
 */
interface WriteShape {
  /** The first of the new events' arrays (see eventArrayParams). */
  arrays: number;
  before: number;
  after: number;
  labelChanges: number;
  taskChanges: number;
  guarded: number;
  creates: boolean;
}

/** writeBatch's statement for each shape, built once: a handful of texts, each prepared per connection. */
const writeStatements = new Map<string, string>();

function writeSql(shape: WriteShape): string {
  const key = JSON.stringify(shape);
  let sql = writeStatements.get(key);
  if (sql === undefined) {
    sql = buildWriteSql(shape);
    writeStatements.set(key, sql);
  }
  return sql;
}

function buildWriteSql({ arrays, before, after, labelChanges, taskChanges, guarded, creates }: WriteShape): string {
  const moves = before > 0;
  const taskUpdates = taskChanges > 0;
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
       guard AS (${guardSql(guarded, creates)}),` : ''}
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
       ${guarded ? 'SELECT NULL AS event_id, NULL AS allowance_left, NULL AS unit_id FROM guard WHERE NOT ok UNION ALL ' : ''}SELECT event_id, allowance_left::text AS allowance_left, unit_id FROM new_events`;
}

@Injectable()
export class EventsRepository {
  /** Months (year * 12 + month) whose partition this process has made sure of. */
  private readonly months = new Set<number>();

  constructor(private readonly dataSource: DataSource) {}

  /** Creates the monthly partitions these timestamps need (once per process per month). */
  async ensurePartitions(timestamps: Iterable<Date>): Promise<void> {
    const needed = new Map<number, Date>();
    for (const ts of timestamps) {
      const month = ts.getUTCFullYear() * 12 + ts.getUTCMonth();
      if (!this.months.has(month) && !needed.has(month)) needed.set(month, ts);
    }
    for (const [month, ts] of needed) {
      const p = monthPartition(ts);
      await this.dataSource.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
        await tx.query(`CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF events FOR VALUES FROM ('${p.from}') TO ('${p.to}')`);
      });
      this.months.add(month);
    }
  }

  async findByIds(accountId: string, ids: readonly string[]): Promise<StoredEvent[]> {
    if (ids.length === 0) return [];
    return queryRows<StoredEvent>(
      this.dataSource,
      `SELECT e.* FROM event_keys k
         JOIN events e ON e.account_id = k.account_id AND e.ts = k.ts AND e.event_id = k.event_id
        WHERE k.account_id = $1 AND k.event_id = ANY($2::text[])`,
      [accountId, ids],
    );
  }

  /**
   * A group of events in ONE statement: claim the ids (a unique key per account, for ever; claimed in id
   * order, and a concurrent claimer of the same id is waited for), attribute each event without a unit to
   * its person's unit at the event's time, insert the events that were new with the allowance left after
   * each (in ingest order), add them (and any relabelled events: old version -1, new +1) to the rollups,
   * and write label and task changes. New events travel as one array per column (eventArrayParams).
   */
  async writeBatch(
    tx: Tx | null,
    accountId: string,
    batch: {
      events: readonly NewEventRow[];
      relabelled: { before: readonly StoredEvent[]; after: readonly StoredEvent[] } | null;
      labels: LabelChanges | null;
      allowance: Allowance | null;
      /** Tasks to create and ids that must be new, or the statement is refused (see WriteGuard). */
      guard?: WriteGuard;
    },
  ): Promise<Written> {
    const moves = (batch.relabelled?.before.length ?? 0) > 0;
    const taskUpdates = (batch.labels?.taskUpdates.length ?? 0) > 0;
    const params: unknown[] = [
      accountId,
      batch.allowance?.amount ?? null,
      batch.allowance?.periodStart ?? null,
      batch.allowance?.periodEnd ?? null,
    ];
    /** Appends parameters; returns the number of the first. */
    const param = (...values: unknown[]) => params.push(...values) - values.length + 1;
    const arrays = params.length + 1;
    params.push(...eventArrayParams(batch.events));
    const shape: WriteShape = {
      arrays,
      before: moves ? param(JSON.stringify(batch.relabelled!.before)) : 0,
      after: moves ? param(JSON.stringify(batch.relabelled!.after)) : 0,
      labelChanges: moves ? param(...relabelParams(batch.labels?.relabelled ?? [])) : 0,
      taskChanges: taskUpdates ? param(...taskUpdateParams(batch.labels?.taskUpdates ?? [])) : 0,
      guarded: batch.guard ? param(...guardParams(batch.guard)) : 0,
      creates: (batch.guard?.newTasks.length ?? 0) > 0,
    };
    const rows = await queryPrepared<{ event_id: string; allowance_left: string | null; unit_id: string | null }>(tx ?? this.dataSource, writeSql(shape), params);
    return new Map(rows.map((r) => [r.event_id, { allowance_left: r.allowance_left, unit_id: r.unit_id }]));
  }

  /**
   * Moves events in the rollups from how they were (`before`, taken away) to how they are (`after`,
   * added): a relabel, a reprice. One statement, the same grouping as ingest and rebuild.
   */
  async moveInRollups(tx: Tx, before: readonly StoredEvent[], after: readonly StoredEvent[]): Promise<void> {
    if (before.length === 0 && after.length === 0) return;
    await tx.query(
      `WITH contributions AS (
         SELECT *, -1 AS sign FROM json_populate_recordset(NULL::events, $1::json)
         UNION ALL SELECT *, 1 AS sign FROM json_populate_recordset(NULL::events, $2::json)),
       ${addToRollupsCtes('contributions')}
       SELECT 1`,
      [JSON.stringify(before), JSON.stringify(after)],
    );
  }

  /** Labels and task states changed by a task's resolution. */
  async saveLabels(tx: Tx, accountId: string, labels: LabelChanges): Promise<void> {
    await tx.query(
      `WITH relabelled AS (${relabelSql(2)}), tasks_changed AS (${taskUpdateSql(5)}) SELECT 1`,
      [accountId, ...relabelParams(labels.relabelled), ...taskUpdateParams(labels.taskUpdates)],
    );
  }

  async closedPeriods(accountId: string): Promise<{ period_start: Date; period_end: Date }[]> {
    return queryRows(this.dataSource, 'SELECT period_start, period_end FROM meter_closed_periods WHERE account_id = $1', [accountId]);
  }

  /**
   * Creates missing tasks as open and locks every one, in a single upsert (the DO UPDATE takes the row
   * lock and records activity); ids in sorted order, so concurrent batches never deadlock. The same
   * statement says which of `eventIds` the account has already used. A task this statement created had
   * no row before, so it has no stored events (events in a task are only ever written with its row locked).
   */
  async lockTasks(
    tx: Tx,
    accountId: string,
    taskIds: readonly string[],
    now: Date,
    eventIds: readonly string[],
  ): Promise<{ tasks: Map<string, TaskRow & { created: boolean }>; taken: Set<string> }> {
    const sorted = [...new Set(taskIds)].sort();
    const rows = await queryPrepared<{ kind: 'task' | 'taken'; id: string; status: TaskRow['status'] | null; created: boolean | null }>(
      tx,
      `WITH locked AS (
         INSERT INTO tasks (account_id, task_id, status, opened_at, last_event_at)
         SELECT $1, t, 'open', $3, $3 FROM unnest($2::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n
         ON CONFLICT (account_id, task_id) DO UPDATE SET last_event_at = GREATEST(tasks.last_event_at, EXCLUDED.last_event_at)
         RETURNING task_id, status, xmax = 0 AS created)
       SELECT 'task' AS kind, task_id AS id, status, created FROM locked
       UNION ALL
       SELECT 'taken', event_id, NULL, NULL FROM event_keys WHERE account_id = $1 AND event_id = ANY($4::text[])`,
      [accountId, sorted, now, eventIds],
    );
    const tasks = new Map<string, TaskRow & { created: boolean }>();
    const taken = new Set<string>();
    for (const r of rows) {
      if (r.kind === 'task') tasks.set(r.id, { task_id: r.id, status: r.status!, created: r.created! });
      else taken.add(r.id);
    }
    return { tasks, taken };
  }

  async lockExistingTasks(tx: Tx, accountId: string, taskIds: readonly string[]): Promise<Map<string, TaskRow>> {
    const rows = await queryPrepared<TaskRow>(
      tx,
      'SELECT task_id, status FROM tasks WHERE account_id = $1 AND task_id = ANY($2::text[]) ORDER BY task_id FOR UPDATE',
      [accountId, [...new Set(taskIds)].sort()],
    );
    return new Map(rows.map((r) => [r.task_id, r]));
  }

  async taskEvents(db: Db, accountId: string, taskIds: readonly string[]): Promise<StoredEvent[]> {
    if (taskIds.length === 0) return [];
    return queryPrepared<StoredEvent>(
      db,
      `SELECT ${EVENT_COLUMNS.join(', ')} FROM events WHERE account_id = $1 AND task_id = ANY($2::text[]) ORDER BY ts, seq`,
      [accountId, [...new Set(taskIds)]],
    );
  }

  /** Open tasks idle for longer than their account's timeout, oldest first. */
  async idleTasks(now: Date, limit: number): Promise<{ account_id: string; task_id: string }[]> {
    return queryRows(
      this.dataSource,
      `SELECT t.account_id, t.task_id FROM tasks t JOIN accounts a ON a.id = t.account_id
        WHERE t.status = 'open' AND t.last_event_at < $1::timestamptz - make_interval(secs => a.task_inactivity_timeout_seconds)
        ORDER BY t.last_event_at LIMIT $2`,
      [now, limit],
    );
  }

  /** Reported model names with events still unpriced, across accounts, most events first. */
  async unpricedModels(): Promise<{ model_name: string; events: string; accounts: string; first_seen: Date; last_seen: Date }[]> {
    return queryRows(
      this.dataSource,
      `SELECT model_name, count(*)::text AS events, count(DISTINCT account_id)::text AS accounts,
              min(ts) AS first_seen, max(ts) AS last_seen
         FROM events WHERE NOT priced AND model_name IS NOT NULL
        GROUP BY model_name ORDER BY count(*) DESC, model_name`,
    );
  }

  /** A chunk of unpriced events of one reported model, locked so concurrent pricers skip them. */
  async lockUnpriced(tx: Tx, modelName: string, limit: number): Promise<StoredEvent[]> {
    return queryRows<StoredEvent>(
      tx,
      `SELECT * FROM events WHERE NOT priced AND model_name = $1 ORDER BY account_id, ts LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [modelName, limit],
    );
  }

  /**
   * Priced events in [from, to) that a book version other than `version` priced (in key order, after
   * `afterKey`), locked: those a correction of that version must reprice. Events priced by the
   * correction itself, i.e. ingested after it was published, are not read.
   */
  async eventsInRange(
    tx: Tx,
    version: number,
    from: Date,
    to: Date | null,
    afterKey: { account_id: string; ts: Date; event_id: string } | null,
    limit: number,
  ): Promise<StoredEvent[]> {
    return queryRows<StoredEvent>(
      tx,
      `SELECT * FROM events
        WHERE priced AND model_id IS NOT NULL AND ts >= $1 AND ($2::timestamptz IS NULL OR ts < $2)
          AND price_book_version IS DISTINCT FROM $7
          AND ($3::text IS NULL OR (account_id, ts, event_id) > ($3, $4::timestamptz, $5))
        ORDER BY account_id, ts, event_id LIMIT $6 FOR UPDATE`,
      [from, to, afterKey?.account_id ?? null, afterKey?.ts ?? null, afterKey?.event_id ?? null, limit, version],
    );
  }

  async setPrices(tx: Tx, rows: readonly Pick<StoredEvent, 'account_id' | 'ts' | 'event_id' | 'model_id' | 'tier' | 'price_book_version' | 'rates_used' | 'cost_input' | 'cost_cached_input' | 'cost_cache_write' | 'cost_output' | 'cost_reasoning' | 'cost'>[]): Promise<void> {
    if (rows.length === 0) return;
    const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
    await tx.query(
      `UPDATE events e SET model_id = u.model_id, tier = u.tier, price_book_version = u.price_book_version,
              rates_used = u.rates_used, cost_input = u.cost_input, cost_cached_input = u.cost_cached_input,
              cost_cache_write = u.cost_cache_write, cost_output = u.cost_output, cost_reasoning = u.cost_reasoning,
              cost = u.cost, priced = true
         FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::text[],
                     $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[])
           AS u(account_id, ts, event_id, model_id, tier, price_book_version, rates_used,
                cost_input, cost_cached_input, cost_cache_write, cost_output, cost_reasoning, cost)
        WHERE e.account_id = u.account_id AND e.ts = u.ts AND e.event_id = u.event_id`,
      [
        col('account_id'), col('ts'), col('event_id'), col('model_id'), col('tier'), col('price_book_version'), col('rates_used'),
        col('cost_input'), col('cost_cached_input'), col('cost_cache_write'), col('cost_output'), col('cost_reasoning'), col('cost'),
      ],
    );
  }

  async state(db: Db, key: string): Promise<number> {
    const [row] = await queryRows<{ value: string }>(db, 'SELECT value FROM metering_state WHERE key = $1', [key]);
    return row ? Number(row.value) : 0;
  }

  async setState(tx: Tx, key: string, value: number): Promise<void> {
    await tx.query(
      'INSERT INTO metering_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
      [key, value],
    );
  }
}
