// The SQL of a rebuild: rollups recomputed from raw events, and label writes. Only this file, the
// ingest repositories and the compaction's touch the metering tables.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows } from '../../src/database/sql.js';
import { compactionWindow } from '../compaction/compaction-window.js';
import { COUNT_REWRITE_SQL, rebuildRollupsSql, ROLLUP_REWRITE_LOCK, ROLLUP_TABLES } from '../ingest/rollup-sql.js';

@Injectable()
export class RebuildRepository {
  constructor(private readonly dataSource: DataSource) {}

  async accounts(): Promise<string[]> {
    return (await queryRows<{ account_id: string }>(this.dataSource, 'SELECT DISTINCT account_id FROM event_keys ORDER BY 1')).map((r) => r.account_id);
  }

  async tasks(tx: Tx, accountId: string): Promise<{ task_id: string; status: 'open' | 'succeeded' | 'failed' | 'abandoned' }[]> {
    return queryRows(tx, 'SELECT task_id, status FROM tasks WHERE account_id = $1 ORDER BY task_id', [accountId]);
  }

  /** Labels events outside tasks by their outcome; the CASE is built from the pure classifier's answers. */
  async labelStandalone(tx: Tx, accountId: string, labelFor: { success: string; failure: string; none: string }): Promise<void> {
    await tx.query(
      `UPDATE events SET label = CASE outcome WHEN 'success' THEN $2 WHEN 'failure' THEN $3 ELSE $4 END
        WHERE account_id = $1 AND task_id IS NULL
          AND label IS DISTINCT FROM CASE outcome WHEN 'success' THEN $2 WHEN 'failure' THEN $3 ELSE $4 END`,
      [accountId, labelFor.success, labelFor.failure, labelFor.none],
    );
  }

  /** Holds the account's rollups against a compaction until the transaction ends. */
  async lockRollups(tx: Tx, accountId: string): Promise<void> {
    await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ROLLUP_REWRITE_LOCK, accountId]);
  }

  /**
   * Replaces an account's rollups with sums over its raw events: the buckets closed at `now` folded (as the
   * compaction leaves them), the open ones in shard 0 (rebuildRollupsSql).
   */
  async recomputeRollups(tx: Tx, accountId: string, now: Date): Promise<void> {
    for (const table of ROLLUP_TABLES) await tx.query(`DELETE FROM ${table} WHERE account_id = $1`, [accountId]);
    const all = `(SELECT *, 1 AS sign FROM events WHERE account_id = $1)`;
    const { hour, day } = compactionWindow(now, null);
    for (const sql of rebuildRollupsSql(all, { hour: hour.to, day: day.to })) await tx.query(sql, [accountId]);
    await tx.query(COUNT_REWRITE_SQL, [accountId]);
  }
}
