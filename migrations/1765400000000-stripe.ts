// Stripe's mirror of our objects: one sync record per local object (an account's customer, a finalized
// invoice, a top-up sold through a Stripe invoice) with its Stripe id, what to send and how far it got,
// and the Stripe events already applied, each written in the transaction of its effect.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Stripe1765400000000 implements MigrationInterface {
  name = 'Stripe1765400000000';

  async up(q: QueryRunner): Promise<void> {
    // `payload` is the mapped request (amounts already in Stripe's minor units), written when the object
    // is queued, so a retry sends exactly what the first attempt sent, whatever changed since.
    // `state`: pending (to send; `next_attempt_at` says when), synced, failed (Stripe refused it for
    // good: a person has to look), skipped (Stripe was off when the object was made).
    await q.query(`
      CREATE TABLE stripe_objects (
        kind text NOT NULL CHECK (kind IN ('customer', 'invoice', 'topup')),
        account_id text NOT NULL REFERENCES accounts (id),
        local_id text NOT NULL,
        stripe_id text,
        state text NOT NULL CHECK (state IN ('pending', 'synced', 'failed', 'skipped')),
        payload jsonb,
        stripe_status text,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        last_error text,
        void_requested_at timestamptz,
        paid_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (kind, account_id, local_id),
        CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
      )`);
    await q.query(`CREATE UNIQUE INDEX stripe_objects_stripe_id ON stripe_objects (stripe_id) WHERE stripe_id IS NOT NULL`);
    await q.query(`CREATE INDEX stripe_objects_due ON stripe_objects (next_attempt_at) WHERE state = 'pending'`);
    // One row per Stripe event applied (or deliberately ignored): a replay finds its id and does nothing.
    await q.query(`
      CREATE TABLE stripe_events (
        id text PRIMARY KEY,
        type text NOT NULL,
        object_id text,
        outcome text NOT NULL,
        received_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX stripe_events_received ON stripe_events (received_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE stripe_events');
    await q.query('DROP TABLE stripe_objects');
  }
}
