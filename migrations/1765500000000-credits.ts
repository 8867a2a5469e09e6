// The credit ledger: grants (the period allowance, top-ups, promotional grants, ineffective-spend credits,
// adjustments), movements between ledger accounts each booked as two entries that sum to zero, the usage
// each day has been booked for, top-up purchases, and which voided invoices had their credits restored.
// Balances are derived from the entries; nothing stores a running total.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Credits1765500000000 implements MigrationInterface {
  name = 'Credits1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE credit_grants (
        account_id text NOT NULL REFERENCES accounts (id),
        id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('allowance', 'topup', 'promotional', 'ineffective_credit', 'adjustment')),
        amount numeric NOT NULL CHECK (amount > 0),
        priority integer NOT NULL CHECK (priority >= 0),
        granted_at timestamptz NOT NULL,
        expires_at timestamptz,
        expired_at timestamptz,
        period_start timestamptz,
        invoice_id text,
        topup_id text,
        reason text,
        created_by text,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, id),
        CHECK (expires_at IS NULL OR expires_at > granted_at)
      )`);
    // One allowance per billing period, one ineffective-spend credit per invoice: a job run twice grants once.
    await q.query(`CREATE UNIQUE INDEX credit_grants_allowance ON credit_grants (account_id, period_start) WHERE kind = 'allowance'`);
    await q.query(`CREATE UNIQUE INDEX credit_grants_ineffective ON credit_grants (account_id, invoice_id) WHERE kind = 'ineffective_credit'`);
    await q.query(`CREATE INDEX credit_grants_due ON credit_grants (expires_at) WHERE expired_at IS NULL AND expires_at IS NOT NULL`);
    await q.query(`
      CREATE TABLE credit_movements (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_id text NOT NULL REFERENCES accounts (id),
        kind text NOT NULL CHECK (kind IN ('grant', 'burn', 'expiry', 'adjustment', 'restore')),
        grant_id text NOT NULL,
        amount numeric NOT NULL CHECK (amount > 0),
        at timestamptz NOT NULL,
        usage_day date,
        invoice_id text,
        memo text,
        FOREIGN KEY (account_id, grant_id) REFERENCES credit_grants (account_id, id)
      )`);
    await q.query('CREATE INDEX credit_movements_account ON credit_movements (account_id, id)');
    await q.query(`CREATE INDEX credit_movements_day ON credit_movements (account_id, usage_day) WHERE usage_day IS NOT NULL`);
    await q.query(`
      CREATE TABLE credit_entries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        movement_id bigint NOT NULL REFERENCES credit_movements (id),
        account_id text NOT NULL,
        ledger_account text NOT NULL,
        grant_id text,
        amount numeric NOT NULL CHECK (amount <> 0)
      )`);
    await q.query('CREATE INDEX credit_entries_account ON credit_entries (account_id, id)');
    await q.query('CREATE INDEX credit_entries_grant ON credit_entries (account_id, grant_id) WHERE grant_id IS NOT NULL');
    // How much of each UTC day's metered cost has been booked against grants (covered or not), so the
    // next run books only the difference.
    await q.query(`
      CREATE TABLE credit_usage_days (
        account_id text NOT NULL REFERENCES accounts (id),
        day date NOT NULL,
        booked numeric NOT NULL,
        uncovered numeric NOT NULL,
        PRIMARY KEY (account_id, day)
      )`);
    await q.query(`
      CREATE TABLE credit_topups (
        account_id text NOT NULL REFERENCES accounts (id),
        id text NOT NULL,
        pack_id text NOT NULL,
        allowance numeric NOT NULL,
        price numeric NOT NULL,
        currency char(3) NOT NULL,
        validity_days integer NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'granted')),
        grant_id text,
        bought_by text,
        bought_at timestamptz NOT NULL,
        granted_at timestamptz,
        PRIMARY KEY (account_id, id)
      )`);
    await q.query('CREATE INDEX credit_topups_bought ON credit_topups (account_id, bought_at)');
    await q.query(`
      CREATE TABLE credit_invoice_restores (
        account_id text NOT NULL REFERENCES accounts (id),
        invoice_id text NOT NULL,
        amount numeric NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (account_id, invoice_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['credit_invoice_restores', 'credit_topups', 'credit_usage_days', 'credit_entries', 'credit_movements', 'credit_grants']) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}
