// Only this file touches Stripe's tables: the sync record of each local object mirrored in Stripe
// (stripe_objects) and the Stripe events already applied (stripe_events). An attempt claims its record
// with one conditional UPDATE, so however many jobs name the same object, one works on it at a time.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { firstRow, queryRows, type Db } from '../../src/database/sql.js';
import type { StripeInvoiceStatus, SyncKind } from './stripe-mapping.js';

export type SyncState = 'pending' | 'synced' | 'failed' | 'skipped';

export interface SyncKey {
  kind: SyncKind;
  accountId: string;
  localId: string;
}

export interface SyncRow {
  kind: SyncKind;
  account_id: string;
  local_id: string;
  stripe_id: string | null;
  state: SyncState;
  payload: unknown;
  stripe_status: StripeInvoiceStatus | null;
  attempts: number;
  next_attempt_at: Date | null;
  last_error: string | null;
  void_requested_at: Date | null;
  paid_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `kind, account_id, local_id, stripe_id, state, payload, stripe_status, attempts, next_attempt_at, last_error,
  void_requested_at, paid_at, created_at, updated_at`;
const KEY = 'kind = $1 AND account_id = $2 AND local_id = $3';
const keyParams = (k: SyncKey) => [k.kind, k.accountId, k.localId];

export function keyOf(row: Pick<SyncRow, 'kind' | 'account_id' | 'local_id'>): SyncKey {
  return { kind: row.kind, accountId: row.account_id, localId: row.local_id };
}

@Injectable()
export class StripeSyncRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The record of `key`, created as given when there is none; an existing record is returned unchanged. */
  async insert(
    db: Db | null,
    key: SyncKey,
    row: { state: SyncState; payload: unknown; nextAttemptAt: Date | null; lastError: string | null; now: Date },
  ): Promise<{ row: SyncRow; created: boolean }> {
    db ??= this.dataSource;
    const inserted = await firstRow<SyncRow>(
      db,
      `INSERT INTO stripe_objects (kind, account_id, local_id, state, payload, next_attempt_at, last_error, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $8) ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
      [...keyParams(key), row.state, row.payload === null ? null : JSON.stringify(row.payload), row.nextAttemptAt, row.lastError, row.now],
    );
    if (inserted) return { row: inserted, created: true };
    return { row: (await this.find(key, db))!, created: false };
  }

  find(key: SyncKey, db: Db = this.dataSource, lock = false): Promise<SyncRow | null> {
    return firstRow<SyncRow>(db, `SELECT ${COLUMNS} FROM stripe_objects WHERE ${KEY}${lock ? ' FOR UPDATE' : ''}`, keyParams(key));
  }

  findByStripeId(stripeId: string, db: Db = this.dataSource, lock = false): Promise<SyncRow | null> {
    return firstRow<SyncRow>(db, `SELECT ${COLUMNS} FROM stripe_objects WHERE stripe_id = $1${lock ? ' FOR UPDATE' : ''}`, [stripeId]);
  }

  /**
   * Takes the next attempt at a pending record that is due; meanwhile it is due again at `leaseUntil`, so
   * an attempt whose process died is made again then. Null when it is not pending or not due.
   */
  claim(key: SyncKey, now: Date, leaseUntil: Date): Promise<SyncRow | null> {
    return firstRow<SyncRow>(
      this.dataSource,
      `UPDATE stripe_objects SET attempts = attempts + 1, next_attempt_at = $5, updated_at = $4
        WHERE ${KEY} AND state = 'pending' AND next_attempt_at <= $4 RETURNING ${COLUMNS}`,
      [...keyParams(key), now, leaseUntil],
    );
  }

  /** Counts one more try at a record worked on inline (a customer, inside an invoice's attempt); returns the tries before it. */
  async countAttempt(key: SyncKey, now: Date): Promise<number> {
    const row = await firstRow<{ attempts: number }>(
      this.dataSource,
      `UPDATE stripe_objects SET attempts = attempts + 1, updated_at = $4 WHERE ${KEY} RETURNING attempts - 1 AS attempts`,
      [...keyParams(key), now],
    );
    return row?.attempts ?? 0;
  }

  /** Records the Stripe object made for `key` as soon as it is known, so no later attempt makes another. */
  async setStripeId(key: SyncKey, stripeId: string, now: Date, db: Db = this.dataSource): Promise<void> {
    await db.query(`UPDATE stripe_objects SET stripe_id = $4, updated_at = $5 WHERE ${KEY} AND stripe_id IS NULL`, [...keyParams(key), stripeId, now]);
  }

  /**
   * How attempt `attempt` ended, unless a later attempt has claimed the record since. Stripe's status is
   * not written back over a payment the webhook has already recorded.
   */
  async settle(
    key: SyncKey,
    attempt: number,
    outcome: { state: SyncState; nextAttemptAt: Date | null; lastError: string | null; stripeStatus: StripeInvoiceStatus | null; now: Date },
  ): Promise<boolean> {
    const rows = await queryRows<{ kind: string }>(
      this.dataSource,
      `UPDATE stripe_objects SET state = $5, next_attempt_at = $6, last_error = $7, updated_at = $9,
              stripe_status = CASE WHEN paid_at IS NOT NULL THEN stripe_status ELSE coalesce($8, stripe_status) END
        WHERE ${KEY} AND attempts = $4 RETURNING kind`,
      [...keyParams(key), attempt, outcome.state, outcome.nextAttemptAt, outcome.lastError, outcome.stripeStatus, outcome.now],
    );
    return rows.length > 0;
  }

  /** A customer record worked on inline is done. */
  async markSynced(key: SyncKey, now: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE stripe_objects SET state = 'synced', next_attempt_at = NULL, last_error = NULL, updated_at = $4 WHERE ${KEY}`,
      [...keyParams(key), now],
    );
  }

  /** What a Stripe event told us about the object (in the event's transaction). */
  async recordRemote(tx: Tx, key: SyncKey, change: { stripeId: string; stripeStatus: StripeInvoiceStatus | null; paidAt: Date | null; now: Date }): Promise<void> {
    await tx.query(
      `UPDATE stripe_objects SET stripe_id = coalesce(stripe_id, $4), stripe_status = coalesce($5, stripe_status),
              paid_at = coalesce(paid_at, $6), updated_at = $7
        WHERE ${KEY}`,
      [...keyParams(key), change.stripeId, change.stripeStatus, change.paidAt, change.now],
    );
  }

  /** Asks for the Stripe invoice to be voided: the record is pending again, due now. */
  async requestVoid(tx: Tx, key: SyncKey, now: Date): Promise<SyncRow | null> {
    return firstRow<SyncRow>(
      tx,
      `UPDATE stripe_objects SET void_requested_at = coalesce(void_requested_at, $4), state = 'pending', next_attempt_at = $4, updated_at = $4
        WHERE ${KEY} AND state IN ('pending', 'synced') RETURNING ${COLUMNS}`,
      [...keyParams(key), now],
    );
  }

  /** Pending records due at `now` (their job was lost, or the clock moved past their retry), oldest first. */
  due(now: Date, limit: number): Promise<SyncRow[]> {
    return queryRows<SyncRow>(
      this.dataSource,
      `SELECT ${COLUMNS} FROM stripe_objects WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2`,
      [now, limit],
    );
  }

  // Events

  async eventSeen(id: string, db: Db = this.dataSource): Promise<boolean> {
    return (await firstRow(db, 'SELECT 1 FROM stripe_events WHERE id = $1', [id])) !== null;
  }

  /** Records an event as applied; false when it already was (a replay, or a concurrent delivery that won). */
  async insertEvent(tx: Tx, event: { id: string; type: string; objectId: string | null; outcome: string; receivedAt: Date }): Promise<boolean> {
    const rows = await queryRows<{ id: string }>(
      tx,
      `INSERT INTO stripe_events (id, type, object_id, outcome, received_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [event.id, event.type, event.objectId, event.outcome, event.receivedAt],
    );
    return rows.length > 0;
  }

  async pruneEvents(cutoff: Date): Promise<number> {
    const rows = await queryRows<{ id: string }>(this.dataSource, 'DELETE FROM stripe_events WHERE received_at < $1 RETURNING id', [cutoff]);
    return rows.length;
  }
}
