// What PostgreSQL did during a phase, from its own statistics. What it wrote to its WAL: bytes exactly
// (the insert position, pg_current_wal_lsn), records and full-page images (a page's first change after a
// checkpoint logs the whole page) from pg_stat_wal (PostgreSQL 14 and later), which each backend adds to at
// most once a second or so, so a slice's figure there may miss its last second and hold the previous one's.
// Both are the whole server's: other databases' writes count too on a shared machine. Read beside the CPU
// lines, they say whether one side's extra PostgreSQL time is its own rows or pages logged whole.
import { writeFileSync } from 'node:fs';
import type pg from 'pg';

export interface WalUse {
  bytes: number;
  records: number;
  fpi: number;
}

/** The server's WAL counters now; null where pg_stat_wal is missing (PostgreSQL 13 or older). */
export async function walSnapshot(db: pg.Pool): Promise<WalUse | null> {
  try {
    const { rows } = await db.query<{ bytes: string; records: string; fpi: string }>(
      `SELECT (pg_current_wal_lsn() - '0/0')::text AS bytes, wal_records::text AS records, wal_fpi::text AS fpi FROM pg_stat_wal`,
    );
    const r = rows[0];
    return r ? { bytes: Number(r.bytes), records: Number(r.records), fpi: Number(r.fpi) } : null;
  } catch {
    return null;
  }
}

export function walBetween(a: WalUse | null, b: WalUse | null): WalUse | null {
  return a && b ? { bytes: b.bytes - a.bytes, records: b.records - a.records, fpi: b.fpi - a.fpi } : null;
}

export function addWal(a: WalUse | null, b: WalUse | null): WalUse | null {
  if (!a) return b;
  if (!b) return a;
  return { bytes: a.bytes + b.bytes, records: a.records + b.records, fpi: a.fpi + b.fpi };
}

/** "WAL 1,234 bytes, 5.6 records, 0.12 full-page images per event". */
export function describeWal(u: WalUse | null, events: number): string {
  if (!u || events <= 0) return 'WAL not measured';
  const per = (n: number, digits: number) => (n / events).toLocaleString('en', { maximumFractionDigits: digits });
  return `WAL ${per(u.bytes, 0)} bytes, ${per(u.records, 1)} records, ${per(u.fpi, 3)} full-page images per event`;
}

/**
 * pg_stat_statements, for BENCH_STATEMENTS: emptied before the measured part, then its 40 statements that
 * took the most time written to a file (calls, rows, buffers, WAL, the text's first 400 characters). The
 * server must load the extension (shared_preload_libraries); it is created in the bench's database here.
 */
export async function resetStatements(db: pg.Pool): Promise<void> {
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await db.query('SELECT pg_stat_statements_reset()');
}

export async function writeStatements(db: pg.Pool, file: string): Promise<void> {
  const { rows } = await db.query(
    `SELECT calls, round(total_exec_time::numeric, 1)::text AS total_ms, rows, shared_blks_hit, shared_blks_read, shared_blks_dirtied,
            wal_records, wal_fpi, wal_bytes::text AS wal_bytes, left(regexp_replace(query, '\\s+', ' ', 'g'), 400) AS query
       FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 40`,
  );
  writeFileSync(file, `${JSON.stringify(rows, null, 1)}\n`);
}
