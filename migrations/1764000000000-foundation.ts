// The foundation schema: accounts and their org tree, API keys, the hash-chained audit log and the
// database-backed job queue used when no Redis is configured.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1764000000000 implements MigrationInterface {
  name = 'Foundation1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE accounts (
        id text PRIMARY KEY,
        name text NOT NULL,
        currency char(3) NOT NULL,
        paid_enterprise boolean NOT NULL DEFAULT false,
        fiscal_year_start_month smallint NOT NULL DEFAULT 1 CHECK (fiscal_year_start_month BETWEEN 1 AND 12),
        task_inactivity_timeout_seconds integer NOT NULL DEFAULT 86400 CHECK (task_inactivity_timeout_seconds > 0),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE units (
        account_id text NOT NULL REFERENCES accounts (id),
        id text NOT NULL,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('department', 'team')),
        parent_id text,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, id),
        FOREIGN KEY (account_id, parent_id) REFERENCES units (account_id, id)
      )`);
    await q.query(`
      CREATE TABLE people (
        account_id text NOT NULL REFERENCES accounts (id),
        id text NOT NULL,
        name text NOT NULL,
        unit_id text NOT NULL,
        active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL,
        deactivated_at timestamptz,
        PRIMARY KEY (account_id, id),
        FOREIGN KEY (account_id, unit_id) REFERENCES units (account_id, id)
      )`);
    // Which unit a person belonged to from when: usage is attributed to the unit at event time.
    await q.query(`
      CREATE TABLE person_unit_history (
        account_id text NOT NULL,
        person_id text NOT NULL,
        unit_id text NOT NULL,
        effective_from timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, person_id, effective_from),
        FOREIGN KEY (account_id, person_id) REFERENCES people (account_id, id),
        FOREIGN KEY (account_id, unit_id) REFERENCES units (account_id, id)
      )`);
    await q.query(`
      CREATE TABLE agents (
        account_id text NOT NULL REFERENCES accounts (id),
        id text NOT NULL,
        name text NOT NULL,
        owner_person_id text NOT NULL,
        active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, id),
        FOREIGN KEY (account_id, owner_person_id) REFERENCES people (account_id, id)
      )`);
    await q.query(`
      CREATE TABLE api_keys (
        id text PRIMARY KEY,
        role text NOT NULL CHECK (role IN ('admin', 'sales', 'finance', 'member', 'agent')),
        account_id text REFERENCES accounts (id),
        person_id text,
        agent_id text,
        name text NOT NULL,
        secret_digest bytea NOT NULL,
        created_at timestamptz NOT NULL,
        created_by text,
        revoked_at timestamptz,
        CHECK ((role IN ('admin', 'sales')) = (account_id IS NULL)),
        CHECK (role <> 'member' OR person_id IS NOT NULL),
        CHECK (role <> 'agent' OR agent_id IS NOT NULL),
        FOREIGN KEY (account_id, person_id) REFERENCES people (account_id, id),
        FOREIGN KEY (account_id, agent_id) REFERENCES agents (account_id, id)
      )`);
    await q.query(`CREATE INDEX api_keys_account ON api_keys (account_id)`);
    await q.query(`
      CREATE TABLE audit_log (
        seq bigint PRIMARY KEY,
        occurred_at timestamptz NOT NULL,
        actor_key_id text,
        actor_role text,
        actor_account_id text,
        on_behalf_of_person_id text,
        action text NOT NULL,
        entity_type text NOT NULL,
        entity_id text NOT NULL,
        account_id text,
        before jsonb,
        after jsonb,
        prev_hash text NOT NULL,
        hash text NOT NULL
      )`);
    await q.query(`CREATE INDEX audit_log_account ON audit_log (account_id, seq)`);
    // Append-only at the database too: the application never updates or deletes an audit row.
    await q.query(`
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`);
    await q.query(`
      CREATE TABLE jobs (
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        job_key text UNIQUE,
        payload jsonb NOT NULL,
        run_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL DEFAULT 5,
        locked_until timestamptz,
        last_error text,
        created_at timestamptz NOT NULL,
        finished_at timestamptz
      )`);
    await q.query(`CREATE INDEX jobs_due ON jobs (run_at, id) WHERE status IN ('queued', 'running')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE jobs`);
    await q.query(`DROP TABLE audit_log`);
    await q.query(`DROP FUNCTION audit_log_append_only`);
    await q.query(`DROP TABLE api_keys`);
    await q.query(`DROP TABLE agents`);
    await q.query(`DROP TABLE person_unit_history`);
    await q.query(`DROP TABLE people`);
    await q.query(`DROP TABLE units`);
    await q.query(`DROP TABLE accounts`);
  }
}
