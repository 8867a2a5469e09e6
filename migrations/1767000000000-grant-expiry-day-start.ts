// A credit grant expires at the start of a UTC day (billing/credits/ledger.ts, expiryAfterDays): usage is
// booked by UTC day and a grant pays for the days it covers, so one that expired during a day paid for that
// day's usage after its expiry while the `credits` level had stopped counting it. Grants given before this
// rule that are still in force end at the start of the next day instead: later, never earlier, so no
// customer loses credit they were given. Expired grants and period allowances (whose periods start at 00:00
// UTC) are left as they are.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class GrantExpiryDayStart1767000000000 implements MigrationInterface {
  name = 'GrantExpiryDayStart1767000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `UPDATE credit_grants SET expires_at = date_trunc('day', expires_at, 'UTC') + interval '24 hours'
        WHERE expired_at IS NULL AND expires_at IS NOT NULL AND kind <> 'allowance' AND expires_at <> date_trunc('day', expires_at, 'UTC')`,
    );
  }

  async down(): Promise<void> {
    // What a grant's expiry was before is not kept; a later expiry is harmless to the code before this one.
  }
}
