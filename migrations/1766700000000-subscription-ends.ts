// A subscription can end: `ends_at` is the end of the billing period in which it was cancelled (null while
// it runs). Periods that start at or after it are not billed, and the account has no plan after it.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SubscriptionEnds1766700000000 implements MigrationInterface {
  name = 'SubscriptionEnds1766700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE subscriptions ADD COLUMN ends_at timestamptz');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE subscriptions DROP COLUMN ends_at');
  }
}
