// A period allowance grant may come to nothing: when the period's included allowance is lowered to 0 after
// it was granted (an override, a pin, a plan version), the settle job follows the terms and gives the grant
// 0. The check refused that, so the job failed for the account every minute from then on (its usage never
// booked). Every other grant is still more than nothing.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AllowanceOfNothing1766800000000 implements MigrationInterface {
  name = 'AllowanceOfNothing1766800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE credit_grants DROP CONSTRAINT credit_grants_amount_check,
      ADD CONSTRAINT credit_grants_amount_check CHECK (amount > 0 OR (kind = 'allowance' AND amount = 0))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE credit_grants DROP CONSTRAINT credit_grants_amount_check, ADD CONSTRAINT credit_grants_amount_check CHECK (amount > 0)`);
  }
}
