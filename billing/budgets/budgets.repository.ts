// Only this file touches `budgets` and `budget_alerts`: the allocations per node and period, and the
// alerts that fired.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows, type Db } from '../../src/database/sql.js';
import type { PeriodKind } from '../authorizations/counters.js';

export interface BudgetRow {
  node: string;
  period_kind: PeriodKind;
  /** YYYY-MM-DD */
  period_start: string;
  period_end: string;
  headcount: number | null;
  token_limit: string | null;
  amount_limit: string | null;
  enforcement: 'soft' | 'hard';
  thresholds: number[];
  updated_at: Date;
  updated_by: string | null;
}

export interface AlertRow {
  id: string;
  node: string;
  period_kind: PeriodKind;
  period_start: string;
  kind: 'threshold' | 'forecast';
  threshold: number;
  data: Record<string, unknown>;
  fired_at: Date;
}

const COLUMNS = `node, period_kind, to_char(period_start, 'YYYY-MM-DD') AS period_start, to_char(period_end, 'YYYY-MM-DD') AS period_end,
  headcount, token_limit::text AS token_limit, amount_limit::text AS amount_limit, enforcement, thresholds::int[] AS thresholds, updated_at, updated_by`;
const LEVEL = `'budget/' || node || '/' || period_kind || ':' || to_char(period_start, 'YYYY-MM-DD')`;
const ALERT_COLUMNS = `id, node, period_kind, to_char(period_start, 'YYYY-MM-DD') AS period_start, kind, threshold, data, fired_at`;

// Two 32-bit keys: a fixed class for budget writes, and the account's hash.
const LOCK_CLASS = 0x746d6267; // 'tmbg'

function normalize(row: BudgetRow): BudgetRow {
  return { ...row, thresholds: row.thresholds.map(Number) };
}

@Injectable()
export class BudgetsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Budget writes of one account run one at a time: an allocation check sees every allocation it depends on. */
  async lockAccount(tx: Tx, account: string): Promise<void> {
    await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, account]);
  }

  async find(db: Db, account: string, node: string, kind: PeriodKind, start: string): Promise<BudgetRow | null> {
    const rows = await queryRows<BudgetRow>(
      db,
      `SELECT ${COLUMNS} FROM budgets WHERE account_id = $1 AND node = $2 AND period_kind = $3 AND period_start = $4::date`,
      [account, node, kind, start],
    );
    return rows[0] ? normalize(rows[0]) : null;
  }

  /** Every budget of one period. */
  async ofPeriod(db: Db, account: string, kind: PeriodKind, start: string): Promise<BudgetRow[]> {
    const rows = await queryRows<BudgetRow>(db, `SELECT ${COLUMNS} FROM budgets WHERE account_id = $1 AND period_kind = $2 AND period_start = $3::date ORDER BY node`, [
      account,
      kind,
      start,
    ]);
    return rows.map(normalize);
  }

  /** How many budgets have a period that has not ended at `at` (in force now or later). */
  async countOpen(db: Db, account: string, at: Date): Promise<number> {
    const rows = await queryRows<{ n: number }>(db, `SELECT count(*)::int AS n FROM budgets WHERE account_id = $1 AND period_end > $2::date`, [
      account,
      at.toISOString().slice(0, 10),
    ]);
    return rows[0]!.n;
  }

  /** Budgets whose period has not ended at `at` (those countOpen counts), by period. */
  async open(db: Db, account: string, at: Date): Promise<BudgetRow[]> {
    return queryRows<BudgetRow>(db, `SELECT ${COLUMNS} FROM budgets WHERE account_id = $1 AND period_end > $2::date ORDER BY period_kind, period_start, node`, [
      account,
      at.toISOString().slice(0, 10),
    ]);
  }

  /** Budgets whose period holds `at`. */
  async inForce(account: string, at: Date, db: Db = this.dataSource): Promise<BudgetRow[]> {
    const rows = await queryRows<BudgetRow>(
      db,
      `SELECT ${COLUMNS} FROM budgets WHERE account_id = $1 AND period_start <= $2::date AND period_end > $2::date
        ORDER BY array_position(ARRAY['year', 'quarter', 'month'], period_kind), node`,
      [account, at.toISOString().slice(0, 10)],
    );
    return rows.map(normalize);
  }

  async upsert(tx: Tx, account: string, row: BudgetRow): Promise<BudgetRow> {
    const rows = await queryRows<BudgetRow>(
      tx,
      `INSERT INTO budgets (account_id, node, period_kind, period_start, period_end, headcount, token_limit, amount_limit, enforcement, thresholds, updated_at, updated_by)
       VALUES ($1, $2, $3, $4::date, $5::date, $6, $7, $8, $9, $10::smallint[], $11, $12)
       ON CONFLICT (account_id, node, period_kind, period_start) DO UPDATE SET headcount = EXCLUDED.headcount, token_limit = EXCLUDED.token_limit,
         amount_limit = EXCLUDED.amount_limit, enforcement = EXCLUDED.enforcement, thresholds = EXCLUDED.thresholds,
         updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
       RETURNING ${COLUMNS}`,
      [
        account,
        row.node,
        row.period_kind,
        row.period_start,
        row.period_end,
        row.headcount,
        row.token_limit,
        row.amount_limit,
        row.enforcement,
        row.thresholds,
        row.updated_at,
        row.updated_by,
      ],
    );
    return normalize(rows[0]!);
  }

  async delete(tx: Tx, account: string, node: string, kind: PeriodKind, start: string): Promise<BudgetRow | null> {
    const rows = await queryRows<BudgetRow>(
      tx,
      `DELETE FROM budgets WHERE account_id = $1 AND node = $2 AND period_kind = $3 AND period_start = $4::date RETURNING ${COLUMNS}`,
      [account, node, kind, start],
    );
    return rows[0] ? normalize(rows[0]) : null;
  }

  /** The hard budgets among these counter levels (`budget/<node>/<kind>:<start>`), with their limits. */
  async hardByLevel(db: Db, account: string, levels: readonly string[]): Promise<{ level: string; amount: string | null; tokens: string | null }[]> {
    const parts = levels.map((l) => /^budget\/([^/]+)\/(?:year|quarter|month):(\d{4}-\d{2}-\d{2})$/.exec(l)).filter((m) => m !== null);
    if (parts.length === 0) return [];
    // Narrowed by the key's node and start (an index range), then matched exactly.
    const rows = await queryRows<{ level: string; amount: string | null; tokens: string | null }>(
      db,
      `SELECT ${LEVEL} AS level, amount_limit::text AS amount, token_limit::text AS tokens FROM budgets
        WHERE account_id = $1 AND node = ANY($2::text[]) AND period_start = ANY($3::date[]) AND enforcement = 'hard'`,
      [account, [...new Set(parts.map((m) => m[1]!))], [...new Set(parts.map((m) => m[2]!))]],
    );
    const wanted = new Set(levels);
    return rows.filter((r) => wanted.has(r.level));
  }

  /** Inserts an alert unless its node, period, kind and threshold already fired; the row when it is new. */
  async fire(tx: Tx, account: string, alert: AlertRow): Promise<AlertRow | null> {
    const rows = await queryRows<AlertRow>(
      tx,
      `INSERT INTO budget_alerts (account_id, id, node, period_kind, period_start, kind, threshold, data, fired_at)
       VALUES ($1, $2, $3, $4, $5::date, $6, $7, $8::jsonb, $9)
       ON CONFLICT (account_id, node, period_kind, period_start, kind, threshold) DO NOTHING
       RETURNING ${ALERT_COLUMNS}`,
      [account, alert.id, alert.node, alert.period_kind, alert.period_start, alert.kind, alert.threshold, JSON.stringify(alert.data), alert.fired_at],
    );
    return rows[0] ?? null;
  }

  /** Keys of the alerts that fired in these periods: `node|kind:start|kind|threshold`. */
  async firedKeys(db: Db, account: string, starts: readonly string[]): Promise<Set<string>> {
    const rows = await queryRows<{ key: string }>(
      db,
      `SELECT node || '|' || period_kind || ':' || to_char(period_start, 'YYYY-MM-DD') || '|' || kind || '|' || threshold AS key
         FROM budget_alerts WHERE account_id = $1 AND period_start = ANY($2::date[])`,
      [account, starts],
    );
    return new Set(rows.map((r) => r.key));
  }

  /** Alerts newest first, at most `limit`, optionally only of nodes in `nodes` and only of one period (its kind and first day). */
  async alerts(
    account: string,
    limit: number,
    nodes: readonly string[] | null,
    period: { kind: PeriodKind; start: string } | null = null,
    db: Db = this.dataSource,
  ): Promise<AlertRow[]> {
    return queryRows<AlertRow>(
      db,
      `SELECT ${ALERT_COLUMNS} FROM budget_alerts WHERE account_id = $1 AND ($3::text[] IS NULL OR node = ANY($3::text[]))
          AND ($4::text IS NULL OR (period_kind = $4::text AND period_start = $5::date))
        ORDER BY fired_at DESC, id DESC LIMIT $2`,
      [account, limit, nodes, period?.kind ?? null, period?.start ?? null],
    );
  }
}

export const alertKey = (node: string, period: string, kind: string, threshold: number): string => `${node}|${period}|${kind}|${threshold}`;
