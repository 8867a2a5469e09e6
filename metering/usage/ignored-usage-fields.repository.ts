// Only this file reads and writes ignored_usage_fields: the usage fields ingest accepted but did not count.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { pgArray, queryRows } from '../../src/database/sql.js';

/** One usage field of one format, as listed for operators. */
export interface IgnoredUsageFieldRow {
  format: string;
  path: string;
  events: string;
  first_seen: Date;
  last_seen: Date;
}

/** How many events of a write carried a field. */
export interface IgnoredUsageFieldCount {
  format: string;
  path: string;
  events: number;
}

@Injectable()
export class IgnoredUsageFieldsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Adds the counts of one ingest write, seen at `at`. One statement whatever the number of fields; rows
   * are upserted in key order, so concurrent writers (of any process) cannot deadlock on them.
   */
  async add(counts: readonly IgnoredUsageFieldCount[], at: Date): Promise<void> {
    if (counts.length === 0) return;
    const sorted = [...counts].sort((a, b) => (a.format === b.format ? cmp(a.path, b.path) : cmp(a.format, b.format)));
    await queryRows(
      this.dataSource,
      `INSERT INTO ignored_usage_fields AS f (format, path, events, first_seen, last_seen)
       SELECT t.format, t.path, t.events, $4, $4
         FROM unnest($1::text[], $2::text[], $3::int8[]) WITH ORDINALITY AS t(format, path, events, n)
        ORDER BY t.n
       ON CONFLICT (format, path) DO UPDATE
          SET events = f.events + EXCLUDED.events,
              first_seen = least(f.first_seen, EXCLUDED.first_seen),
              last_seen = greatest(f.last_seen, EXCLUDED.last_seen)`,
      [pgArray(sorted, true, (c) => c.format), pgArray(sorted, true, (c) => c.path), pgArray(sorted, false, (c) => c.events), at],
    );
  }

  /** Every field seen, the most recently seen first. */
  async list(): Promise<IgnoredUsageFieldRow[]> {
    return queryRows<IgnoredUsageFieldRow>(
      this.dataSource,
      `SELECT format, path, events::text AS events, first_seen, last_seen
         FROM ignored_usage_fields ORDER BY last_seen DESC, format, path`,
    );
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
