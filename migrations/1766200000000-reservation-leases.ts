// Budget leases (billing/authorizations/hold-leases.ts): a hold answered from a lease is a reservation row
// of its own that names the lease it was carved from. What a lease's row still holds is its amount less
// its carved rows' (whatever became of them), read by a rebuild through the partial index.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ReservationLeases1766200000000 implements MigrationInterface {
  name = 'ReservationLeases1766200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE authorization_reservations ADD COLUMN lease_id text`);
    await q.query(`CREATE INDEX authorization_reservations_lease ON authorization_reservations (account_id, lease_id) WHERE lease_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX authorization_reservations_lease');
    await q.query('ALTER TABLE authorization_reservations DROP COLUMN lease_id');
  }
}
