// The ceilings: what the database alone does with the same rows. The issue's ceiling is a copy of
// `events` (same columns, indexes and monthly partitions) taking bare `INSERT ... SELECT FROM unnest(...)
// ON CONFLICT DO NOTHING` statements of 50 rows over a pool as wide as the load, with nothing else around
// them; two more kinds add the idempotency key and the rollups, to show where ingest's time goes.
import pg from 'pg';
import { ROLLUP_NAMES, ROLLUP_TABLES, addToRollupsCtes } from '../../metering/ingest/rollup-sql.js';
import { Samples, type Summary } from './stats.js';
import { batchEvents, eventRow, pgArray, type Workload } from './workload.js';

export interface Column {
  name: string;
  udt: string;
  nullable: boolean;
  hasDefault: boolean;
}

export async function tableColumns(db: pg.Pool | pg.Client, table: string): Promise<Column[]> {
  const { rows } = await db.query<{ column_name: string; udt_name: string; is_nullable: string; column_default: string | null }>(
    `SELECT column_name, udt_name, is_nullable, column_default FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => ({ name: r.column_name, udt: r.udt_name, nullable: r.is_nullable === 'YES', hasDefault: r.column_default !== null }));
}

export function monthPartitions(from: number, to: number): { suffix: string; from: string; to: string }[] {
  const out: { suffix: string; from: string; to: string }[] = [];
  const start = new Date(from);
  for (let d = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), 1)); d.getTime() <= to; d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1))) {
    const next = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
    out.push({
      suffix: `y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`,
      from: d.toISOString().slice(0, 10),
      to: next.toISOString().slice(0, 10),
    });
  }
  return out;
}

/** The columns the generated rows fill; a column the generator does not know keeps its default. */
export function ceilingColumns(columns: readonly Column[], known: ReadonlySet<string>): Column[] {
  const used = columns.filter((c) => known.has(c.name));
  const missing = columns.filter((c) => !known.has(c.name) && !c.nullable && !c.hasDefault);
  if (missing.length > 0) {
    throw new Error(`events has NOT NULL columns the bench does not generate: ${missing.map((c) => c.name).join(', ')} (update test/bench/workload.ts eventRow)`);
  }
  return used;
}

/**
 * The parameters of batches [from, to), ready to send: one Buffer per batch holding its column arrays
 * as PostgreSQL array literals separated by NUL (which text cannot contain). Built before the clock starts.
 */
export function prepareCeilingBatches(w: Workload, from: number, to: number, columns: readonly Column[], receivedAt: Date): Buffer[] {
  const out: Buffer[] = [];
  const seq0 = receivedAt.getTime() * 1000;
  for (let b = from; b < to; b++) {
    const rows = batchEvents(w, b).map((e, i) => eventRow(w, e, i, receivedAt, seq0));
    out.push(Buffer.from(columns.map((c) => pgArray(rows.map((r) => r[c.name] ?? null))).join('\u0000')));
  }
  return out;
}

/**
 * What a ceiling statement writes. `insert` is the issue's ceiling: the rows into a copy of `events`.
 * The other two add, one at a time, the database work every ingested event needs whatever the service
 * does: `keyed` claims each id for ever in a copy of `event_keys` and inserts only the claimed rows (the
 * idempotency the brief asks for; a unique key on the monthly-partitioned `events` cannot do it), and
 * `rollups` also adds the rows to copies of the rollups with ingest's own SQL (rollup-sql.ts). The gap
 * from `rollups` to ingest is the service, HTTP, classification, units and the reading per event.
 */
export type CeilingKind = 'insert' | 'keyed' | 'rollups';
export const CEILING_KINDS: readonly CeilingKind[] = ['insert', 'keyed', 'rollups'];

export const CEILING_TITLES: Record<CeilingKind, string> = {
  insert: 'bare INSERT (ceiling)',
  keyed: '+ id claimed in event_keys',
  rollups: `+ rollups (${ROLLUP_NAMES.join(', ')})`,
};

/** The tables a kind writes, copied (`LIKE ... INCLUDING ALL`) into its own schema. */
const CEILING_TABLES: Record<CeilingKind, readonly string[]> = {
  insert: ['events'],
  keyed: ['events', 'event_keys'],
  rollups: ['events', 'event_keys', ...ROLLUP_TABLES],
};

export function parseCeilingKinds(raw: string | undefined): CeilingKind[] {
  const kinds = (raw ?? CEILING_KINDS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = kinds.filter((k) => !(CEILING_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new Error(`BENCH_CEILINGS: unknown ${unknown.join(', ')} (known: ${CEILING_KINDS.join(', ')})`);
  // Always in the order above, each once: the report reads them as steps.
  return CEILING_KINDS.filter((k) => kinds.includes(k));
}

/** A kind's statement over unqualified table names (the pool's search_path picks the kind's schema). */
export function ceilingSql(kind: CeilingKind, columns: readonly Column[]): string {
  const names = columns.map((c) => c.name).join(', ');
  const arrays = columns.map((c, i) => `$${i + 1}::${c.udt}[]`).join(', ');
  if (kind === 'insert') return `INSERT INTO events (${names}) SELECT * FROM unnest(${arrays}) ON CONFLICT DO NOTHING`;
  return `WITH input AS (SELECT * FROM unnest(${arrays}) AS u(${names})),
       claimed AS (
         INSERT INTO event_keys (account_id, event_id, ts, content_hash)
         SELECT account_id, event_id, ts, content_hash FROM input ORDER BY event_id
         ON CONFLICT DO NOTHING RETURNING event_id),
       fresh AS (SELECT input.* FROM input JOIN claimed USING (event_id))${
         kind === 'rollups' ? `,
       contributions AS (SELECT *, 1 AS sign FROM fresh),
       ${addToRollupsCtes('contributions')}` : ''}
       INSERT INTO events (${names}) SELECT ${names} FROM fresh`;
}

export interface CeilingResult {
  kind: CeilingKind;
  events: number;
  batches: number;
  ms: number;
  latency: Summary;
  inserted: number;
}

/**
 * Copies of the tables a kind writes, in a schema of its own, and a pool as wide as the load. `run`
 * inserts a slice of the prepared batches and may be called several times (the bench alternates slices
 * of the ceilings with slices of the ingest load, so all see the machine in the same state); `result`
 * sums every slice. Statements are prepared (named), like ingest's write.
 */
export class Ceiling {
  private readonly samples = new Samples(1024);
  private events = 0;
  private batches = 0;
  private ms = 0;
  private inserted = 0;
  private readonly sql: string;
  private readonly name: string;

  private constructor(
    readonly kind: CeilingKind,
    private readonly pool: pg.Pool,
    private readonly w: Workload,
    columns: readonly Column[],
    private readonly concurrency: number,
  ) {
    this.sql = ceilingSql(kind, columns);
    this.name = `ceiling_${kind}`;
  }

  static schemaOf(kind: CeilingKind): string {
    return `bench_ceiling_${kind}`;
  }

  static async open(dbUrl: string, kind: CeilingKind, w: Workload, columns: readonly Column[], concurrency: number): Promise<Ceiling> {
    const schema = Ceiling.schemaOf(kind);
    // Connections stay open between slices: one closed while the load runs would take its CPU seconds
    // out of PostgreSQL's sum and make the load's share look smaller (cpu.ts reads live processes).
    const pool = new pg.Pool({ connectionString: dbUrl, max: concurrency, idleTimeoutMillis: 0, options: `-c search_path=${schema}` });
    const ceiling = new Ceiling(kind, pool, w, columns, concurrency);
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.query(`CREATE SCHEMA ${schema}`);
    for (const table of CEILING_TABLES[kind]) {
      const partitioned = table === 'events' ? ' PARTITION BY RANGE (ts)' : '';
      await pool.query(`CREATE TABLE ${schema}.${table} (LIKE public.${table} INCLUDING ALL)${partitioned}`);
    }
    for (const p of monthPartitions(w.from, w.to)) {
      await pool.query(`CREATE TABLE ${schema}.events_${p.suffix} PARTITION OF ${schema}.events FOR VALUES FROM ('${p.from}') TO ('${p.to}')`);
    }
    // Open every connection before the clock starts.
    const clients = await Promise.all(Array.from({ length: concurrency }, () => pool.connect()));
    clients.forEach((c) => c.release());
    return ceiling;
  }

  /** Inserts `prepared` (a slice of the batches) over the pool's connections; the clock runs only here. */
  async run(prepared: readonly Buffer[], progress: (done: number, ms: number) => void): Promise<void> {
    let next = 0;
    const started = performance.now();
    const timer = setInterval(() => progress(Math.min(next, prepared.length) * this.w.batchSize, performance.now() - started), 5000);
    try {
      await Promise.all(
        Array.from({ length: this.concurrency }, async () => {
          for (let b = next++; b < prepared.length; b = next++) {
            const values = prepared[b]!.toString('utf8').split('\u0000');
            const t0 = performance.now();
            const res = await this.pool.query({ name: this.name, text: this.sql, values });
            this.samples.add(performance.now() - t0);
            this.inserted += res.rowCount ?? 0;
          }
        }),
      );
    } finally {
      clearInterval(timer);
    }
    this.ms += performance.now() - started;
    this.events += prepared.length * this.w.batchSize;
    this.batches += prepared.length;
  }

  result(): CeilingResult {
    return { kind: this.kind, events: this.events, batches: this.batches, ms: this.ms, latency: this.samples.summary(), inserted: this.inserted };
  }

  /** Sums of what the kind wrote, for checking it did the work: rows, keys, and calls in two of the rollups. */
  async written(): Promise<{ events: number; keys: number | null; hourlyCalls: number | null; dailyCalls: number | null }> {
    const count = async (sql: string) => Number((await this.pool.query<{ n: string }>(sql)).rows[0]!.n);
    const has = (t: string) => CEILING_TABLES[this.kind].includes(t);
    return {
      events: await count('SELECT count(*) AS n FROM events'),
      keys: has('event_keys') ? await count('SELECT count(*) AS n FROM event_keys') : null,
      hourlyCalls: has('meter_hourly') ? await count('SELECT coalesce(sum(calls), 0) AS n FROM meter_hourly') : null,
      dailyCalls: has('meter_daily') ? await count('SELECT coalesce(sum(calls), 0) AS n FROM meter_daily') : null,
    };
  }

  async close(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${Ceiling.schemaOf(this.kind)} CASCADE`).catch(() => undefined);
    await this.pool.query('CHECKPOINT').catch(() => undefined);
    await this.pool.end();
  }
}
