// Webhook endpoints of an account: created, changed, disabled and deleted by its finance keys or an
// admin, each change audited (never with a secret in it); and their deliveries, listed and replayed.
// A URL is checked when it is set, on every address its host resolves to; deliveries check it again.
import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../../src/audit/audit.service.js';
import { actorOf, type Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { RequestError } from '../../src/http/domain-error.js';
import type { Noun } from '../../src/http/validation.js';
import { BillingError, BillingErrorCode as Code } from '../billing.errors.js';
import { parseEndpointUrl } from './endpoint-url.js';
import { DEFAULT_EVENT_TYPES, isWebhookEventType, type WebhookEventType } from './event-types.js';
import { RETRY_WINDOW_MS } from './retry-schedule.js';
import { newSigningSecret } from './signature.js';
import { WebhookDeliveryService } from './webhook-delivery.service.js';
import { WebhookSender } from './webhook-sender.js';
import { WebhooksRepository, type AttemptRow, type DeliveryRow, type DeliveryStatus, type EndpointRow } from './webhooks.repository.js';
import type { CreateEndpointBody, RotateSecretBody, UpdateEndpointBody } from './webhooks.schemas.js';

/** Deliveries fan out to every endpoint of an account: keep that bounded. */
export const MAX_ENDPOINTS_PER_ACCOUNT = 16;
const DEFAULT_PREVIOUS_SECRET_SECONDS = 86_400;

export interface EndpointView {
  id: string;
  account: string;
  url: string;
  description: string;
  event_types: string[];
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
  previous_secret_expires_at: Date | null;
}

export type DeliveryView = Omit<DeliveryRow, 'seq' | 'account_id'> & {
  attempts: Omit<AttemptRow, 'delivery_id'>[];
  /** The body sent, on a single delivery's reading. */
  payload?: unknown;
};

export function endpointView(row: EndpointRow, now: Date): EndpointView {
  const previousLive = row.previous_secret_expires_at !== null && row.previous_secret_expires_at > now;
  return {
    id: row.id,
    account: row.account_id,
    url: row.url,
    description: row.description,
    event_types: row.event_types,
    enabled: row.enabled,
    created_at: row.created_at,
    updated_at: row.updated_at,
    previous_secret_expires_at: previousLive ? row.previous_secret_expires_at : null,
  };
}

function deliveryView(row: DeliveryRow, attempts: AttemptRow[]): DeliveryView {
  const { seq: _seq, account_id: _account, ...rest } = row;
  return { ...rest, attempts: attempts.map(({ delivery_id: _id, ...a }) => a) };
}

function eventTypesOf(given: string[] | undefined): WebhookEventType[] {
  if (given === undefined) return [...DEFAULT_EVENT_TYPES];
  given.forEach((type, i) => {
    if (!isWebhookEventType(type)) {
      throw new BillingError(Code.WebhookEventTypeUnknown, `"${type}" is not a webhook event type.`, { field: `event_types[${i}]` });
    }
  });
  return given as WebhookEventType[];
}

function newId(prefix: string, bytes: number): string {
  return `${prefix}_${randomBytes(bytes).toString('hex')}`;
}

@Injectable()
export class WebhookEndpointsService {
  constructor(
    private readonly repository: WebhooksRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    private readonly sender: WebhookSender,
    private readonly deliveries: WebhookDeliveryService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async create(p: Principal, body: CreateEndpointBody): Promise<EndpointView & { secret: string }> {
    const accountId = this.accountFor(p, body.account, 'Field');
    const eventTypes = eventTypesOf(body.event_types);
    const url = await this.checkUrl(body.url);
    return this.transactions.run(async (tx) => {
      if (!(await this.repository.lockAccount(tx, accountId))) {
        throw new BillingError(Code.AccountNotFound, `Account "${accountId}" was not found.`, { field: 'account' });
      }
      if ((await this.repository.countEndpoints(tx, accountId)) >= MAX_ENDPOINTS_PER_ACCOUNT) {
        throw new BillingError(Code.WebhookEndpointLimit, `An account may have at most ${MAX_ENDPOINTS_PER_ACCOUNT} webhook endpoints.`);
      }
      const now = this.clock.now();
      const secret = newSigningSecret();
      const row = await this.repository.insertEndpoint(tx, {
        id: newId('we', 12),
        account_id: accountId,
        url,
        description: body.description ?? '',
        event_types: eventTypes,
        secret,
        previous_secret: null,
        previous_secret_expires_at: null,
        enabled: true,
        created_at: now,
        updated_at: now,
        deleted_at: null,
      });
      const view = endpointView(row, now);
      await this.record(tx, p, 'webhook_endpoint.create', null, view);
      return { ...view, secret };
    });
  }

  async list(p: Principal, account: string | undefined, after: string | null, limit: number): Promise<{ data: EndpointView[]; next_after: string | null }> {
    const accountId = p.accountId === null ? (account ?? null) : this.accountFor(p, account, 'Query parameter');
    const rows = await this.repository.listEndpoints(accountId, after, limit);
    const now = this.clock.now();
    return { data: rows.map((r) => endpointView(r, now)), next_after: rows.length === limit ? rows[rows.length - 1]!.id : null };
  }

  async get(p: Principal, id: string): Promise<EndpointView> {
    return endpointView(await this.owned(p, id), this.clock.now());
  }

  async update(p: Principal, id: string, body: UpdateEndpointBody): Promise<EndpointView> {
    const eventTypes = body.event_types === undefined ? undefined : eventTypesOf(body.event_types);
    const url = body.url === undefined ? undefined : await this.checkUrl(body.url);
    return this.transactions.run(async (tx) => {
      const before = await this.owned(p, id, tx);
      const now = this.clock.now();
      const after = await this.repository.updateEndpoint(tx, {
        ...before,
        url: url ?? before.url,
        event_types: eventTypes ?? before.event_types,
        description: body.description ?? before.description,
        enabled: body.enabled ?? before.enabled,
        updated_at: now,
      });
      if (before.enabled && !after.enabled) await this.repository.cancelPending(tx, id, now, 'canceled: the endpoint was disabled');
      const action = Object.keys(body).length === 1 && body.enabled !== undefined ? (body.enabled ? 'enable' : 'disable') : 'update';
      const view = endpointView(after, now);
      await this.record(tx, p, `webhook_endpoint.${action}`, endpointView(before, now), view);
      return view;
    });
  }

  /** Deleted endpoints stop receiving at once; their deliveries stay readable by an admin in the database. */
  remove(p: Principal, id: string): Promise<EndpointView> {
    return this.transactions.run(async (tx) => {
      const before = await this.owned(p, id, tx);
      const now = this.clock.now();
      const after = await this.repository.updateEndpoint(tx, {
        ...before,
        enabled: false,
        secret: '',
        previous_secret: null,
        previous_secret_expires_at: null,
        updated_at: now,
        deleted_at: now,
      });
      await this.repository.cancelPending(tx, id, now, 'canceled: the endpoint was deleted');
      const view = endpointView(after, now);
      await this.record(tx, p, 'webhook_endpoint.delete', endpointView(before, now), null);
      return view;
    });
  }

  rotateSecret(p: Principal, id: string, body: RotateSecretBody): Promise<EndpointView & { secret: string }> {
    return this.transactions.run(async (tx) => {
      const before = await this.owned(p, id, tx);
      const now = this.clock.now();
      const keepSeconds = body.expire_previous_in_seconds ?? DEFAULT_PREVIOUS_SECRET_SECONDS;
      const secret = newSigningSecret();
      const after = await this.repository.updateEndpoint(tx, {
        ...before,
        secret,
        previous_secret: keepSeconds > 0 ? before.secret : null,
        previous_secret_expires_at: keepSeconds > 0 ? new Date(now.getTime() + keepSeconds * 1000) : null,
        updated_at: now,
      });
      const view = endpointView(after, now);
      await this.record(tx, p, 'webhook_endpoint.rotate_secret', endpointView(before, now), view);
      return { ...view, secret };
    });
  }

  async listDeliveries(
    p: Principal,
    endpointId: string,
    query: { status: DeliveryStatus | null; cursor: string | null; limit: number },
  ): Promise<{ data: DeliveryView[]; next_cursor: string | null }> {
    await this.owned(p, endpointId);
    if (query.cursor !== null && !/^[1-9]\d{0,17}$/.test(query.cursor)) {
      throw new BillingError(Code.InvalidCursor, 'The cursor is not one this listing gave out.', { field: 'cursor' });
    }
    const rows = await this.repository.listDeliveries(endpointId, query.status, query.cursor, query.limit);
    const attempts = await this.repository.attemptsOf(rows.map((r) => r.id));
    return {
      data: rows.map((r) => deliveryView(r, attempts.filter((a) => a.delivery_id === r.id))),
      next_cursor: rows.length === query.limit ? rows[rows.length - 1]!.seq : null,
    };
  }

  async getDelivery(p: Principal, endpointId: string, deliveryId: string): Promise<DeliveryView> {
    await this.owned(p, endpointId);
    const row = await this.repository.findDelivery(endpointId, deliveryId);
    if (!row) throw new BillingError(Code.WebhookDeliveryNotFound, `Delivery "${deliveryId}" was not found.`);
    const [attempts, event] = await Promise.all([this.repository.attemptsOf([row.id]), this.repository.eventBody(row.event_id)]);
    return { ...deliveryView(row, attempts), payload: event === null ? null : (JSON.parse(event.body) as unknown) };
  }

  /** Sends a delivery's event to its endpoint again, as a new delivery made now (same event id). */
  async replay(p: Principal, endpointId: string, deliveryId: string): Promise<DeliveryView> {
    const replay = await this.transactions.run(async (tx) => {
      const endpoint = await this.owned(p, endpointId, tx);
      if (!endpoint.enabled) {
        throw new BillingError(Code.WebhookEndpointDisabled, 'The endpoint is disabled; enable it before replaying to it.');
      }
      const original = await this.repository.findDelivery(endpointId, deliveryId, tx);
      if (!original) throw new BillingError(Code.WebhookDeliveryNotFound, `Delivery "${deliveryId}" was not found.`);
      const now = this.clock.now();
      const row = await this.repository.insertReplay(tx, original, newId('whd', 16), now, new Date(now.getTime() + RETRY_WINDOW_MS));
      await this.audit.record(tx, actorOf(p), {
        action: 'webhook_delivery.replay',
        entityType: 'webhook_delivery',
        entityId: row.id,
        accountId: endpoint.account_id,
        before: null,
        after: { endpoint_id: endpointId, event_id: row.event_id, replay_of: original.id },
      });
      await this.deliveries.queueFirstAttempts(tx, [row.id]);
      return row;
    });
    return deliveryView(replay, []);
  }

  /**
   * The account a call acts on: an admin names it; a finance key acts on its own (naming another is a 404).
   * `noun` says where `account` is read from (a body's field, a query parameter), as validation's errors do.
   */
  private accountFor(p: Principal, account: string | undefined, noun: Noun): string {
    if (p.accountId === null) {
      if (account === undefined) throw new RequestError('missing_field', `${noun} "account" is required with an operator key.`, { field: 'account' });
      return account;
    }
    if (account !== undefined && account !== p.accountId) {
      throw new BillingError(Code.AccountNotFound, `Account "${account}" was not found.`, { field: 'account' });
    }
    return p.accountId;
  }

  /** The endpoint, if the caller may see it: another account's endpoint is answered exactly like a missing one. */
  private async owned(p: Principal, id: string, tx?: Tx): Promise<EndpointRow> {
    const row = await this.repository.findEndpoint(id, p.accountId, tx, tx !== undefined);
    if (!row) throw new BillingError(Code.WebhookEndpointNotFound, `Webhook endpoint "${id}" was not found.`);
    return row;
  }

  private async checkUrl(raw: string): Promise<string> {
    const parsed = parseEndpointUrl(raw);
    if (!parsed.ok) throw new BillingError(Code.WebhookUrlInvalid, `The URL ${parsed.reason}.`, { field: 'url' });
    const refusal = await this.sender.refusal(parsed.host);
    if (refusal === 'host not found') {
      throw new BillingError(Code.WebhookUrlUnresolvable, `The host "${parsed.host}" does not resolve.`, { field: 'url' });
    }
    if (refusal !== null) throw new BillingError(Code.WebhookUrlNotAllowed, `The URL may not be used: ${refusal}.`, { field: 'url' });
    return parsed.url.toString();
  }

  private record(tx: Tx, p: Principal, action: string, before: EndpointView | null, after: EndpointView | null): Promise<unknown> {
    const subject = (after ?? before)!;
    return this.audit.record(tx, actorOf(p), { action, entityType: 'webhook_endpoint', entityId: subject.id, accountId: subject.account, before, after });
  }
}
