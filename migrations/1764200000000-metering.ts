// Metering: raw events (partitioned by month of the event time), the idempotency ledger, tasks for
// effective-spend classification, and the rollups readings are served from.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Metering1764200000000 implements MigrationInterface {
  name = 'Metering1764200000000';

  async up(q: QueryRunner): Promise<void> {
    // One row per (account, client id), for ever: a unique key across all partitions of `events`
    // (PostgreSQL cannot enforce one on the partitioned table without the partition key).
    await q.query(`
      CREATE TABLE event_keys (
        account_id text NOT NULL,
        event_id text NOT NULL,
        ts timestamptz NOT NULL,
        content_hash text NOT NULL,
        PRIMARY KEY (account_id, event_id)
      )`);
    await q.query(`
      CREATE TABLE events (
        account_id text NOT NULL,
        event_id text NOT NULL,
        ts timestamptz NOT NULL,
        received_at timestamptz NOT NULL,
        -- Ingest order: the batch's receive time in ms * 1000 + the event's index in the batch.
        seq bigint NOT NULL,
        person_id text,
        agent_id text,
        unit_id text,
        session_id text,
        session_context text CHECK (session_context IN ('internal', 'external')),
        task_id text,
        attempt_id text,
        outcome text CHECK (outcome IN ('success', 'failure')),
        error_signature text,
        learned_from jsonb,
        task_status text CHECK (task_status IN ('succeeded', 'failed', 'abandoned')),
        operation text,
        channel text,
        model_name text,
        model_id text,
        tier text,
        price_book_version integer,
        rates_used text,
        usage_format text,
        input bigint NOT NULL,
        cached_input bigint NOT NULL,
        cache_write bigint NOT NULL,
        output bigint NOT NULL,
        reasoning bigint NOT NULL,
        cost_input numeric,
        cost_cached_input numeric,
        cost_cache_write numeric,
        cost_output numeric,
        cost_reasoning numeric,
        cost numeric,
        priced boolean NOT NULL,
        label text NOT NULL CHECK (label IN ('effective', 'ineffective', 'pending', 'unclassified')),
        reservation_id text,
        metadata jsonb,
        content_hash text NOT NULL,
        allowance_left numeric,
        adjustment boolean NOT NULL DEFAULT false,
        PRIMARY KEY (account_id, ts, event_id)
      ) PARTITION BY RANGE (ts)`);
    await q.query(`CREATE INDEX events_task ON events (account_id, task_id) WHERE task_id IS NOT NULL`);
    await q.query(`CREATE INDEX events_unpriced ON events (model_name) WHERE NOT priced AND model_name IS NOT NULL`);
    // No person index: readings come from the rollups, and the listing walks the primary key newest first.

    await q.query(`
      CREATE TABLE tasks (
        account_id text NOT NULL,
        task_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('open', 'succeeded', 'failed', 'abandoned')),
        opened_at timestamptz NOT NULL,
        last_event_at timestamptz NOT NULL,
        closed_at timestamptz,
        closed_by text,
        PRIMARY KEY (account_id, task_id)
      )`);
    await q.query(`CREATE INDEX tasks_open ON tasks (last_event_at) WHERE status = 'open'`);

    // Rollups. Every dimension is '' when absent so it can sit in the key. `shard` spreads concurrent
    // writers of one account over several rows (readings sum the shards).
    await q.query(`
      CREATE TABLE meter_hourly (
        account_id text NOT NULL,
        hour timestamptz NOT NULL,
        shard smallint NOT NULL,
        model text NOT NULL,
        tier text NOT NULL,
        unit_id text NOT NULL,
        person_id text NOT NULL,
        agent_id text NOT NULL,
        operation text NOT NULL,
        channel text NOT NULL,
        label text NOT NULL,
        session_context text NOT NULL,
        calls bigint NOT NULL,
        input bigint NOT NULL,
        cached_input bigint NOT NULL,
        cache_write bigint NOT NULL,
        output bigint NOT NULL,
        reasoning bigint NOT NULL,
        cost numeric NOT NULL,
        PRIMARY KEY (account_id, hour, shard, model, tier, unit_id, person_id, agent_id, operation, channel, label, session_context)
      )`);
    // A small daily rollup for the common readings (totals, by tier, label, channel, day).
    await q.query(`
      CREATE TABLE meter_daily (
        account_id text NOT NULL,
        day date NOT NULL,
        shard smallint NOT NULL,
        tier text NOT NULL,
        label text NOT NULL,
        channel text NOT NULL,
        calls bigint NOT NULL,
        input bigint NOT NULL,
        cached_input bigint NOT NULL,
        cache_write bigint NOT NULL,
        output bigint NOT NULL,
        reasoning bigint NOT NULL,
        cost numeric NOT NULL,
        PRIMARY KEY (account_id, day, shard, tier, label, channel)
      )`);
    // Periods whose invoice is final: later events for them are kept as adjustments for the next one.
    await q.query(`
      CREATE TABLE meter_closed_periods (
        account_id text NOT NULL,
        period_start timestamptz NOT NULL,
        period_end timestamptz NOT NULL,
        closed_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, period_start)
      )`);

    // Small named counters of background work (e.g. the last price-book correction applied).
    await q.query(`CREATE TABLE metering_state (key text PRIMARY KEY, value bigint NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['metering_state', 'meter_closed_periods', 'meter_daily', 'meter_hourly', 'tasks', 'events', 'event_keys']) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
