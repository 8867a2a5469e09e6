// Applies Stripe's events to our objects, each exactly once. The signature is verified on the raw body
// before anything else; an event we act on is never trusted for state: the invoice is refetched from
// Stripe and its current status decides (events arrive out of order). The event's id is recorded in the
// same transaction as its effect, after the object's sync record is locked, so a replay, or the same
// event delivered twice at once, finds it and does nothing. Types we do not act on are acknowledged.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { BillingError, BillingErrorCode as Code } from '../billing.errors.js';
import { StripeApiRepository, StripeCallError, StripeSignatureError, type StripeEventView } from './stripe-api.repository.js';
import { invoiceEffect, isHandledEvent, localRefOf, paidAmount, type InvoiceEffect, type StripeInvoiceView } from './stripe-mapping.js';
import { StripeHandlers } from './stripe-ports.js';
import { keyOf, StripeSyncRepository, type SyncRow } from './stripe-sync.repository.js';

export type WebhookOutcome = InvoiceEffect | 'duplicate' | 'ignored';

export interface WebhookAnswer {
  received: true;
  event_id: string;
  outcome: WebhookOutcome;
}

const SIGNATURE_ERRORS = {
  missing: [Code.StripeSignatureMissing, 'The request has no stripe-signature header.'],
  invalid: [Code.StripeSignatureInvalid, 'The stripe-signature header does not match the body for this endpoint’s signing secret.'],
  expired: [Code.StripeSignatureExpired, 'The stripe-signature timestamp is more than 300 seconds old; the event is refused as a replay.'],
} as const;

@Injectable()
export class StripeWebhooks {
  private readonly logger = new Logger('stripe');

  constructor(
    private readonly api: StripeApiRepository,
    private readonly repository: StripeSyncRepository,
    private readonly handlers: StripeHandlers,
    private readonly transactions: TransactionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async receive(rawBody: Buffer | undefined, signature: string | undefined): Promise<WebhookAnswer> {
    if (!this.api.receivesEvents || !this.api.enabled) {
      throw new BillingError(Code.StripeDisabled, 'Stripe is not configured here (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET).');
    }
    // The JSON body parser (src/bootstrap.ts) keeps the bytes as rawBody; a request without a JSON body has
    // none, and no signature matches nothing.
    const event = this.verify(rawBody ?? Buffer.alloc(0), signature);
    const answer = (outcome: WebhookOutcome): WebhookAnswer => ({ received: true, event_id: event.id, outcome });
    if (!isHandledEvent(event.type) || event.objectType !== 'invoice' || event.objectId === null) return answer('ignored');
    if (await this.repository.eventSeen(event.id)) return answer('duplicate');

    const invoice = await this.refetch(event.objectId);
    return answer(invoice === null ? await this.record(event, 'ignored') : await this.transactions.run((tx) => this.apply(tx, event, invoice)));
  }

  private verify(rawBody: Buffer, signature: string | undefined): StripeEventView {
    try {
      return this.api.verifyEvent(rawBody, signature, this.clock.now().getTime());
    } catch (error) {
      if (!(error instanceof StripeSignatureError)) throw error;
      const [code, message] = SIGNATURE_ERRORS[error.problem];
      throw new BillingError(code, message, { field: 'stripe-signature' });
    }
  }

  /** The invoice as it is now; null when Stripe has no such invoice (nothing of ours to act on). */
  private async refetch(id: string): Promise<StripeInvoiceView | null> {
    try {
      return await this.api.retrieveInvoice(id);
    } catch (error) {
      if (error instanceof StripeCallError && error.status === 404) return null;
      // Stripe redelivers an event answered with a 5xx, so it is applied once Stripe answers us again.
      this.logger.warn({ err: (error as Error).message, invoice: id }, 'stripe: could not refetch an event’s invoice');
      throw new BillingError(Code.StripeUnavailable, 'Stripe could not be reached to read the event’s invoice; send it again later.');
    }
  }

  private async record(event: StripeEventView, outcome: WebhookOutcome): Promise<WebhookOutcome> {
    const fresh = await this.transactions.run((tx) =>
      this.repository.insertEvent(tx, { id: event.id, type: event.type, objectId: event.objectId, outcome, receivedAt: this.clock.now() }),
    );
    return fresh ? outcome : 'duplicate';
  }

  private async apply(tx: Tx, event: StripeEventView, invoice: StripeInvoiceView): Promise<WebhookOutcome> {
    const ref = localRefOf(invoice.metadata);
    // Ours by metadata (even when the answer to our create was lost), else by the id we recorded.
    const row = ref && ref.kind !== 'customer'
      ? await this.repository.find({ kind: ref.kind, accountId: ref.accountId, localId: ref.localId }, tx, true)
      : await this.repository.findByStripeId(invoice.id, tx, true);
    const ours = row !== null && row.kind !== 'customer' && (row.stripe_id === null || row.stripe_id === invoice.id);
    const effect = invoiceEffect(event.type, invoice);
    const receivedAt = this.clock.now();
    const outcome = ours ? effect : 'ignored';
    if (!(await this.repository.insertEvent(tx, { id: event.id, type: event.type, objectId: invoice.id, outcome, receivedAt }))) {
      return 'duplicate';
    }
    if (!ours) return 'ignored';
    const alreadyVoided = effect === 'voided' && (await this.voidSeenBefore(tx, invoice.id, event.id));
    const paidAt = invoice.paidAt ?? event.created;
    await this.repository.recordRemote(tx, keyOf(row), {
      stripeId: invoice.id,
      stripeStatus: invoice.status,
      paidAt: effect === 'paid' ? paidAt : null,
      now: receivedAt,
    });
    await this.effect(tx, row, invoice, effect, paidAt, alreadyVoided);
    return effect;
  }

  private async voidSeenBefore(tx: Tx, stripeInvoiceId: string, eventId: string): Promise<boolean> {
    const rows = await tx.query(`SELECT 1 FROM stripe_events WHERE object_id = $1 AND outcome = 'voided' AND id <> $2 LIMIT 1`, [stripeInvoiceId, eventId]);
    return (rows as unknown[]).length > 0;
  }

  private async effect(tx: Tx, row: SyncRow, invoice: StripeInvoiceView, effect: InvoiceEffect, paidAt: Date, alreadyVoided: boolean): Promise<void> {
    const base = { accountId: row.account_id, stripeInvoiceId: invoice.id };
    if (row.kind === 'topup') {
      if (effect !== 'paid' || row.paid_at !== null) return;
      const handler = this.handlers.topups ?? this.missing('top-ups');
      await handler.topupPaid(tx, { ...base, topupId: row.local_id, paidAt, amountPaid: paidAmount(invoice), currency: invoice.currency.toUpperCase() });
      return;
    }
    const event = { ...base, localInvoiceId: row.local_id };
    const handler = this.handlers.invoices ?? this.missing('invoices');
    if (effect === 'paid' && row.paid_at === null) {
      await handler.markPaid(tx, { ...event, at: paidAt, amountPaid: paidAmount(invoice), currency: invoice.currency.toUpperCase() });
    } else if (effect === 'payment_failed') {
      await handler.paymentFailed?.(tx, { ...event, at: this.clock.now(), attemptCount: invoice.attemptCount });
    } else if (effect === 'voided' && !alreadyVoided) {
      await handler.voided?.(tx, { ...event, at: invoice.voidedAt ?? this.clock.now() });
    }
  }

  private missing(what: string): never {
    // Rolls the event back: Stripe redelivers it, and it is applied once the handler is there.
    this.logger.error(`stripe: an event about ${what} arrived, but no handler for ${what} is registered`);
    throw new BillingError(Code.StripeHandlerMissing, `This service cannot apply Stripe events about ${what} yet; send it again later.`);
  }
}
