// Only this file reads and writes events, event_keys, tasks and the meter rollups on the ingest path.
// Every batch is a handful of statements whatever its size (arrays through unnest).
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows, type Db } from '../../src/database/sql.js';
import { unnestParams, type UnnestColumn } from '../../src/database/unnest.js';
import type { SpendLabel } from '../classification/classify.js';

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

const EVENT_COLUMNS: UnnestColumn<NewEventRow>[] = [
  { name: 'account_id', type: 'text[]', value: (r) => r.account_id },
  { name: 'event_id', type: 'text[]', value: (r) => r.event_id },
  { name: 'ts', type: 'timestamptz[]', value: (r) => r.ts },
  { name: 'received_at', type: 'timestamptz[]', value: (r) => r.received_at },
  { name: 'seq', type: 'int8[]', value: (r) => r.seq },
  { name: 'person_id', type: 'text[]', value: (r) => r.person_id },
  { name: 'agent_id', type: 'text[]', value: (r) => r.agent_id },
  { name: 'unit_id', type: 'text[]', value: (r) => r.unit_id },
  { name: 'session_id', type: 'text[]', value: (r) => r.session_id },
  { name: 'session_context', type: 'text[]', value: (r) => r.session_context },
  { name: 'task_id', type: 'text[]', value: (r) => r.task_id },
  { name: 'attempt_id', type: 'text[]', value: (r) => r.attempt_id },
  { name: 'outcome', type: 'text[]', value: (r) => r.outcome },
  { name: 'error_signature', type: 'text[]', value: (r) => r.error_signature },
  { name: 'learned_from', type: 'jsonb[]', value: (r) => (r.learned_from === null ? null : JSON.stringify(r.learned_from)) },
  { name: 'task_status', type: 'text[]', value: (r) => r.task_status },
  { name: 'operation', type: 'text[]', value: (r) => r.operation },
  { name: 'channel', type: 'text[]', value: (r) => r.channel },
  { name: 'model_name', type: 'text[]', value: (r) => r.model_name },
  { name: 'model_id', type: 'text[]', value: (r) => r.model_id },
  { name: 'tier', type: 'text[]', value: (r) => r.tier },
  { name: 'price_book_version', type: 'int4[]', value: (r) => r.price_book_version },
  { name: 'rates_used', type: 'text[]', value: (r) => r.rates_used },
  { name: 'usage_format', type: 'text[]', value: (r) => r.usage_format },
  { name: 'input', type: 'int8[]', value: (r) => r.input },
  { name: 'cached_input', type: 'int8[]', value: (r) => r.cached_input },
  { name: 'cache_write', type: 'int8[]', value: (r) => r.cache_write },
  { name: 'output', type: 'int8[]', value: (r) => r.output },
  { name: 'reasoning', type: 'int8[]', value: (r) => r.reasoning },
  { name: 'cost_input', type: 'numeric[]', value: (r) => r.cost_input },
  { name: 'cost_cached_input', type: 'numeric[]', value: (r) => r.cost_cached_input },
  { name: 'cost_cache_write', type: 'numeric[]', value: (r) => r.cost_cache_write },
  { name: 'cost_output', type: 'numeric[]', value: (r) => r.cost_output },
  { name: 'cost_reasoning', type: 'numeric[]', value: (r) => r.cost_reasoning },
  { name: 'cost', type: 'numeric[]', value: (r) => r.cost },
  { name: 'priced', type: 'bool[]', value: (r) => r.priced },
  { name: 'label', type: 'text[]', value: (r) => r.label },
  { name: 'reservation_id', type: 'text[]', value: (r) => r.reservation_id },
  { name: 'metadata', type: 'jsonb[]', value: (r) => (r.metadata === null ? null : JSON.stringify(r.metadata)) },
  { name: 'content_hash', type: 'text[]', value: (r) => r.content_hash },
  { name: 'allowance_left', type: 'numeric[]', value: (r) => r.allowance_left },
  { name: 'adjustment', type: 'bool[]', value: (r) => r.adjustment },
];

/** A change to one rollup row: the key and what to add (negative to take away). */
export interface HourlyDelta {
  hour: Date;
  model: string;
  tier: string;
  unit_id: string;
  person_id: string;
  agent_id: string;
  operation: string;
  channel: string;
  label: string;
  session_context: string;
  calls: number;
  input: number;
  cached_input: number;
  cache_write: number;
  output: number;
  reasoning: number;
  cost: string;
}

export interface DailyDelta {
  day: string;
  tier: string;
  label: string;
  channel: string;
  calls: number;
  input: number;
  cached_input: number;
  cache_write: number;
  output: number;
  reasoning: number;
  cost: string;
}

const SUMS = ['calls', 'input', 'cached_input', 'cache_write', 'output', 'reasoning'] as const;

export function monthPartition(ts: Date): { name: string; from: string; to: string } {
  const y = ts.getUTCFullYear();
  const m = ts.getUTCMonth();
  const from = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
  const to = new Date(Date.UTC(y, m + 1, 1)).toISOString().slice(0, 10);
  return { name: `events_y${y}m${String(m + 1).padStart(2, '0')}`, from, to };
}

const PARTITION_LOCK = 7_310_002;

export interface TaskRow {
  task_id: string;
  status: 'open' | 'succeeded' | 'failed' | 'abandoned';
}

@Injectable()
export class EventsRepository {
  private readonly partitions = new Set<string>();

  constructor(private readonly dataSource: DataSource) {}

  /** Creates the monthly partitions these timestamps need (once per process per month). */
  async ensurePartitions(timestamps: Iterable<Date>): Promise<void> {
    const needed = new Map<string, { from: string; to: string }>();
    for (const ts of timestamps) {
      const p = monthPartition(ts);
      if (!this.partitions.has(p.name)) needed.set(p.name, p);
    }
    for (const [name, p] of needed) {
      await this.dataSource.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
        await tx.query(`CREATE TABLE IF NOT EXISTS ${name} PARTITION OF events FOR VALUES FROM ('${p.from}') TO ('${p.to}')`);
      });
      this.partitions.add(name);
    }
  }

  /** Claims the ids; returns those that were new. Waits for a concurrent claimer of the same id to finish. */
  async claimKeys(tx: Tx, accountId: string, events: readonly { id: string; ts: Date; content_hash: string }[]): Promise<Set<string>> {
    if (events.length === 0) return new Set();
    const rows = await queryRows<{ event_id: string }>(
      tx,
      `INSERT INTO event_keys (account_id, event_id, ts, content_hash)
       SELECT $1, * FROM unnest($2::text[], $3::timestamptz[], $4::text[])
       ON CONFLICT DO NOTHING RETURNING event_id`,
      [accountId, events.map((e) => e.id), events.map((e) => e.ts), events.map((e) => e.content_hash)],
    );
    return new Set(rows.map((r) => r.event_id));
  }

  async findByIds(db: Db, accountId: string, ids: readonly string[]): Promise<StoredEvent[]> {
    if (ids.length === 0) return [];
    return queryRows<StoredEvent>(
      db,
      `SELECT e.* FROM event_keys k
         JOIN events e ON e.account_id = k.account_id AND e.ts = k.ts AND e.event_id = k.event_id
        WHERE k.account_id = $1 AND k.event_id = ANY($2::text[])`,
      [accountId, ids],
    );
  }

  async insertEvents(tx: Tx, rows: readonly NewEventRow[]): Promise<void> {
    if (rows.length === 0) return;
    const { select, names, params } = unnestParams(EVENT_COLUMNS, rows);
    await tx.query(`INSERT INTO events (${names}) ${select}`, params);
  }

  async applyHourly(tx: Tx, accountId: string, deltas: readonly HourlyDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const dims = ['model', 'tier', 'unit_id', 'person_id', 'agent_id', 'operation', 'channel', 'label', 'session_context'] as const;
    const params: unknown[] = [accountId, deltas.map((d) => d.hour)];
    for (const dim of dims) params.push(deltas.map((d) => d[dim]));
    for (const sum of SUMS) params.push(deltas.map((d) => d[sum]));
    params.push(deltas.map((d) => d.cost));
    const n = dims.length;
    await tx.query(
      `INSERT INTO meter_hourly (account_id, hour, shard, ${dims.join(', ')}, ${SUMS.join(', ')}, cost)
       SELECT $1, hour, (pg_backend_pid() % 8)::smallint, ${dims.join(', ')}, ${SUMS.join(', ')}, cost
         FROM unnest($2::timestamptz[], ${dims.map((_, i) => `$${i + 3}::text[]`).join(', ')},
                     ${SUMS.map((_, i) => `$${i + 3 + n}::int8[]`).join(', ')}, $${3 + n + SUMS.length}::numeric[])
           AS t(hour, ${dims.join(', ')}, ${SUMS.join(', ')}, cost)
       ON CONFLICT (account_id, hour, shard, ${dims.join(', ')}) DO UPDATE SET
         ${SUMS.map((s) => `${s} = meter_hourly.${s} + EXCLUDED.${s}`).join(', ')},
         cost = meter_hourly.cost + EXCLUDED.cost`,
      params,
    );
  }

  async applyDaily(tx: Tx, accountId: string, deltas: readonly DailyDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    await tx.query(
      `INSERT INTO meter_daily (account_id, day, shard, tier, label, channel, ${SUMS.join(', ')}, cost)
       SELECT $1, day, (pg_backend_pid() % 8)::smallint, tier, label, channel, ${SUMS.join(', ')}, cost
         FROM unnest($2::date[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::int8[], $8::int8[], $9::int8[],
                     $10::int8[], $11::int8[], $12::numeric[])
           AS t(day, tier, label, channel, ${SUMS.join(', ')}, cost)
       ON CONFLICT (account_id, day, shard, tier, label, channel) DO UPDATE SET
         ${SUMS.map((s) => `${s} = meter_daily.${s} + EXCLUDED.${s}`).join(', ')},
         cost = meter_daily.cost + EXCLUDED.cost`,
      [
        accountId,
        deltas.map((d) => d.day),
        deltas.map((d) => d.tier),
        deltas.map((d) => d.label),
        deltas.map((d) => d.channel),
        ...SUMS.map((s) => deltas.map((d) => d[s])),
        deltas.map((d) => d.cost),
      ],
    );
  }

  /** Cost metered for an account between two days (inclusive from, exclusive to). */
  async costBetween(db: Db, accountId: string, fromDay: string, toDay: string): Promise<string> {
    const [row] = await queryRows<{ cost: string | null }>(
      db,
      'SELECT sum(cost)::text AS cost FROM meter_daily WHERE account_id = $1 AND day >= $2 AND day < $3',
      [accountId, fromDay, toDay],
    );
    return row?.cost ?? '0';
  }

  /** Each person's unit history, oldest first. */
  async memberships(accountId: string, personIds: readonly string[]): Promise<{ person_id: string; unit_id: string; effective_from: Date }[]> {
    if (personIds.length === 0) return [];
    return queryRows(
      this.dataSource,
      `SELECT person_id, unit_id, effective_from FROM person_unit_history
        WHERE account_id = $1 AND person_id = ANY($2::text[]) ORDER BY person_id, effective_from`,
      [accountId, personIds],
    );
  }

  async closedPeriods(accountId: string): Promise<{ period_start: Date; period_end: Date }[]> {
    return queryRows(this.dataSource, 'SELECT period_start, period_end FROM meter_closed_periods WHERE account_id = $1', [accountId]);
  }

  /** Creates missing tasks as open, then locks all of them in id order (no deadlocks between batches). */
  async lockTasks(tx: Tx, accountId: string, taskIds: readonly string[], now: Date): Promise<Map<string, TaskRow>> {
    const sorted = [...new Set(taskIds)].sort();
    await tx.query(
      `INSERT INTO tasks (account_id, task_id, status, opened_at, last_event_at)
       SELECT $1, t, 'open', $3, $3 FROM unnest($2::text[]) AS t ON CONFLICT DO NOTHING`,
      [accountId, sorted, now],
    );
    const rows = await queryRows<TaskRow>(
      tx,
      'SELECT task_id, status FROM tasks WHERE account_id = $1 AND task_id = ANY($2::text[]) ORDER BY task_id FOR UPDATE',
      [accountId, sorted],
    );
    return new Map(rows.map((r) => [r.task_id, r]));
  }

  async lockExistingTasks(tx: Tx, accountId: string, taskIds: readonly string[]): Promise<Map<string, TaskRow>> {
    const rows = await queryRows<TaskRow>(
      tx,
      'SELECT task_id, status FROM tasks WHERE account_id = $1 AND task_id = ANY($2::text[]) ORDER BY task_id FOR UPDATE',
      [accountId, [...new Set(taskIds)].sort()],
    );
    return new Map(rows.map((r) => [r.task_id, r]));
  }

  async updateTasks(
    tx: Tx,
    accountId: string,
    updates: readonly { task_id: string; status: string; last_event_at: Date | null; closed_at: Date | null; closed_by: string | null }[],
  ): Promise<void> {
    if (updates.length === 0) return;
    await tx.query(
      `UPDATE tasks t SET status = u.status,
              last_event_at = GREATEST(t.last_event_at, COALESCE(u.last_event_at, t.last_event_at)),
              closed_at = COALESCE(u.closed_at, t.closed_at), closed_by = COALESCE(u.closed_by, t.closed_by)
         FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[])
           AS u(task_id, status, last_event_at, closed_at, closed_by)
        WHERE t.account_id = $1 AND t.task_id = u.task_id`,
      [
        accountId,
        updates.map((u) => u.task_id),
        updates.map((u) => u.status),
        updates.map((u) => u.last_event_at),
        updates.map((u) => u.closed_at),
        updates.map((u) => u.closed_by),
      ],
    );
  }

  async taskEvents(db: Db, accountId: string, taskIds: readonly string[]): Promise<StoredEvent[]> {
    if (taskIds.length === 0) return [];
    return queryRows<StoredEvent>(
      db,
      'SELECT * FROM events WHERE account_id = $1 AND task_id = ANY($2::text[]) ORDER BY ts, seq',
      [accountId, [...new Set(taskIds)]],
    );
  }

  async relabel(tx: Tx, accountId: string, changes: readonly { ts: Date; event_id: string; label: SpendLabel }[]): Promise<void> {
    if (changes.length === 0) return;
    await tx.query(
      `UPDATE events e SET label = c.label
         FROM unnest($2::timestamptz[], $3::text[], $4::text[]) AS c(ts, event_id, label)
        WHERE e.account_id = $1 AND e.ts = c.ts AND e.event_id = c.event_id`,
      [accountId, changes.map((c) => c.ts), changes.map((c) => c.event_id), changes.map((c) => c.label)],
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

  /** Events of an account priced by a book version other than the one now in force for their time. */
  async eventsInRange(tx: Tx, from: Date, to: Date | null, afterKey: { account_id: string; ts: Date; event_id: string } | null, limit: number): Promise<StoredEvent[]> {
    return queryRows<StoredEvent>(
      tx,
      `SELECT * FROM events
        WHERE priced AND model_id IS NOT NULL AND ts >= $1 AND ($2::timestamptz IS NULL OR ts < $2)
          AND ($3::text IS NULL OR (account_id, ts, event_id) > ($3, $4::timestamptz, $5))
        ORDER BY account_id, ts, event_id LIMIT $6 FOR UPDATE`,
      [from, to, afterKey?.account_id ?? null, afterKey?.ts ?? null, afterKey?.event_id ?? null, limit],
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
