// The one call domain code makes to announce something to the account's webhook endpoints:
// `emit(tx, account, type, data)`. The event is stored with one delivery per subscribed, enabled endpoint
// in the caller's transaction when one is given (so it exists iff the change that caused it commits),
// and only when some endpoint wants it; the deliveries are then made by jobs, never by the caller.
// Producers outside billing are wired from billing's side, the way readings.module.ts listens to
// MeterPublisher: metering's after-commit publisher calls back, and the listener emits with no transaction.
import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import type { WebhookEventType } from './event-types.js';
import { RETRY_WINDOW_MS } from './retry-schedule.js';
import { WebhookDeliveryService } from './webhook-delivery.service.js';
import { WebhooksRepository } from './webhooks.repository.js';

/** An event's body is sent whole on every attempt; keep it a summary with ids, not a data dump. */
export const MAX_EVENT_BYTES = 64 * 1024;

/** What every delivery's body looks like: the same bytes on every attempt and replay. */
export interface WebhookEnvelope<T extends object = Record<string, unknown>> {
  id: string;
  type: WebhookEventType;
  created_at: string;
  account: string;
  data: T;
}

@Injectable()
export class WebhookEvents {
  constructor(
    private readonly repository: WebhooksRepository,
    private readonly deliveries: WebhookDeliveryService,
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Whether some enabled endpoint of the account is subscribed to `type` (an emit would store something). */
  wanted(accountId: string, type: WebhookEventType): Promise<boolean> {
    return this.repository.subscribed(accountId, type);
  }

  /**
   * Announces `type` with `data` to the account's endpoints. Returns the event id, or null when no enabled
   * endpoint of the account is subscribed to `type` (then nothing is stored). Throws only on a programming
   * error (a body too large to send) or a database failure, which the caller's transaction then shares.
   */
  async emit(tx: Tx | null, accountId: string, type: WebhookEventType, data: object): Promise<string | null> {
    const createdAt = this.clock.now();
    const id = `evt_${randomBytes(12).toString('hex')}`;
    const envelope: WebhookEnvelope<object> = { id, type, created_at: createdAt.toISOString(), account: accountId, data };
    const body = JSON.stringify(envelope);
    if (Buffer.byteLength(body, 'utf8') > MAX_EVENT_BYTES) {
      throw new Error(`webhook event ${type} is ${Buffer.byteLength(body, 'utf8')} bytes; the most is ${MAX_EVENT_BYTES}`);
    }
    const created = await this.repository.insertEvent(tx ?? this.dataSource, {
      id,
      accountId,
      type,
      body,
      createdAt,
      deadline: new Date(createdAt.getTime() + RETRY_WINDOW_MS),
    });
    if (created.length === 0) return null;
    await this.deliveries.queueFirstAttempts(tx, created.map((d) => d.id));
    return id;
  }
}
