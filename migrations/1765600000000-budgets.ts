// Budgets: people-plus-tokens allocations per org node and period (the limits of the hard ones are the
// counters' `budget/...` levels), and the alerts each fires once per node and period.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Budgets1765600000000 implements MigrationInterface {
  name = 'Budgets1765600000000';

  async up(q: QueryRunner): Promise<void> {
    // `node` is the counters' node key: `account`, `unit:<id>` or `person:<id>`.
    await q.query(`
      CREATE TABLE budgets (
        account_id text NOT NULL REFERENCES accounts (id),
        node text NOT NULL,
        period_kind text NOT NULL CHECK (period_kind IN ('year', 'quarter', 'month')),
        period_start date NOT NULL,
        period_end date NOT NULL,
        headcount integer CHECK (headcount >= 0),
        token_limit bigint CHECK (token_limit >= 0),
        amount_limit numeric CHECK (amount_limit >= 0),
        enforcement text NOT NULL CHECK (enforcement IN ('soft', 'hard')),
        thresholds smallint[] NOT NULL,
        updated_at timestamptz NOT NULL,
        updated_by text,
        PRIMARY KEY (account_id, node, period_kind, period_start),
        CHECK (headcount IS NOT NULL OR token_limit IS NOT NULL OR amount_limit IS NOT NULL)
      )`);
    await q.query(`CREATE INDEX budgets_period ON budgets (account_id, period_start, period_end)`);
    // One row per alert that fired: the key makes each threshold (and the forecast, threshold 0) fire once
    // per node and period.
    await q.query(`
      CREATE TABLE budget_alerts (
        account_id text NOT NULL REFERENCES accounts (id),
        id text NOT NULL,
        node text NOT NULL,
        period_kind text NOT NULL,
        period_start date NOT NULL,
        kind text NOT NULL CHECK (kind IN ('threshold', 'forecast')),
        threshold smallint NOT NULL,
        data jsonb NOT NULL,
        fired_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, node, period_kind, period_start, kind, threshold),
        UNIQUE (account_id, id)
      )`);
    await q.query(`CREATE INDEX budget_alerts_fired ON budget_alerts (account_id, fired_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE budget_alerts');
    await q.query('DROP TABLE budgets');
  }
}
