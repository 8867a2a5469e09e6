// Owns the invoice tables (invoices, invoice_lines, invoice_usage) and the two reads of metering an
// invoice needs: a period's usage from the daily model rollup (a few rows per day, never the events), and
// marking a period closed for metering (its later events are flagged as adjustments).
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { firstRow, queryRows, type Db } from '../../src/database/sql.js';
import type { PlanVersionTerms } from '../../tiers/plans/plan-terms.js';
import type { Charge, LineDraft, UsageRow } from './invoice-math.js';

export type InvoiceStatus = 'draft' | 'finalized' | 'paid' | 'void';

export interface InvoiceRow {
  id: string;
  account_id: string;
  number: string;
  period_start: Date;
  period_end: Date;
  currency: string;
  status: InvoiceStatus;
  plan_id: string;
  plan_version: number;
  terms: PlanVersionTerms;
  paid_enterprise: boolean;
  total: string;
  created_at: Date;
  grace_until: Date;
  finalized_at: Date | null;
  paid_at: Date | null;
  amount_paid: string | null;
  voided_at: Date | null;
  void_reason: string | null;
}

export interface LineRow extends LineDraft {
  n: number;
}

const INVOICE_COLUMNS = `id, account_id, number, period_start, period_end, currency, status, plan_id, plan_version, terms,
  paid_enterprise, total::text AS total, created_at, grace_until, finalized_at, paid_at, amount_paid, voided_at, void_reason`;

interface RawUsage {
  period_start: Date;
  tier: string;
  model: string;
  label: string;
  calls: string;
  tokens: string;
  cost: string;
}

function usageRow(r: RawUsage): UsageRow {
  return { period_start: r.period_start.toISOString(), tier: r.tier, model: r.model, label: r.label, calls: Number(r.calls), tokens: Number(r.tokens), cost: r.cost };
}

@Injectable()
export class InvoicesRepository {
  constructor(private readonly dataSource: DataSource) {}

  get db(): DataSource {
    return this.dataSource;
  }

  /**
   * The usage of each period by tier, model and label, summed from the daily model rollup. Periods start
   * and end at 00:00 UTC, so whole days are exact.
   */
  async periodUsage(db: Db, accountId: string, periods: readonly { start: Date; end: Date }[]): Promise<UsageRow[]> {
    if (periods.length === 0) return [];
    const rows = await queryRows<RawUsage>(
      db,
      `SELECT p.s AS period_start, m.tier, m.model, m.label, sum(m.calls)::text AS calls,
              sum(m.input + m.cached_input + m.cache_write + m.output)::text AS tokens, sum(m.cost)::text AS cost
         FROM unnest($2::timestamptz[], $3::timestamptz[]) AS p(s, e)
         JOIN meter_daily_models m
           ON m.account_id = $1 AND m.day >= (p.s AT TIME ZONE 'UTC')::date AND m.day < (p.e AT TIME ZONE 'UTC')::date
        GROUP BY 1, 2, 3, 4`,
      [accountId, periods.map((p) => p.start.toISOString()), periods.map((p) => p.end.toISOString())],
    );
    return rows.map(usageRow);
  }

  /** What invoices other than `except` billed of these periods' usage. */
  async billedUsage(db: Db, accountId: string, periodStarts: readonly Date[], except: string | null): Promise<UsageRow[]> {
    if (periodStarts.length === 0) return [];
    const rows = await queryRows<RawUsage>(
      db,
      `SELECT period_start, tier, model, label, sum(calls)::text AS calls, sum(tokens)::text AS tokens, sum(cost)::text AS cost
         FROM invoice_usage
        WHERE account_id = $1 AND period_start = ANY($2::timestamptz[]) AND invoice_id IS DISTINCT FROM $3
        GROUP BY 1, 2, 3, 4`,
      [accountId, periodStarts.map((d) => d.toISOString()), except],
    );
    return rows.map(usageRow);
  }

  /** What invoices other than `except` billed per usage-dependent charge of these periods. */
  async billedCharges(db: Db, accountId: string, periodStarts: readonly Date[], except: string | null): Promise<{ period_start: Date; charge: Charge; amount: string }[]> {
    if (periodStarts.length === 0) return [];
    return queryRows(
      db,
      `SELECT l.period_start, l.charge, sum(l.amount)::text AS amount
         FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
        WHERE i.account_id = $1 AND l.period_start = ANY($2::timestamptz[]) AND l.charge IS NOT NULL AND i.id IS DISTINCT FROM $3
        GROUP BY 1, 2`,
      [accountId, periodStarts.map((d) => d.toISOString()), except],
    );
  }

  async insert(tx: Tx, row: InvoiceRow): Promise<void> {
    await tx.query(
      `INSERT INTO invoices (id, account_id, number, period_start, period_end, currency, status, plan_id, plan_version, terms,
         paid_enterprise, total, created_at, grace_until)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [row.id, row.account_id, row.number, row.period_start, row.period_end, row.currency, row.status, row.plan_id, row.plan_version,
        JSON.stringify(row.terms), row.paid_enterprise, row.total, row.created_at, row.grace_until],
    );
  }

  /** Replaces a draft's lines and usage (a draft is recomputed when it is finalized). Writes as many rows as lines and usage groups. */
  async replaceContents(tx: Tx, invoice: Pick<InvoiceRow, 'id' | 'account_id'>, lines: readonly LineDraft[], usage: readonly UsageRow[], total: string): Promise<void> {
    await tx.query('DELETE FROM invoice_lines WHERE invoice_id = $1', [invoice.id]);
    await tx.query('DELETE FROM invoice_usage WHERE invoice_id = $1', [invoice.id]);
    if (lines.length > 0) {
      await tx.query(
        `INSERT INTO invoice_lines (invoice_id, n, kind, charge, tier, period_start, description, amount, detail)
         SELECT $1, x.n, x.kind, x.charge, x.tier, x.period_start, x.description, x.amount, x.detail
           FROM json_to_recordset($2::json) AS x(n int, kind text, charge text, tier text, period_start timestamptz, description text, amount numeric, detail jsonb)`,
        [invoice.id, JSON.stringify(lines.map((l, n) => ({ ...l, n })))],
      );
    }
    if (usage.length > 0) {
      await tx.query(
        `INSERT INTO invoice_usage (invoice_id, account_id, period_start, tier, model, label, calls, tokens, cost)
         SELECT $1, $2, x.period_start, x.tier, x.model, x.label, x.calls, x.tokens, x.cost
           FROM json_to_recordset($3::json) AS x(period_start timestamptz, tier text, model text, label text, calls bigint, tokens bigint, cost numeric)`,
        [invoice.id, invoice.account_id, JSON.stringify(usage)],
      );
    }
    await tx.query('UPDATE invoices SET total = $2 WHERE id = $1', [invoice.id, total]);
  }

  async setStatus(
    tx: Tx,
    id: string,
    status: InvoiceStatus,
    at: Date,
    extra: { amountPaid?: string; voidReason?: string | null } = {},
  ): Promise<InvoiceRow> {
    const column = status === 'finalized' ? 'finalized_at' : status === 'paid' ? 'paid_at' : 'voided_at';
    const row = await firstRow<InvoiceRow>(
      tx,
      `UPDATE invoices SET status = $2, ${column} = $3, amount_paid = coalesce($4, amount_paid), void_reason = coalesce($5, void_reason)
        WHERE id = $1 RETURNING ${INVOICE_COLUMNS}`,
      [id, status, at, extra.amountPaid ?? null, extra.voidReason ?? null],
    );
    if (row === null) throw new Error(`invoice ${id} vanished`);
    return row;
  }

  async find(id: string, db: Db = this.dataSource, forUpdate = false): Promise<InvoiceRow | null> {
    return firstRow<InvoiceRow>(db, `SELECT ${INVOICE_COLUMNS} FROM invoices WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  }

  /** Every invoice of the account, oldest period first (a few per year). */
  async ofAccount(accountId: string, db: Db = this.dataSource): Promise<InvoiceRow[]> {
    return queryRows<InvoiceRow>(db, `SELECT ${INVOICE_COLUMNS} FROM invoices WHERE account_id = $1 ORDER BY period_start`, [accountId]);
  }

  async list(accountId: string, before: Date | null, limit: number): Promise<InvoiceRow[]> {
    return queryRows<InvoiceRow>(
      this.dataSource,
      `SELECT ${INVOICE_COLUMNS} FROM invoices WHERE account_id = $1 AND ($2::timestamptz IS NULL OR period_start < $2)
        ORDER BY period_start DESC LIMIT $3`,
      [accountId, before, limit],
    );
  }

  async lines(invoiceId: string, db: Db = this.dataSource): Promise<LineRow[]> {
    const rows = await queryRows<Omit<LineRow, 'period_start'> & { period_start: Date }>(
      db,
      `SELECT n, kind, charge, tier, period_start, description, amount::text AS amount, detail FROM invoice_lines WHERE invoice_id = $1 ORDER BY n`,
      [invoiceId],
    );
    return rows.map((r) => ({ ...r, period_start: r.period_start.toISOString() }));
  }

  async usage(invoiceId: string, db: Db = this.dataSource): Promise<UsageRow[]> {
    const rows = await queryRows<RawUsage>(
      db,
      `SELECT period_start, tier, model, label, calls::text AS calls, tokens::text AS tokens, cost::text AS cost
         FROM invoice_usage WHERE invoice_id = $1 ORDER BY period_start, tier, model, label`,
      [invoiceId],
    );
    return rows.map(usageRow);
  }

  /** Tells metering the period is final: its later events are flagged as adjustments. */
  async markPeriodClosed(tx: Tx, accountId: string, start: Date, end: Date, at: Date): Promise<void> {
    await tx.query(
      `INSERT INTO meter_closed_periods (account_id, period_start, period_end, closed_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (account_id, period_start) DO NOTHING`,
      [accountId, start, end, at],
    );
  }

  /** The end of the account's last invoiced period (any status), or null. */
  async lastPeriodEnd(db: Db, accountId: string): Promise<Date | null> {
    const [row] = await queryRows<{ last_end: Date | null }>(db, 'SELECT max(period_end) AS last_end FROM invoices WHERE account_id = $1', [accountId]);
    return row?.last_end ?? null;
  }

  /** Subscriptions with the end of their last invoiced period: what the scheduler closes from (one account's, given `accountId`). */
  async subscriptionsToClose(accountId?: string): Promise<{ account_id: string; billing_anchor_day: number; start_date: string; ends_at: Date | null; last_end: Date | null }[]> {
    return queryRows(
      this.dataSource,
      `SELECT s.account_id, s.billing_anchor_day, s.start_date::text AS start_date, s.ends_at, max(i.period_end) AS last_end
         FROM subscriptions s LEFT JOIN invoices i ON i.account_id = s.account_id
        ${accountId === undefined ? '' : 'WHERE s.account_id = $1'}
        GROUP BY s.account_id, s.billing_anchor_day, s.start_date, s.ends_at`,
      accountId === undefined ? [] : [accountId],
    );
  }

  async draftsDue(now: Date, limit: number): Promise<{ id: string }[]> {
    return queryRows(this.dataSource, `SELECT id FROM invoices WHERE status = 'draft' AND grace_until <= $1 ORDER BY grace_until LIMIT $2`, [now, limit]);
  }
}
