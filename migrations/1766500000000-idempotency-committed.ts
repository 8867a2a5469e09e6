// An Idempotency-Key's write marked done in the write's own transaction (src/database/commit-marks.ts):
// a key whose request committed its write and died before keeping its answer is never taken over, so a
// retry after the minute is told the write was done instead of doing it a second time.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class IdempotencyCommitted1766500000000 implements MigrationInterface {
  name = 'IdempotencyCommitted1766500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE idempotency_keys ADD COLUMN committed_at timestamptz');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE idempotency_keys DROP COLUMN committed_at');
  }
}
