// Invoices: one per account per billing period, its lines (each rounded once) and the usage it bills by
// period, tier, model and label. What an invoice bills for a period is the period's usage as the rollups
// said when it was computed, less what other invoices already billed for that period: so every event is
// on exactly one invoice without marking any event, and a late event, a repricing or a relabelling that
// touches a finalized period lands on the next invoice as the difference.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Invoices1765800000000 implements MigrationInterface {
  name = 'Invoices1765800000000';

  async up(q: QueryRunner): Promise<void> {
    // How long a closed period's invoice stays a draft, per plan version.
    await q.query('ALTER TABLE plan_versions ADD COLUMN invoice_grace_minutes integer NOT NULL DEFAULT 60');
    // `terms` (the plan version's terms with the account's overrides) and `paid_enterprise` are kept as
    // they were at close: an adjustment of this period is priced on them, whatever changed since.
    await q.query(`
      CREATE TABLE invoices (
        id text PRIMARY KEY,
        account_id text NOT NULL REFERENCES accounts (id),
        number text NOT NULL,
        period_start timestamptz NOT NULL,
        period_end timestamptz NOT NULL,
        currency text NOT NULL,
        status text NOT NULL CHECK (status IN ('draft', 'finalized', 'paid', 'void')),
        plan_id text NOT NULL,
        plan_version integer NOT NULL,
        terms jsonb NOT NULL,
        paid_enterprise boolean NOT NULL,
        total numeric NOT NULL,
        created_at timestamptz NOT NULL,
        grace_until timestamptz NOT NULL,
        finalized_at timestamptz,
        paid_at timestamptz,
        amount_paid text,
        voided_at timestamptz,
        void_reason text,
        UNIQUE (account_id, period_start),
        UNIQUE (account_id, number)
      )`);
    await q.query(`CREATE INDEX invoices_drafts ON invoices (grace_until) WHERE status = 'draft'`);
    // `charge` names what a usage-dependent line charges (allowance_used, overage:<tier>, volume_discount,
    // ineffective_credit) and `period_start` the period it belongs to: an adjustment of period P for
    // charge C is what C of P comes to now less the sum of every line already billed for (P, C).
    await q.query(`
      CREATE TABLE invoice_lines (
        invoice_id text NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
        n integer NOT NULL,
        kind text NOT NULL,
        charge text,
        tier text,
        period_start timestamptz NOT NULL,
        description text NOT NULL,
        amount numeric NOT NULL,
        detail jsonb NOT NULL,
        PRIMARY KEY (invoice_id, n)
      )`);
    await q.query(`CREATE INDEX invoice_lines_charge ON invoice_lines (period_start, charge) WHERE charge IS NOT NULL`);
    await q.query(`
      CREATE TABLE invoice_usage (
        invoice_id text NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
        account_id text NOT NULL,
        period_start timestamptz NOT NULL,
        tier text NOT NULL,
        model text NOT NULL,
        label text NOT NULL,
        calls bigint NOT NULL,
        tokens bigint NOT NULL,
        cost numeric NOT NULL,
        PRIMARY KEY (invoice_id, period_start, tier, model, label)
      )`);
    await q.query(`CREATE INDEX invoice_usage_period ON invoice_usage (account_id, period_start)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE invoice_usage, invoice_lines, invoices');
    await q.query('ALTER TABLE plan_versions DROP COLUMN invoice_grace_minutes');
  }
}
