// Fields of usage objects that ingest accepted but did not count (a provider's new field, say), by usage
// format and path: how many accepted events carried each, and when it was first and last seen. Upserted
// after an ingest write only when one of its events had such a field; read by GET /v1/ignored-usage-fields.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class IgnoredUsageFields1764610000000 implements MigrationInterface {
  name = 'IgnoredUsageFields1764610000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ignored_usage_fields (
        format text NOT NULL,
        path text NOT NULL,
        events bigint NOT NULL,
        first_seen timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        PRIMARY KEY (format, path)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE ignored_usage_fields');
  }
}
