// Raw SQL through TypeORM's manager. On PostgreSQL, TypeORM answers UPDATE/DELETE ... RETURNING with
// [rows, affected] but SELECT and INSERT with rows alone; `queryRows` hides that difference.
import type { DataSource, EntityManager } from 'typeorm';

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

const ARRAY_SPECIAL = /[\\"]/;

/**
 * A PostgreSQL array literal of `values`, for a parameter cast to an array type: `{"a","b",NULL}`.
 * `quoted` elements (text, json) are double-quoted with `\` and `"` escaped; the others (numbers,
 * booleans, ISO timestamps) are written bare and must not contain `,{}"\` or spaces. Null and undefined
 * are NULL. Built by hand because the driver's own array encoding was ~8% of ingest's CPU.
 */
export function pgArray(values: readonly unknown[], quoted: boolean): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) {
      out += 'NULL';
    } else if (quoted) {
      const s = String(v);
      out += ARRAY_SPECIAL.test(s) ? `"${s.replace(/[\\"]/g, '\\$&')}"` : `"${s}"`;
    } else {
      out += String(v);
    }
  }
  return `${out}}`;
}
