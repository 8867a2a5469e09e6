// Idempotency keys (src/http/idempotency): one row per calling API key and Idempotency-Key, holding the
// request that took it and, once it succeeded, its answer; pruned a day after.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class IdempotencyKeys1766300000000 implements MigrationInterface {
  name = 'IdempotencyKeys1766300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE idempotency_keys (
        key_id text NOT NULL,
        idempotency_key text NOT NULL,
        claim text NOT NULL,
        fingerprint text NOT NULL,
        request text NOT NULL,
        status integer,
        body text,
        created_at timestamptz NOT NULL,
        completed_at timestamptz,
        PRIMARY KEY (key_id, idempotency_key)
      )`);
    await q.query('CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE idempotency_keys');
  }
}
