// What billing/stripe needs from the billing code that owns the money (invoices, the credit ledger), as
// small ports those modules implement and register here at start (StripeHandlers), so Stripe depends on
// no one and they depend on Stripe. Every call carries the transaction in which the Stripe event is
// recorded as applied: the effect and the record commit together, or neither does.
//
// billing/invoices plugs in with, in its module:
//   constructor(handlers: StripeHandlers, invoices: InvoicePayments) {}
//   onModuleInit() { this.handlers.handleInvoices(this.invoices); }
import { Injectable } from '@nestjs/common';
import type { Tx } from '../../src/database/data-source.js';

export interface StripeInvoiceEvent {
  accountId: string;
  /** Our invoice id (as given to StripeSync.queueInvoice). */
  localInvoiceId: string;
  stripeInvoiceId: string;
  /** When Stripe says it happened (for a payment: status_transitions.paid_at). */
  at: Date;
}

/** Implemented by billing/invoices. */
export interface InvoicePaidHandler {
  /**
   * Our invoice is paid (Stripe says its mirror is). Called once per invoice: StripeWebhooks keeps its
   * own record and never calls it again for the same invoice.
   */
  markPaid(tx: Tx, event: StripeInvoiceEvent & { amountPaid: string; currency: string }): Promise<void>;
  /** A payment attempt failed; the invoice stays open and Stripe retries by its own schedule. May be called more than once. */
  paymentFailed?(tx: Tx, event: StripeInvoiceEvent & { attemptCount: number }): Promise<void>;
  /**
   * The Stripe invoice was voided: after StripeSync.requestVoid (ours is void already), or by someone in
   * Stripe's dashboard (the owner decides what that means for ours). Called once per invoice.
   */
  voided?(tx: Tx, event: StripeInvoiceEvent): Promise<void>;
}

export interface StripeTopupEvent {
  accountId: string;
  /** The top-up's id (as given to StripeSync.queueTopup). */
  topupId: string;
  stripeInvoiceId: string;
  paidAt: Date;
  amountPaid: string;
  currency: string;
}

/** Implemented by the credit ledger: a top-up's credit is granted when Stripe says it is paid. */
export interface TopupPaidHandler {
  /** Grants the top-up's credit. Called once per top-up. */
  topupPaid(tx: Tx, event: StripeTopupEvent): Promise<void>;
}

/** Where the owners of invoices and top-ups register their handlers; each may be registered once. */
@Injectable()
export class StripeHandlers {
  private invoiceHandler: InvoicePaidHandler | null = null;
  private topupHandler: TopupPaidHandler | null = null;

  /** `replace`: only for tests that play the invoice owner themselves (after the app registered billing/invoices). */
  handleInvoices(handler: InvoicePaidHandler, options: { replace?: boolean } = {}): void {
    if (this.invoiceHandler !== null && options.replace !== true) throw new Error('A Stripe invoice handler is already registered');
    this.invoiceHandler = handler;
  }

  handleTopups(handler: TopupPaidHandler): void {
    if (this.topupHandler !== null) throw new Error('A Stripe top-up handler is already registered');
    this.topupHandler = handler;
  }

  get invoices(): InvoicePaidHandler | null {
    return this.invoiceHandler;
  }

  get topups(): TopupPaidHandler | null {
    return this.topupHandler;
  }
}
