// Readings over a full month: the stored events topped up to the target count the cheap way (copies of
// the ingested rows with new ids and times, in SQL), the rollups recomputed from the raw events for the
// bench account, then the meter and listing routes timed one request after another.
import pg from 'pg';
import { compactionWindow } from '../../metering/compaction/compaction-window.js';
import { COMPACTION_STATEMENTS, fillRollupsSql, METER_ROLLUPS, ROLLUP_NAMES, ROLLUP_TABLES } from '../../metering/ingest/rollup-sql.js';
import { tableColumns } from './ceiling.js';
import type { HttpReply } from './http.js';
import { Samples, type Summary } from './stats.js';

type Sums = { calls: string; tokens: string; cost: string };

export interface RollupCheck {
  consistent: boolean;
  events: Sums;
  /** Each meter rollup's sums, by name. */
  rollups: Record<string, Sums>;
  /** The spend rollup's cost. */
  spend: string;
}

/** Do the rollups ingest maintained say what the raw events say (calls, tokens, cost)? */
export async function checkRollups(db: pg.Pool, account: string): Promise<RollupCheck> {
  const q = async (from: string, calls: string) => {
    const { rows } = await db.query<Sums>(
      `SELECT coalesce(sum(${calls}), 0)::text AS calls,
              coalesce(sum(input + cached_input + cache_write + output), 0)::text AS tokens,
              coalesce(sum(cost), 0)::numeric(40, 18)::text AS cost
         FROM ${from} WHERE account_id = $1`,
      [account],
    );
    return rows[0]!;
  };
  const events = await q('events', '1');
  const rollups: Record<string, Sums> = {};
  for (const r of METER_ROLLUPS) rollups[r.name] = await q(r.table, 'calls');
  const spend = (
    await db.query<{ cost: string }>(
      'SELECT coalesce(sum(cost), 0)::numeric(40, 18)::text AS cost FROM meter_spend_daily WHERE account_id = $1',
      [account],
    )
  ).rows[0]!.cost;
  const same = (a: Sums) => a.calls === events.calls && a.tokens === events.tokens && a.cost === events.cost;
  return { consistent: Object.values(rollups).every(same) && spend === events.cost, events, rollups, spend };
}

/**
 * Rows written (inserted or updated) into each rollup per event claimed in `event_keys`, from PostgreSQL's
 * table statistics of this database's own tables: what each rollup costs every ingest write. Backends report
 * their counts within 10 s of going idle, so this waits that long first.
 */
export async function rollupWrites(db: pg.Pool): Promise<Record<string, number>> {
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  const { rows } = await db.query<{ relname: string; n: string }>(
    `SELECT relname, (n_tup_ins + n_tup_upd)::text AS n FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = ANY($1::text[])`,
    [['event_keys', ...ROLLUP_TABLES]],
  );
  const written = new Map(rows.map((r) => [r.relname, Number(r.n)]));
  const events = written.get('event_keys') ?? 0;
  return Object.fromEntries(ROLLUP_TABLES.map((t, i) => [ROLLUP_NAMES[i]!, events > 0 ? (written.get(t) ?? 0) / events : 0]));
}

export interface TopUp {
  before: number;
  after: number;
  ms: number;
  /** How the rollups were recomputed, and how long that took. */
  rollups: RollupMode;
  rollupMs: number;
  /** `compacted`: how long the compaction took, and the rows it moved and wrote. */
  compaction?: { ms: number; moved: number; written: number };
}

/**
 * `rebuild`: the service's own `npm run rebuild <account>` (labels and rollups from raw events, rollups in
 * shard 0). `sql`: one GROUP BY from raw events spread over the 8 shards concurrent ingest writes to, the
 * state a month of ingest would leave without the compaction (more rollup rows for a reading to sum).
 * `compacted`: `sql`, then the compaction's own statements fold every hour and day closed at the
 * workload's "now" into one row per key, the state the hourly job leaves (the current hour and day stay
 * over the 8 shards).
 */
export type RollupMode = 'rebuild' | 'sql' | 'compacted';
export const ROLLUP_MODES: readonly RollupMode[] = ['rebuild', 'sql', 'compacted'];

/**
 * Copies the account's ingested events (ids without '~') with ids `<id>~r<k>` and random times in
 * [from, to) until `target` events are stored, with their idempotency keys; then recomputes the account's
 * rollups from the raw events, spread over the same 8 shards concurrent ingest writes.
 */
export async function topUp(
  db: pg.Pool,
  account: string,
  target: number,
  from: Date,
  to: Date,
  rollups: { mode: RollupMode; rebuild: () => Promise<string> },
  log: (line: string) => void,
  /** A kept database read again: when it already holds `target` events, its rollups are as the run that stored them left them. */
  reused = false,
): Promise<TopUp> {
  const started = performance.now();
  const count = async () => Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM events WHERE account_id = $1', [account])).rows[0]!.n);
  const before = await count();
  const originals = Number(
    (await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM events WHERE account_id = $1 AND strpos(event_id, '~') = 0`, [account])).rows[0]!.n,
  );
  const columns = (await tableColumns(db, 'events')).map((c) => c.name);
  const expr: Record<string, string> = {
    event_id: `e.event_id || '~r' || $3::int`,
    ts: `$4::timestamptz + random() * ($5::timestamptz - $4::timestamptz)`,
    task_id: `e.task_id || '~r' || $3::int`,
    attempt_id: `e.attempt_id || '~r' || $3::int`,
    learned_from: `(SELECT jsonb_agg(x || '~r' || $3::int) FROM jsonb_array_elements_text(e.learned_from) AS x)`,
  };
  const select = columns.map((c) => expr[c] ?? `e.${c}`).join(', ');
  let stored = before;
  // Copies made by an earlier top-up (to a smaller count) took rounds 1.. up to this one's first.
  const firstRound = originals > 0 ? Math.ceil((before - originals) / originals) + 1 : 1;
  for (let k = firstRound; stored < target && originals > 0; k++) {
    const n = Math.min(originals, target - stored);
    const res = await db.query(
      `WITH copied AS (
         INSERT INTO events (${columns.join(', ')})
         SELECT ${select} FROM (SELECT * FROM events WHERE account_id = $1 AND strpos(event_id, '~') = 0 LIMIT $2) e
         RETURNING account_id, event_id, ts, content_hash)
       INSERT INTO event_keys (account_id, event_id, ts, content_hash) SELECT * FROM copied`,
      [account, n, k, from, to],
    );
    stored += res.rowCount ?? 0;
    log(`stored ${stored.toLocaleString('en')} / ${target.toLocaleString('en')} events`);
  }
  if (reused && stored === before) {
    log(`the kept database holds ${before.toLocaleString('en')} events and their rollups: no top-up`);
    return { before, after: before, ms: performance.now() - started, rollups: rollups.mode, rollupMs: 0 };
  }
  const rollupStarted = performance.now();
  if (rollups.mode === 'rebuild') {
    log('recomputing labels and rollups with npm run rebuild');
    log(`rebuild: ${await rollups.rebuild()}`);
  } else {
    log('recomputing rollups with SQL over 8 shards');
    await recomputeRollups(db, account);
  }
  const rollupMs = performance.now() - rollupStarted;
  let compaction: TopUp['compaction'];
  if (rollups.mode === 'compacted') {
    log(`compacting the hours and days closed at ${to.toISOString()}`);
    compaction = await compactRollups(db, account, to);
    log(`compaction: ${compaction.moved.toLocaleString('en')} rows into ${compaction.written.toLocaleString('en')} in ${(compaction.ms / 1000).toFixed(1)} s`);
  }
  log('VACUUM ANALYZE events, event_keys and the rollups');
  for (const table of ['events', 'event_keys', ...ROLLUP_TABLES]) await db.query(`VACUUM (ANALYZE) ${table}`);
  return { before, after: await count(), ms: performance.now() - started, rollups: rollups.mode, rollupMs, ...(compaction ? { compaction } : {}) };
}

/**
 * The compaction's own statements (COMPACTION_STATEMENTS, what the hourly job runs) over every bucket of
 * the account closed at `now`, in batches of 50,000 rows: the service's job runs on its own clock, which
 * BENCH_NOW does not move.
 */
export async function compactRollups(db: pg.Pool, account: string, now: Date): Promise<{ ms: number; moved: number; written: number }> {
  const started = performance.now();
  const window = compactionWindow(now, null);
  const done = { moved: 0, written: 0 };
  for (const statement of COMPACTION_STATEMENTS) {
    const to = statement.grain === 'hour' ? window.hour.to.toISOString() : window.day.to;
    for (let from = '-infinity'; ; ) {
      const { rows } = await db.query<{ moved: number; written: number; last: string | null }>(statement.sql, [account, from, to, 50_000]);
      done.moved += rows[0]!.moved;
      done.written += rows[0]!.written;
      if (rows[0]!.moved < 50_000 || rows[0]!.last === null) break;
      from = rows[0]!.last;
    }
  }
  return { ms: performance.now() - started, ...done };
}

/** Each rollup table's UTC time bucket column (`hour` or `day`). */
const BUCKET_COLUMN: Readonly<Record<string, string>> = Object.fromEntries(
  ROLLUP_TABLES.map((table) => [table, METER_ROLLUPS.find((r) => r.table === table)?.grain ?? 'day']),
);

/**
 * The account's rollups recomputed from its raw events with ingest's own SQL, spread over the 8 shards
 * concurrent ingest writes; with `range` (whole UTC days), only the rollup rows of that range, from that
 * range's events (the invoices phase fills the previous month of an account whose current month may hold
 * 20 million events: recomputing all of it took longer than the whole close it prepares).
 */
export async function recomputeRollups(db: pg.Pool, account: string, range?: { from: Date; to: Date }): Promise<void> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const params: unknown[] = range === undefined ? [account] : [account, range.from.toISOString(), range.to.toISOString()];
    const inBucket = (table: string): string => {
      if (range === undefined) return '';
      return BUCKET_COLUMN[table] === 'hour'
        ? ` AND hour >= $2::timestamptz AND hour < $3::timestamptz`
        : ` AND day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND day < ($3::timestamptz AT TIME ZONE 'UTC')::date`;
    };
    for (const table of ROLLUP_TABLES) await client.query(`DELETE FROM ${table} WHERE account_id = $1${inBucket(table)}`, params);
    const events = `(SELECT *, 1 AS sign FROM events WHERE account_id = $1${range === undefined ? '' : ' AND ts >= $2::timestamptz AND ts < $3::timestamptz'})`;
    for (const sql of fillRollupsSql(events, '(abs(hashtext(event_id)) % 8)::smallint')) await client.query(sql, params);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export interface ReadingResult {
  name: string;
  path: string;
  requests: number;
  latency: Summary | null;
  statuses: Record<string, number>;
  /** The first answer's size in bytes, and a short excerpt when it was not a 200. */
  bytes: number;
  note?: string;
}

/**
 * Times up to `requests` sequential GETs (fewer when `budgetMs` runs out) after a few unmeasured ones; a
 * missing route is reported, not fatal.
 */
/** What a reading is timed with: an answer's body is asked for only where it is used (`keepBody`). */
export interface ReadingClient {
  request(method: 'GET', path: string, options: { key: string; keepBody?: boolean }): Promise<HttpReply>;
}

export async function measureReading(
  client: ReadingClient,
  name: string,
  path: string,
  key: string,
  requests: number,
  budgetMs: number,
  warmup = 20,
): Promise<ReadingResult> {
  const first = await client.request('GET', path, { key });
  if (first.status !== 200) {
    return {
      name,
      path,
      requests: 0,
      latency: null,
      statuses: { [String(first.status)]: 1 },
      bytes: first.body.length,
      note: `HTTP ${first.status}: ${first.body.toString('utf8').slice(0, 200)}`,
    };
  }
  for (let i = 0; i < warmup; i++) await client.request('GET', path, { key, keepBody: false });
  const samples = new Samples(requests);
  const statuses: Record<string, number> = {};
  const deadline = performance.now() + budgetMs;
  for (let i = 0; i < requests && performance.now() < deadline; i++) {
    const reply = await client.request('GET', path, { key, keepBody: false });
    samples.add(reply.ms);
    statuses[String(reply.status)] = (statuses[String(reply.status)] ?? 0) + 1;
  }
  return { name, path, requests: samples.length, latency: samples.summary(), statuses, bytes: first.body.length };
}
