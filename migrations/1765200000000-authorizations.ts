// Authorizations: reservations (the durable record of every hold), the counters of the PostgreSQL-only
// engine, the journal of counter writes a rebuild reads to know which writes it already counts, the caps
// per agent and per session context, and the two indexes on events that session spend and `auto`
// estimates read.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Authorizations1765200000000 implements MigrationInterface {
  name = 'Authorizations1765200000000';

  async up(q: QueryRunner): Promise<void> {
    // `levels` are the counter levels held against (billing/authorizations/counters.ts); amount is the
    // exact priced estimate; `actual_*` what the committing event cost.
    await q.query(`
      CREATE TABLE authorization_reservations (
        account_id text NOT NULL,
        id text NOT NULL,
        agent_id text,
        person_id text NOT NULL,
        session_id text,
        session_context text CHECK (session_context IN ('internal', 'external')),
        levels text[] NOT NULL,
        amount numeric NOT NULL CHECK (amount >= 0),
        tokens bigint NOT NULL CHECK (tokens >= 0),
        estimate jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('held', 'committed', 'released', 'expired')),
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        resolved_at timestamptz,
        actual_amount numeric,
        actual_tokens bigint,
        PRIMARY KEY (account_id, id)
      )`);
    await q.query(`CREATE INDEX authorization_reservations_due ON authorization_reservations (expires_at) WHERE status = 'held'`);
    await q.query(`CREATE INDEX authorization_reservations_held ON authorization_reservations (account_id) WHERE status = 'held'`);

    // The PostgreSQL engine's counters (without Redis): one row per account and level, changed only under
    // its row lock, in the same transaction as the write that moves it.
    await q.query(`
      CREATE TABLE authorization_counters (
        account_id text NOT NULL,
        level text NOT NULL,
        limit_amount numeric,
        limit_tokens bigint,
        spent_amount numeric NOT NULL DEFAULT 0,
        spent_tokens bigint NOT NULL DEFAULT 0,
        held_amount numeric NOT NULL DEFAULT 0,
        held_tokens bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, level)
      )`);

    // One row per counter write (spend, commit, limit change), in the transaction of that write: a Redis
    // rebuild reads which writes its snapshot already holds. Pruned after a day by the expiry job.
    await q.query(`
      CREATE TABLE authorization_counter_writes (
        account_id text NOT NULL,
        write_id text NOT NULL,
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, write_id)
      )`);
    await q.query(`CREATE INDEX authorization_counter_writes_age ON authorization_counter_writes (recorded_at)`);

    // Caps set by the account: per agent for a period, per session by its context.
    await q.query(`
      CREATE TABLE authorization_caps (
        account_id text NOT NULL REFERENCES accounts (id),
        scope text NOT NULL CHECK (scope IN ('agent', 'session')),
        subject text NOT NULL,
        period_kind text CHECK (period_kind IN ('year', 'quarter', 'month')),
        amount_limit numeric CHECK (amount_limit >= 0),
        token_limit bigint CHECK (token_limit >= 0),
        updated_at timestamptz NOT NULL,
        updated_by text,
        PRIMARY KEY (account_id, scope, subject),
        CHECK ((scope = 'agent') = (period_kind IS NOT NULL)),
        CHECK (amount_limit IS NOT NULL OR token_limit IS NOT NULL)
      )`);

    // Spend of one session (its cap) and an agent's recent events (`auto` estimates).
    await q.query(`CREATE INDEX events_session ON events (account_id, session_id) WHERE session_id IS NOT NULL`);
    await q.query(`CREATE INDEX events_agent_recent ON events (account_id, agent_id, ts) WHERE agent_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX events_agent_recent');
    await q.query('DROP INDEX events_session');
    for (const table of ['authorization_caps', 'authorization_counter_writes', 'authorization_counters', 'authorization_reservations']) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
