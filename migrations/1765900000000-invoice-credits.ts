// An invoice's ineffective-spend credit (and its adjustments) is paid out on the invoice as a negative line,
// so the ledger books it as issued and applied to that invoice at once (`apply`), never as credit usage can
// burn; voiding the invoice undoes it (`unapply`).
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InvoiceCredits1765900000000 implements MigrationInterface {
  name = 'InvoiceCredits1765900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE credit_movements DROP CONSTRAINT credit_movements_kind_check');
    await q.query(`ALTER TABLE credit_movements ADD CONSTRAINT credit_movements_kind_check
      CHECK (kind IN ('grant', 'burn', 'expiry', 'adjustment', 'restore', 'apply', 'unapply'))`);
    await q.query(`CREATE INDEX credit_movements_invoice ON credit_movements (account_id, invoice_id) WHERE invoice_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX credit_movements_invoice');
    await q.query('ALTER TABLE credit_movements DROP CONSTRAINT credit_movements_kind_check');
    await q.query(`ALTER TABLE credit_movements ADD CONSTRAINT credit_movements_kind_check CHECK (kind IN ('grant', 'burn', 'expiry', 'adjustment', 'restore'))`);
  }
}
