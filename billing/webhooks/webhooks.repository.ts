// The SQL of outgoing webhooks: endpoints, the event outbox, deliveries and their attempts. A delivery
// is claimed for an attempt by one conditional UPDATE (its attempt number and due time), so however many
// jobs name the same attempt, one sends it.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { firstRow, queryRows, type Db } from '../../src/database/sql.js';

export interface EndpointRow {
  id: string;
  account_id: string;
  url: string;
  description: string;
  event_types: string[];
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'canceled';

export interface DeliveryRow {
  seq: string;
  id: string;
  account_id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  replay_of: string | null;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: Date | null;
  deadline_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  last_duration_ms: number | null;
  created_at: Date;
  completed_at: Date | null;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: Date;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  response_excerpt: string | null;
}

/** What an attempt needs, read in the same statement that claims it. */
export interface ClaimedDelivery {
  id: string;
  attempt_count: number;
  deadline_at: Date;
  event_id: string;
  event_type: string;
  body: string;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  endpoint_enabled: boolean;
  endpoint_deleted: boolean;
}

export interface NewEvent {
  id: string;
  accountId: string;
  type: string;
  body: string;
  createdAt: Date;
  deadline: Date;
}

const ENDPOINT_COLUMNS = `id, account_id, url, description, event_types, secret, previous_secret, previous_secret_expires_at,
  enabled, created_at, updated_at, deleted_at`;

const DELIVERY_COLUMNS = `d.seq::text AS seq, d.id, d.account_id, d.endpoint_id, d.event_id, ev.type AS event_type, d.replay_of, d.status,
  d.attempt_count, d.next_attempt_at, d.deadline_at, d.last_status_code, d.last_error, d.last_duration_ms, d.created_at, d.completed_at`;

@Injectable()
export class WebhooksRepository {
  constructor(private readonly dataSource: DataSource) {}

  // Endpoints

  /**
   * Whether the account exists, holding it so concurrent endpoint creations take turns (the limit holds).
   * NO KEY UPDATE: rows that merely reference the account (ingest) are not held up.
   */
  async lockAccount(tx: Tx, accountId: string): Promise<boolean> {
    return (await firstRow(tx, `SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, [accountId])) !== null;
  }

  async insertEndpoint(tx: Tx, row: EndpointRow): Promise<EndpointRow> {
    return (await firstRow<EndpointRow>(
      tx,
      `INSERT INTO webhook_endpoints (${ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       RETURNING ${ENDPOINT_COLUMNS}`,
      [row.id, row.account_id, row.url, row.description, row.event_types, row.secret, row.previous_secret,
        row.previous_secret_expires_at, row.enabled, row.created_at, row.updated_at, row.deleted_at],
    ))!;
  }

  /** A live (not deleted) endpoint, of `accountId` when given; `lock` holds it for the transaction. */
  findEndpoint(id: string, accountId: string | null, db: Db = this.dataSource, lock = false): Promise<EndpointRow | null> {
    return firstRow<EndpointRow>(
      db,
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
        WHERE id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR account_id = $2)${lock ? ' FOR UPDATE' : ''}`,
      [id, accountId],
    );
  }

  listEndpoints(accountId: string | null, after: string | null, limit: number): Promise<EndpointRow[]> {
    return queryRows<EndpointRow>(
      this.dataSource,
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
        WHERE deleted_at IS NULL AND ($1::text IS NULL OR account_id = $1) AND ($2::text IS NULL OR id > $2)
        ORDER BY id LIMIT $3`,
      [accountId, after, limit],
    );
  }

  async countEndpoints(tx: Tx, accountId: string): Promise<number> {
    const row = await firstRow<{ n: number }>(tx, `SELECT count(*)::int AS n FROM webhook_endpoints WHERE account_id = $1 AND deleted_at IS NULL`, [accountId]);
    return row?.n ?? 0;
  }

  async updateEndpoint(tx: Tx, row: EndpointRow): Promise<EndpointRow> {
    return (await firstRow<EndpointRow>(
      tx,
      `UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, secret = $5, previous_secret = $6,
              previous_secret_expires_at = $7, enabled = $8, updated_at = $9, deleted_at = $10
        WHERE id = $1 RETURNING ${ENDPOINT_COLUMNS}`,
      [row.id, row.url, row.description, row.event_types, row.secret, row.previous_secret, row.previous_secret_expires_at,
        row.enabled, row.updated_at, row.deleted_at],
    ))!;
  }

  /** Ends the endpoint's deliveries still waiting for an attempt (it was disabled or deleted). */
  async cancelPending(db: Db, endpointId: string, now: Date, reason: string): Promise<number> {
    const rows = await queryRows<{ id: string }>(
      db,
      `UPDATE webhook_deliveries SET status = 'canceled', next_attempt_at = NULL, completed_at = $2, last_error = $3
        WHERE endpoint_id = $1 AND status = 'pending' RETURNING id`,
      [endpointId, now, reason],
    );
    return rows.length;
  }

  // The outbox

  /**
   * Stores an event and one pending delivery for each enabled endpoint of its account subscribed to its
   * type, in one statement; when no endpoint wants it, nothing is stored. Returns the new deliveries.
   */
  /** Whether an enabled endpoint of the account is subscribed to `type`. */
  async subscribed(accountId: string, type: string, db: Db = this.dataSource): Promise<boolean> {
    const row = await firstRow<{ any: boolean }>(
      db,
      'SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE account_id = $1 AND enabled AND deleted_at IS NULL AND $2 = ANY (event_types)) AS any',
      [accountId, type],
    );
    return row?.any === true;
  }

  async insertEvent(db: Db, event: NewEvent): Promise<{ id: string }[]> {
    return queryRows<{ id: string }>(
      db,
      `WITH targets AS (
         SELECT id FROM webhook_endpoints
          WHERE account_id = $2 AND enabled AND deleted_at IS NULL AND $3 = ANY (event_types)
       ), event AS (
         INSERT INTO webhook_events (id, account_id, type, body, created_at)
         SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM targets)
         RETURNING id
       )
       INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, status, next_attempt_at, deadline_at, created_at)
       SELECT 'whd_' || replace(gen_random_uuid()::text, '-', ''), $2, targets.id, event.id, 'pending', $5, $6, $5
         FROM targets CROSS JOIN event
       RETURNING id`,
      [event.id, event.accountId, event.type, event.body, event.createdAt, event.deadline],
    );
  }

  // Attempts

  /**
   * Takes attempt `attempt` of a delivery if it is still the next one and due; meanwhile the delivery is
   * due again at `leaseUntil`, so an attempt whose process died is made again then.
   */
  claim(deliveryId: string, attempt: number, now: Date, leaseUntil: Date): Promise<ClaimedDelivery | null> {
    return firstRow<ClaimedDelivery>(
      this.dataSource,
      `WITH claimed AS (
         UPDATE webhook_deliveries SET attempt_count = $2, next_attempt_at = $4
          WHERE id = $1 AND status = 'pending' AND attempt_count = $2 - 1 AND next_attempt_at <= $3
          RETURNING id, attempt_count, deadline_at, event_id, endpoint_id
       )
       SELECT c.id, c.attempt_count, c.deadline_at, c.event_id, ev.type AS event_type, ev.body, e.url, e.secret,
              e.previous_secret, e.previous_secret_expires_at, e.enabled AS endpoint_enabled,
              e.deleted_at IS NOT NULL AS endpoint_deleted
         FROM claimed c JOIN webhook_events ev ON ev.id = c.event_id JOIN webhook_endpoints e ON e.id = c.endpoint_id`,
      [deliveryId, attempt, now, leaseUntil],
    );
  }

  async insertAttempt(tx: Tx, row: AttemptRow): Promise<void> {
    await tx.query(
      `INSERT INTO webhook_delivery_attempts (delivery_id, attempt, started_at, status_code, duration_ms, error, response_excerpt)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [row.delivery_id, row.attempt, row.started_at, row.status_code, row.duration_ms, row.error, row.response_excerpt],
    );
  }

  /**
   * Records how attempt `attempt` ended, unless a later attempt has taken the delivery since (this one
   * outlived its lease). `nextAttemptAt` null ends the delivery with `status`.
   */
  async settle(
    tx: Tx,
    deliveryId: string,
    attempt: number,
    outcome: { status: DeliveryStatus; nextAttemptAt: Date | null; completedAt: Date | null; statusCode: number | null; error: string | null; durationMs: number | null },
  ): Promise<boolean> {
    const rows = await queryRows<{ id: string }>(
      tx,
      // A canceled attempt was never made: it does not count.
      `UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, completed_at = $5, last_status_code = $6, last_error = $7,
              last_duration_ms = $8, attempt_count = CASE WHEN $3 = 'canceled' THEN $2 - 1 ELSE $2 END
        WHERE id = $1 AND attempt_count = $2 AND status = 'pending' RETURNING id`,
      [deliveryId, attempt, outcome.status, outcome.nextAttemptAt, outcome.completedAt, outcome.statusCode, outcome.error, outcome.durationMs],
    );
    return rows.length > 0;
  }

  /** Pending deliveries due at `now` (their job was lost, or the clock moved past it), oldest first. */
  due(now: Date, limit: number): Promise<{ id: string; attempt_count: number }[]> {
    return queryRows(
      this.dataSource,
      `SELECT id, attempt_count FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
        ORDER BY next_attempt_at LIMIT $2`,
      [now, limit],
    );
  }

  /** Removes deliveries finished before `cutoff` (their attempts with them), then events left with no delivery. */
  async prune(tx: Tx, cutoff: Date): Promise<{ deliveries: number; events: number }> {
    const deliveries = await queryRows<{ id: string }>(tx, `DELETE FROM webhook_deliveries WHERE completed_at < $1 RETURNING id`, [cutoff]);
    const events = await queryRows<{ id: string }>(
      tx,
      `DELETE FROM webhook_events ev WHERE ev.created_at < $1
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id)
        RETURNING id`,
      [cutoff],
    );
    return { deliveries: deliveries.length, events: events.length };
  }

  // Reading deliveries

  listDeliveries(endpointId: string, status: DeliveryStatus | null, beforeSeq: string | null, limit: number): Promise<DeliveryRow[]> {
    return queryRows<DeliveryRow>(
      this.dataSource,
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
        WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2) AND ($3::bigint IS NULL OR d.seq < $3)
        ORDER BY d.seq DESC LIMIT $4`,
      [endpointId, status, beforeSeq, limit],
    );
  }

  findDelivery(endpointId: string, id: string, db: Db = this.dataSource): Promise<DeliveryRow | null> {
    return firstRow<DeliveryRow>(
      db,
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
        WHERE d.endpoint_id = $1 AND d.id = $2`,
      [endpointId, id],
    );
  }

  attemptsOf(deliveryIds: readonly string[]): Promise<AttemptRow[]> {
    if (deliveryIds.length === 0) return Promise.resolve([]);
    return queryRows<AttemptRow>(
      this.dataSource,
      `SELECT delivery_id, attempt, started_at, status_code, duration_ms, error, response_excerpt
         FROM webhook_delivery_attempts WHERE delivery_id = ANY ($1::text[]) ORDER BY delivery_id, attempt`,
      [deliveryIds],
    );
  }

  eventBody(eventId: string): Promise<{ body: string } | null> {
    return firstRow<{ body: string }>(this.dataSource, `SELECT body FROM webhook_events WHERE id = $1`, [eventId]);
  }

  /** A new delivery of an earlier delivery's event to the same endpoint, due now, with a day of its own. */
  async insertReplay(tx: Tx, original: DeliveryRow, id: string, now: Date, deadline: Date): Promise<DeliveryRow> {
    await tx.query(
      `INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, replay_of, status, next_attempt_at, deadline_at, created_at)
       VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $6)`,
      [id, original.account_id, original.endpoint_id, original.event_id, original.id, now, deadline],
    );
    return (await this.findDelivery(original.endpoint_id, id, tx))!;
  }
}
