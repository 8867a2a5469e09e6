// The one door to Stripe: the only file that imports the official SDK. Configured from AppConfig
// (STRIPE_SECRET_KEY, STRIPE_API_BASE as the SDK's host/port/protocol); with no key it is off, says so
// (`enabled`), and refuses every call. Answers are narrowed to the few fields we read, and every failure
// becomes a StripeCallError that says whether trying again later can help.
import { Inject, Injectable } from '@nestjs/common';
import Stripe from 'stripe';
import { APP_CONFIG, type AppConfig } from '../../src/config/config.js';
import { META_LINE, type CollectionMethod, type StripeInvoiceStatus, type StripeInvoiceView } from './stripe-mapping.js';

/** Stripe events older than this (by their signature's timestamp) are refused: a replayed capture. */
export const SIGNATURE_TOLERANCE_S = 300;
/** How many of the newest objects a resumed create looks through for the one a lost answer made. */
const LOOKBACK = 100;

export class StripeCallError extends Error {
  constructor(
    message: string,
    /** Worth trying again later: a network failure, Stripe's 5xx, 429, a lock conflict, a bad key being fixed. */
    readonly retryable: boolean,
    readonly status: number | null,
    readonly stripeCode: string | null,
  ) {
    super(message);
    this.name = 'StripeCallError';
  }
}

export type SignatureProblem = 'missing' | 'invalid' | 'expired';

export class StripeSignatureError extends Error {
  constructor(readonly problem: SignatureProblem) {
    super(problem);
    this.name = 'StripeSignatureError';
  }
}

/** A verified event: only what the webhook reads. */
export interface StripeEventView {
  id: string;
  type: string;
  objectId: string | null;
  objectType: string | null;
  created: Date;
}

export interface InvoiceCreate {
  customer: string;
  currency: string;
  description: string;
  collection_method: CollectionMethod;
  days_until_due: number | null;
  metadata: Record<string, string>;
}

function classify(error: unknown): StripeCallError {
  if (error instanceof StripeCallError) return error;
  if (error instanceof Stripe.errors.StripeError) {
    const status = error.statusCode ?? null;
    const retryable =
      error instanceof Stripe.errors.StripeConnectionError ||
      status === null ||
      status >= 500 ||
      status === 429 ||
      // A lock or a concurrent request with the same key; not a key reused for other parameters.
      (status === 409 && !(error instanceof Stripe.errors.StripeIdempotencyError)) ||
      // The key is wrong or lacks a permission: fixed by the operator, then the retries go through.
      status === 401 ||
      status === 403;
    return new StripeCallError(`Stripe: ${error.message}`, retryable, status, error.code ?? null);
  }
  return new StripeCallError(`Stripe call failed: ${(error as Error)?.message ?? String(error)}`, true, null, null);
}

function invoiceView(invoice: Stripe.Invoice): StripeInvoiceView {
  const at = (seconds: number | null | undefined) => (seconds ? new Date(seconds * 1000) : null);
  return {
    id: invoice.id,
    status: (invoice.status ?? null) as StripeInvoiceStatus | null,
    customer: typeof invoice.customer === 'string' ? invoice.customer : (invoice.customer?.id ?? null),
    metadata: (invoice.metadata ?? {}) as Record<string, string>,
    currency: invoice.currency,
    amountDue: invoice.amount_due,
    amountPaid: invoice.amount_paid,
    attemptCount: invoice.attempt_count,
    paidAt: at(invoice.status_transitions?.paid_at),
    voidedAt: at(invoice.status_transitions?.voided_at),
    hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
  };
}

function matches(metadata: Readonly<Record<string, string>> | null | undefined, wanted: Readonly<Record<string, string>>): boolean {
  return Object.entries(wanted).every(([key, value]) => metadata?.[key] === value);
}

@Injectable()
export class StripeApiRepository {
  private readonly client: Stripe | null;
  private readonly webhookSecret: string | null;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const { secretKey, api, timeoutMs, webhookSecret } = config.stripe;
    this.webhookSecret = webhookSecret;
    this.client =
      secretKey === null
        ? null
        : new Stripe(secretKey, {
            ...(api ?? {}),
            timeout: timeoutMs,
            // One quick retry of a dropped connection inside the call; anything longer is the sync job's
            // backoff, which survives restarts.
            maxNetworkRetries: 1,
            telemetry: false,
            appInfo: { name: 'tokenmeter' },
          });
  }

  /** Whether Stripe is configured (STRIPE_SECRET_KEY). When not, callers skip syncing and record that. */
  get enabled(): boolean {
    return this.client !== null;
  }

  /** Whether incoming events can be verified (STRIPE_WEBHOOK_SECRET). */
  get receivesEvents(): boolean {
    return this.webhookSecret !== null;
  }

  private get stripe(): Stripe {
    if (this.client === null) throw new StripeCallError('Stripe is off (no STRIPE_SECRET_KEY)', false, null, 'stripe_off');
    return this.client;
  }

  private async call<T>(work: (stripe: Stripe) => Promise<T>): Promise<T> {
    try {
      return await work(this.stripe);
    } catch (error) {
      throw classify(error);
    }
  }

  createCustomer(params: { name: string; metadata: Record<string, string> }, idempotencyKey: string): Promise<{ id: string }> {
    return this.call(async (s) => ({ id: (await s.customers.create(params, { idempotencyKey })).id }));
  }

  /** The newest customer carrying `metadata` (a create whose answer was lost, past Stripe's 24-hour key memory). */
  findCustomer(metadata: Readonly<Record<string, string>>): Promise<{ id: string } | null> {
    return this.call(async (s) => {
      const page = await s.customers.list({ limit: LOOKBACK });
      const found = page.data.find((c) => matches(c.metadata as Record<string, string>, metadata));
      return found ? { id: found.id } : null;
    });
  }

  createInvoice(params: InvoiceCreate, idempotencyKey: string): Promise<StripeInvoiceView> {
    return this.call(async (s) => {
      const invoice = await s.invoices.create(
        {
          customer: params.customer,
          currency: params.currency,
          description: params.description,
          collection_method: params.collection_method,
          ...(params.days_until_due === null ? {} : { days_until_due: params.days_until_due }),
          metadata: params.metadata,
          // Only the items we attach to this invoice, never the customer's other pending items.
          pending_invoice_items_behavior: 'exclude',
          // We finalize when every item is on; Stripe then collects (auto_advance on finalize).
          auto_advance: false,
        },
        { idempotencyKey },
      );
      return invoiceView(invoice);
    });
  }

  /** Among the customer's newest invoices, the one carrying `metadata`. */
  findInvoice(customer: string, metadata: Readonly<Record<string, string>>): Promise<StripeInvoiceView | null> {
    return this.call(async (s) => {
      const page = await s.invoices.list({ customer, limit: LOOKBACK });
      const found = page.data.find((i) => matches(i.metadata as Record<string, string>, metadata));
      return found ? invoiceView(found) : null;
    });
  }

  /** The items already on a draft invoice, with the line marker each was sent with. */
  invoiceItems(invoice: string): Promise<{ id: string; metadata: Record<string, string> }[]> {
    return this.call(async (s) => {
      const items: { id: string; metadata: Record<string, string> }[] = [];
      for await (const item of s.invoiceItems.list({ invoice, limit: 100 })) {
        items.push({ id: item.id, metadata: (item.metadata ?? {}) as Record<string, string> });
      }
      return items;
    });
  }

  createInvoiceItem(
    params: { customer: string; invoice: string; currency: string; amount: number; description: string; line: string },
    idempotencyKey: string,
  ): Promise<{ id: string }> {
    return this.call(async (s) => {
      const item = await s.invoiceItems.create(
        {
          customer: params.customer,
          invoice: params.invoice,
          currency: params.currency,
          amount: params.amount,
          description: params.description,
          metadata: { [META_LINE]: params.line },
        },
        { idempotencyKey },
      );
      return { id: item.id };
    });
  }

  finalizeInvoice(id: string, idempotencyKey: string): Promise<StripeInvoiceView> {
    return this.call(async (s) => invoiceView(await s.invoices.finalizeInvoice(id, { auto_advance: true }, { idempotencyKey })));
  }

  retrieveInvoice(id: string): Promise<StripeInvoiceView> {
    return this.call(async (s) => invoiceView(await s.invoices.retrieve(id)));
  }

  voidInvoice(id: string, idempotencyKey: string): Promise<StripeInvoiceView> {
    return this.call(async (s) => invoiceView(await s.invoices.voidInvoice(id, {}, { idempotencyKey })));
  }

  /**
   * Verifies a webhook's `stripe-signature` over the raw body (the SDK's constructEvent, 300 s tolerance
   * measured on our clock) and returns the event; throws StripeSignatureError saying why not.
   */
  verifyEvent(rawBody: Buffer, header: string | undefined, nowMs: number): StripeEventView {
    if (this.webhookSecret === null) throw new StripeCallError('Stripe webhooks are off (no STRIPE_WEBHOOK_SECRET)', false, null, 'stripe_off');
    if (header === undefined || header === '') throw new StripeSignatureError('missing');
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(rawBody, header, this.webhookSecret, SIGNATURE_TOLERANCE_S, undefined, nowMs);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
        // The SDK checks the signature first, then the age; its message is the only thing telling them apart.
        throw new StripeSignatureError(/tolerance zone/i.test(error.message) ? 'expired' : 'invalid');
      }
      // A signed body that is not an event (not JSON): as good as a bad signature to us.
      throw new StripeSignatureError('invalid');
    }
    const object = (event.data?.object ?? null) as { id?: unknown; object?: unknown } | null;
    return {
      id: event.id,
      type: event.type,
      objectId: typeof object?.id === 'string' ? object.id : null,
      objectType: typeof object?.object === 'string' ? object.object : null,
      created: new Date(event.created * 1000),
    };
  }
}
