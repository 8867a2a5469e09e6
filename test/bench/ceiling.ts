// The ceiling: what the database alone does with the same rows. A copy of `events` (same columns,
// indexes and monthly partitions) takes bare `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`
// statements of 50 rows over a pool as wide as the load, with nothing else around them.
import pg from 'pg';
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

export interface CeilingResult {
  table: string;
  events: number;
  batches: number;
  ms: number;
  latency: Summary;
  inserted: number;
}

/**
 * The copy of `events` and a pool as wide as the load. `run` inserts a slice of the prepared batches
 * and may be called several times (the bench alternates slices of the ceiling with slices of the
 * ingest load, so both see the machine in the same state); `result` sums every slice.
 */
export class Ceiling {
  readonly table = 'events_ceiling';
  private readonly samples = new Samples(1024);
  private events = 0;
  private batches = 0;
  private ms = 0;
  private inserted = 0;
  private readonly sql: string;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly w: Workload,
    columns: readonly Column[],
    private readonly concurrency: number,
  ) {
    this.sql =
      `INSERT INTO ${this.table} (${columns.map((c) => c.name).join(', ')}) ` +
      `SELECT * FROM unnest(${columns.map((c, i) => `$${i + 1}::${c.udt}[]`).join(', ')}) ON CONFLICT DO NOTHING`;
  }

  static async open(dbUrl: string, w: Workload, columns: readonly Column[], concurrency: number): Promise<Ceiling> {
    // Connections stay open between slices: one closed while the load runs would take its CPU seconds
    // out of PostgreSQL's sum and make the load's share look smaller (cpu.ts reads live processes).
    const pool = new pg.Pool({ connectionString: dbUrl, max: concurrency, idleTimeoutMillis: 0 });
    const ceiling = new Ceiling(pool, w, columns, concurrency);
    await pool.query(`DROP TABLE IF EXISTS ${ceiling.table}`);
    await pool.query(`CREATE TABLE ${ceiling.table} (LIKE events INCLUDING ALL) PARTITION BY RANGE (ts)`);
    for (const p of monthPartitions(w.from, w.to)) {
      await pool.query(`CREATE TABLE ${ceiling.table}_${p.suffix} PARTITION OF ${ceiling.table} FOR VALUES FROM ('${p.from}') TO ('${p.to}')`);
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
            const params = prepared[b]!.toString('utf8').split('\u0000');
            const t0 = performance.now();
            const res = await this.pool.query(this.sql, params);
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
    return { table: this.table, events: this.events, batches: this.batches, ms: this.ms, latency: this.samples.summary(), inserted: this.inserted };
  }

  async close(): Promise<void> {
    await this.pool.query(`DROP TABLE IF EXISTS ${this.table}`).catch(() => undefined);
    await this.pool.query('CHECKPOINT').catch(() => undefined);
    await this.pool.end();
  }
}
