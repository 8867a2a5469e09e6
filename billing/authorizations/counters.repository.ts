// Only this file touches authorization_counters, the PostgreSQL engine's counters (one row per account and
// level), and the per-account advisory lock that orders loading a counter against writes that move one.
import { Injectable } from '@nestjs/common';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows } from '../../src/database/sql.js';

export interface CounterRow {
  level: string;
  limit_amount: string | null;
  limit_tokens: string | null;
  spent_amount: string;
  spent_tokens: string;
  held_amount: string;
  held_tokens: string;
}

const COLUMNS = `level, limit_amount::text AS limit_amount, limit_tokens::text AS limit_tokens, spent_amount::text AS spent_amount,
  spent_tokens::text AS spent_tokens, held_amount::text AS held_amount, held_tokens::text AS held_tokens`;

// Two 32-bit keys: a fixed class for counters, and the account's hash.
const LOCK_CLASS = 0x746d6374; // 'tmct'

@Injectable()
export class CountersRepository {
  /**
   * Loading a counter (reading spend from the rollups) takes the account's lock exclusively; writes that
   * move spend take it shared. A load therefore sees every write that moved spend before it, and no write
   * can commit spend the load missed while its row did not exist yet.
   */
  async lockAccount(tx: Tx, account: string, mode: 'shared' | 'exclusive'): Promise<void> {
    await tx.query(`SELECT ${mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock'}($1, hashtext($2))`, [LOCK_CLASS, account]);
  }

  /**
   * The transaction commits without waiting for its WAL flush (a hold: see ReservationsRepository.openSink
   * for why a hold may). Its first statement.
   */
  async commitWithoutFlush(tx: Tx): Promise<void> {
    await tx.query('SET LOCAL synchronous_commit = off');
  }

  async existing(tx: Tx, account: string, levels: readonly string[]): Promise<Set<string>> {
    const rows = await queryRows<{ level: string }>(tx, 'SELECT level FROM authorization_counters WHERE account_id = $1 AND level = ANY($2::text[])', [
      account,
      levels,
    ]);
    return new Set(rows.map((r) => r.level));
  }

  async allLevels(tx: Tx, account: string): Promise<string[]> {
    const rows = await queryRows<{ level: string }>(tx, 'SELECT level FROM authorization_counters WHERE account_id = $1 ORDER BY level', [account]);
    return rows.map((r) => r.level);
  }

  /** Locks the rows of these levels that exist, in level order (every locker uses the same order). */
  async lock(tx: Tx, account: string, levels: readonly string[]): Promise<Map<string, CounterRow>> {
    const rows = await queryRows<CounterRow>(
      tx,
      `SELECT ${COLUMNS} FROM authorization_counters WHERE account_id = $1 AND level = ANY($2::text[]) ORDER BY level FOR UPDATE`,
      [account, levels],
    );
    return new Map(rows.map((r) => [r.level, r]));
  }

  async upsert(tx: Tx, account: string, rows: readonly CounterRow[]): Promise<void> {
    if (rows.length === 0) return;
    await tx.query(
      `INSERT INTO authorization_counters (account_id, level, limit_amount, limit_tokens, spent_amount, spent_tokens, held_amount, held_tokens)
       SELECT $1, r.level, r.limit_amount, r.limit_tokens, r.spent_amount, r.spent_tokens, r.held_amount, r.held_tokens
         FROM json_to_recordset($2::json) AS r(level text, limit_amount numeric, limit_tokens bigint, spent_amount numeric,
                                               spent_tokens bigint, held_amount numeric, held_tokens bigint)
       ON CONFLICT (account_id, level) DO UPDATE SET limit_amount = EXCLUDED.limit_amount, limit_tokens = EXCLUDED.limit_tokens,
         spent_amount = EXCLUDED.spent_amount, spent_tokens = EXCLUDED.spent_tokens,
         held_amount = EXCLUDED.held_amount, held_tokens = EXCLUDED.held_tokens`,
      [account, JSON.stringify(rows)],
    );
  }

  /**
   * Held amounts per level from the reservations still marked held, expired or not: expiring one takes it
   * off the counter (in the same transaction as marking it), so a counter counts exactly these.
   */
  async heldFromReservations(tx: Tx, account: string, levels: readonly string[]): Promise<Map<string, { amount: string; tokens: string }>> {
    const rows = await queryRows<{ level: string; amount: string; tokens: string }>(
      tx,
      `SELECT l.level, sum(r.amount)::text AS amount, sum(r.tokens)::text AS tokens
         FROM authorization_reservations r CROSS JOIN LATERAL unnest(r.levels) AS l(level)
        WHERE r.account_id = $1 AND r.status = 'held' AND l.level = ANY($2::text[])
        GROUP BY l.level`,
      [account, levels],
    );
    return new Map(rows.map((r) => [r.level, { amount: r.amount, tokens: r.tokens }]));
  }
}
