// A guard for optimistic writes: `tokenmeter_refuse_unless(ok, why)` returns true when `ok`, and otherwise
// raises SQLSTATE TMW01, aborting the statement it is in and everything that statement wrote. Ingest
// writes a group whose tasks it has never seen in one statement that assumes they are new; the guard
// refuses that statement when one of them was not, and the writer then takes the locked path.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class WriteGuard1764400000000 implements MigrationInterface {
  name = 'WriteGuard1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION tokenmeter_refuse_unless(ok boolean, why text) RETURNS boolean
      LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        IF ok IS NOT TRUE THEN
          RAISE EXCEPTION 'optimistic write refused: %', why USING ERRCODE = 'TMW01';
        END IF;
        RETURN true;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP FUNCTION tokenmeter_refuse_unless(boolean, text)');
  }
}
