// Tiers and plans: the model catalog, immutable price-book versions, plan versions, subscriptions, and
// the one-row counter that tells every process's pricing cache when the catalog or prices changed.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Tiers1764100000000 implements MigrationInterface {
  name = 'Tiers1764100000000';

  async up(q: QueryRunner): Promise<void> {
    // Bumped in the same transaction as every catalog or price-book change; caches poll it. Updating the
    // row also serialises those writers, so version numbers and alias checks never race.
    await q.query(`
      CREATE TABLE tiers_config_version (
        id smallint PRIMARY KEY CHECK (id = 1),
        version bigint NOT NULL
      )`);
    await q.query(`INSERT INTO tiers_config_version (id, version) VALUES (1, 0)`);
    await q.query(`
      CREATE TABLE models (
        id text PRIMARY KEY,
        provider text NOT NULL,
        tier text NOT NULL CHECK (tier IN ('base', 'specialized', 'premier')),
        aliases text[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    // A price book is a document of decimal strings (jsonb keeps them as text, exactly as sent);
    // effective_from is kept verbatim (RFC 3339, up to nanoseconds) and as timestamptz for ordering.
    await q.query(`
      CREATE TABLE price_books (
        version integer PRIMARY KEY CHECK (version > 0),
        effective_from text NOT NULL,
        effective_at timestamptz NOT NULL,
        currency char(3),
        tiers jsonb NOT NULL,
        models jsonb NOT NULL DEFAULT '{}',
        long_context jsonb,
        correction boolean NOT NULL DEFAULT false,
        reason text,
        created_at timestamptz NOT NULL,
        created_by text
      )`);
    await q.query(`CREATE INDEX price_books_effective ON price_books (effective_at, version)`);
    await q.query(`
      CREATE TABLE plans (
        id text PRIMARY KEY,
        latest_version integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL
      )`);
    // Every version kept forever; money as unconstrained numeric (pg returns it as a string, scale kept).
    await q.query(`
      CREATE TABLE plan_versions (
        plan_id text NOT NULL REFERENCES plans (id),
        version integer NOT NULL CHECK (version > 0),
        name text,
        currency char(3) NOT NULL,
        base_fee numeric NOT NULL CHECK (base_fee >= 0),
        waive_base_fee_for_paid_enterprise boolean NOT NULL,
        included_allowance numeric NOT NULL CHECK (included_allowance >= 0),
        overage_policy text NOT NULL CHECK (overage_policy IN ('bill', 'block')),
        topup_packs jsonb NOT NULL DEFAULT '[]',
        tier_caps jsonb,
        volume_discount jsonb,
        ineffective_credit_pct numeric NOT NULL CHECK (ineffective_credit_pct BETWEEN 0 AND 100),
        rolled_back_from integer,
        created_at timestamptz NOT NULL,
        created_by text,
        PRIMARY KEY (plan_id, version)
      )`);
    await q.query(`
      CREATE TABLE subscriptions (
        account_id text PRIMARY KEY REFERENCES accounts (id),
        plan_id text NOT NULL REFERENCES plans (id),
        pinned_version integer,
        start_date date NOT NULL,
        billing_anchor_day smallint NOT NULL CHECK (billing_anchor_day BETWEEN 1 AND 28),
        overrides jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        FOREIGN KEY (plan_id, pinned_version) REFERENCES plan_versions (plan_id, version)
      )`);
    await q.query(`CREATE INDEX subscriptions_plan ON subscriptions (plan_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE subscriptions`);
    await q.query(`DROP TABLE plan_versions`);
    await q.query(`DROP TABLE plans`);
    await q.query(`DROP TABLE price_books`);
    await q.query(`DROP TABLE models`);
    await q.query(`DROP TABLE tiers_config_version`);
  }
}
