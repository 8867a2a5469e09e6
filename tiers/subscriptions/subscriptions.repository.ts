// Only this file touches the subscriptions table.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows, type Db } from '../../src/database/sql.js';
import type { SubscriptionOverrides } from '../plans/plan-terms.js';

export interface SubscriptionRow {
  account_id: string;
  plan_id: string;
  /** null: follows the plan's latest version. */
  pinned_version: number | null;
  /** YYYY-MM-DD (read as text: a pg `date` would otherwise become a local-time Date). */
  start_date: string;
  billing_anchor_day: number;
  overrides: SubscriptionOverrides;
  /** The end of the billing period it was cancelled in (no period from then on is billed); null while it runs. */
  ends_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'account_id, plan_id, pinned_version, start_date::text AS start_date, billing_anchor_day, overrides, ends_at, created_at, updated_at';

@Injectable()
export class SubscriptionsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async find(accountId: string, db: Db = this.dataSource): Promise<SubscriptionRow | null> {
    const rows = await queryRows<SubscriptionRow>(db, `SELECT ${COLUMNS} FROM subscriptions WHERE account_id = $1`, [accountId]);
    return rows[0] ?? null;
  }

  /** Every subscription, by account (the credits job's look over all accounts). */
  findAll(db: Db = this.dataSource): Promise<SubscriptionRow[]> {
    return queryRows<SubscriptionRow>(db, `SELECT ${COLUMNS} FROM subscriptions ORDER BY account_id`);
  }

  async upsert(tx: Tx, s: SubscriptionRow): Promise<SubscriptionRow> {
    const rows = await queryRows<SubscriptionRow>(
      tx,
      `INSERT INTO subscriptions (account_id, plan_id, pinned_version, start_date, billing_anchor_day, overrides, ends_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4::date, $5, $6, $7, $8, $9)
       ON CONFLICT (account_id) DO UPDATE SET plan_id = EXCLUDED.plan_id, pinned_version = EXCLUDED.pinned_version,
         start_date = EXCLUDED.start_date, billing_anchor_day = EXCLUDED.billing_anchor_day, overrides = EXCLUDED.overrides,
         ends_at = EXCLUDED.ends_at, updated_at = EXCLUDED.updated_at
       RETURNING ${COLUMNS}`,
      [s.account_id, s.plan_id, s.pinned_version, s.start_date, s.billing_anchor_day, JSON.stringify(s.overrides), s.ends_at, s.created_at, s.updated_at],
    );
    return rows[0]!;
  }

  /** Sets when the subscription ends (CANCEL); the row as it is now. */
  async setEnd(tx: Tx, accountId: string, endsAt: Date, at: Date): Promise<SubscriptionRow> {
    const rows = await queryRows<SubscriptionRow>(tx, `UPDATE subscriptions SET ends_at = $2, updated_at = $3 WHERE account_id = $1 RETURNING ${COLUMNS}`, [accountId, endsAt, at]);
    return rows[0]!;
  }
}
