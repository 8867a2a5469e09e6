// Raw SQL through TypeORM's manager. On PostgreSQL, TypeORM answers UPDATE/DELETE ... RETURNING with
// [rows, affected] but SELECT and INSERT with rows alone; `queryRows` hides that difference.
import { createHash } from 'node:crypto';
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';

export type Db = DataSource | EntityManager;

export async function queryRows<T>(db: Db, sql: string, params: unknown[] = []): Promise<T[]> {
  const result: unknown = await db.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}

export async function firstRow<T>(db: Db, sql: string, params: unknown[] = []): Promise<T | null> {
  return (await queryRows<T>(db, sql, params))[0] ?? null;
}

/** An element of a PostgreSQL array literal, double-quoted, with `\` and `"` escaped. */
function quoteArrayElement(s: string): string {
  return s.includes('"') || s.includes('\\') ? `"${s.replace(/[\\"]/g, '\\$&')}"` : `"${s}"`;
}

/**
 * A PostgreSQL array literal of `items` (each read by `value`), for a parameter cast to an array type:
 * `{"a","b",NULL}`. `quoted` elements (text, json) are double-quoted with `\` and `"` escaped; the others
 * (numbers, booleans, ISO timestamps) are written bare and must not contain `,{}"\` or spaces. A Date is
 * written as epoch milliseconds (send it as int8[]: PostgreSQL reads an integer faster than a timestamp,
 * and toISOString was a third of ingest's encoding time). Null and undefined are NULL. One pass, built by
 * hand: the driver's own array encoding was ~8% of ingest's CPU.
 */
export function pgArray<T>(items: readonly T[], quoted: boolean, value: (item: T) => unknown = (item) => item): string {
  let out = '{';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    const v = value(items[i]!);
    if (v === null || v === undefined) out += 'NULL';
    else if (v instanceof Date) out += v.getTime();
    else if (quoted) out += quoteArrayElement(String(v));
    else out += String(v as string | number | boolean);
  }
  return `${out}}`;
}

/** The pg client or pool underneath TypeORM: what a named (prepared) query needs. */
interface PgQueryable {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

const statementNames = new Map<string, string>();

/** A name for `sql`, the same in every process: `tm_` and the start of its SHA-1. */
export function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `tm_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    statementNames.set(sql, name);
  }
  return name;
}

/**
 * Runs `sql` as a named prepared statement: each connection parses and plans it once and then only
 * binds and executes it. For hot statements whose planning is a large share of their cost (the ingest
 * write planned ~1.2 ms per group of ~6 ms; the key lookup of every request 0.2 ms of 0.23 ms). Only for
 * statements built from a fixed, small set of texts: each text is kept prepared on every connection
 * that ran it. Name the columns (no `SELECT *`): a prepared statement whose result columns change under
 * it (a migration adding one while the service runs) fails until the connection is replaced.
 * Errors are QueryFailedError, like TypeORM's own.
 */
export async function queryPrepared<T>(db: Db, sql: string, params: unknown[] = []): Promise<T[]> {
  const config = { name: statementName(sql), text: sql, values: params };
  // Not the pool's own query(): it closes the connection on ANY error, a refused write included,
  // and with it every statement prepared on it.
  const runner = db instanceof DataSource ? db.createQueryRunner() : db.queryRunner;
  if (!runner) return queryRows<T>(db, sql, params);
  try {
    const client = (await runner.connect()) as PgQueryable;
    return (await client.query(config)).rows as T[];
  } catch (error) {
    throw new QueryFailedError(sql, params, error as Error);
  } finally {
    if (db instanceof DataSource) await runner.release();
  }
}

/** The pg pool TypeORM's PostgreSQL driver holds (`driver.master`), in its callback form. */
interface PgPool {
  connect(callback: (error: Error | null | undefined, client: PgPoolClient | undefined, release: (error?: Error) => void) => void): void;
}
interface PgPoolClient {
  query(
    config: { text: string; values: unknown[]; name?: string },
    callback: (error: Error | null, result: { rows: unknown[] } | undefined) => void,
  ): void;
}

/**
 * A read on a client of TypeORM's pg pool, in pg's callback form, not through a TypeORM query runner. A loop
 * of hourly readings through a runner, or through the pool's promise `connect()` and the client's promise
 * `query()`, kept ~12 MB alive through each scavenge (the young generation grown to ~40 MB between
 * scavenges, 13-17 ms pauses); with callbacks, as the pool's own `query()` does, nothing: ~17 MB between
 * scavenges, under 1 ms each, the heap flat (BENCHMARKS.md). Unlike the pool's `query()`, a statement
 * PostgreSQL refuses gives the connection back (the embedded store has one); a connection's own failure
 * (no SQLSTATE) closes it. For hot reads outside a transaction; errors are QueryFailedError like TypeORM's.
 *
 * `prepared`: run as a named prepared statement (statementName; see queryPrepared for when), which spares
 * PostgreSQL parsing and planning it on every call (the hourly reading's: ~1.0 ms a call unprepared, ~0.3
 * prepared). PostgreSQL may settle on a generic plan after five calls, so only for statements whose plan
 * does not hinge on the parameters' values. The embedded store runs it as any other statement.
 */
export function queryPooled<T>(db: DataSource, sql: string, params: unknown[] = [], options: { prepared?: boolean } = {}): Promise<T[]> {
  const pool = (db.driver as unknown as { master?: PgPool }).master;
  if (pool === undefined) return queryRows<T>(db, sql, params);
  return new Promise<T[]>((resolve, reject) => {
    pool.connect((connectError, client, release) => {
      if (connectError || client === undefined) {
        reject(new QueryFailedError(sql, params, connectError ?? new Error('no client from the pool')));
        return;
      }
      const name = options.prepared ? statementName(sql) : undefined;
      client.query({ text: sql, values: params, name }, (error, result) => {
        // PostgreSQL's own errors carry a SQLSTATE code; anything else means the connection is gone.
        release(error !== null && typeof (error as { code?: unknown }).code !== 'string' ? error : undefined);
        if (error !== null || result === undefined) reject(new QueryFailedError(sql, params, error ?? new Error('no result')));
        else resolve(result.rows as T[]);
      });
    });
  });
}
