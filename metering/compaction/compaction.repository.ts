// The SQL of the compaction: an account's rollup rows of closed time buckets moved out of the writers'
// shards into one row per key (rollup-sql.ts builds the statements).
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryRows } from '../../src/database/sql.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { COMPACTION_STATEMENTS, COUNT_REWRITE_SQL, ROLLUP_REWRITE_LOCK, type Grain } from '../ingest/rollup-sql.js';

/** Time buckets [from, to) per grain; `from` null means from the first. Hours as instants, days as UTC dates. */
export interface CompactionWindow {
  hour: { from: Date | null; to: Date };
  day: { from: string | null; to: string };
}

export interface TableCompaction {
  table: string;
  moved: number;
  written: number;
}

@Injectable()
export class CompactionRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionRunner,
  ) {}

  async accounts(): Promise<string[]> {
    return (await queryRows<{ id: string }>(this.dataSource, 'SELECT id FROM accounts ORDER BY id')).map((r) => r.id);
  }

  /**
   * Compacts one rollup table of an account over the window, `batch` rows per transaction, until a call
   * moves fewer. Null when a rebuild of the account holds its rollups (it is left for the next run).
   */
  async compactTable(account: string, table: string, window: CompactionWindow, batch: number): Promise<TableCompaction | null> {
    const statement = COMPACTION_STATEMENTS.find((s) => s.table === table);
    if (!statement) throw new Error(`no rollup table ${table}`);
    const range = bounds(window, statement.grain);
    const done: TableCompaction = { table, moved: 0, written: 0 };
    for (let from = range.from; ; ) {
      const step = await this.transactions.run(async (tx) => {
        const [lock] = await queryRows<{ ok: boolean }>(tx, 'SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok', [ROLLUP_REWRITE_LOCK, account]);
        if (!lock!.ok) return null;
        const [counts] = await queryRows<{ moved: number; written: number; last: string | null }>(tx, statement.sql, [account, from, range.to, batch]);
        if (counts!.moved > 0) await tx.query(COUNT_REWRITE_SQL, [account]);
        return counts!;
      });
      if (step === null) return done.moved === 0 ? null : done;
      done.moved += step.moved;
      done.written += step.written;
      if (step.moved < batch || step.last === null) return done;
      from = step.last;
    }
  }
}

function bounds(window: CompactionWindow, grain: Grain): { from: string; to: string } {
  return grain === 'hour'
    ? { from: window.hour.from?.toISOString() ?? '-infinity', to: window.hour.to.toISOString() }
    : { from: window.day.from ?? '-infinity', to: window.day.to };
}
