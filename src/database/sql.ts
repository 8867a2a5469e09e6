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
