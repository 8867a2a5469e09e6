// Outgoing webhooks: the endpoints an account registers, the outbox of events (written in the same
// transaction as the change that caused them), one delivery per event and endpoint with its retry
// schedule, and every HTTP attempt of each delivery.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Webhooks1765300000000 implements MigrationInterface {
  name = 'Webhooks1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_endpoints (
        id text PRIMARY KEY,
        account_id text NOT NULL REFERENCES accounts (id),
        url text NOT NULL,
        description text NOT NULL DEFAULT '',
        event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
        -- The signing secret must be readable to sign; it is shown to the caller once, at creation or rotation.
        secret text NOT NULL,
        previous_secret text,
        previous_secret_expires_at timestamptz,
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        deleted_at timestamptz
      )`);
    await q.query(`CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id) WHERE deleted_at IS NULL`);
    // The body is kept as the exact bytes sent: every attempt and every replay signs and sends the same text.
    await q.query(`
      CREATE TABLE webhook_events (
        id text PRIMARY KEY,
        account_id text NOT NULL REFERENCES accounts (id),
        type text NOT NULL,
        body text NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX webhook_events_created ON webhook_events (created_at)`);
    await q.query(`
      CREATE TABLE webhook_deliveries (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id text PRIMARY KEY,
        account_id text NOT NULL REFERENCES accounts (id),
        endpoint_id text NOT NULL REFERENCES webhook_endpoints (id),
        event_id text NOT NULL REFERENCES webhook_events (id),
        replay_of text REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
        status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled')),
        attempt_count integer NOT NULL DEFAULT 0,
        -- When the next attempt is due; while an attempt runs, when it is taken to have died.
        next_attempt_at timestamptz,
        deadline_at timestamptz NOT NULL,
        last_status_code integer,
        last_error text,
        last_duration_ms integer,
        created_at timestamptz NOT NULL,
        completed_at timestamptz,
        CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
        CHECK ((status = 'pending') = (completed_at IS NULL))
      )`);
    await q.query(`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, seq DESC)`);
    await q.query(`CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id)`);
    // Finished deliveries are pruned after a retention period, oldest first.
    await q.query(`CREATE INDEX webhook_deliveries_completed ON webhook_deliveries (completed_at) WHERE completed_at IS NOT NULL`);
    await q.query(`
      CREATE TABLE webhook_delivery_attempts (
        delivery_id text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
        attempt integer NOT NULL CHECK (attempt > 0),
        started_at timestamptz NOT NULL,
        status_code integer,
        duration_ms integer NOT NULL,
        error text,
        response_excerpt text,
        PRIMARY KEY (delivery_id, attempt)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE webhook_delivery_attempts');
    await q.query('DROP TABLE webhook_deliveries');
    await q.query('DROP TABLE webhook_events');
    await q.query('DROP TABLE webhook_endpoints');
  }
}
