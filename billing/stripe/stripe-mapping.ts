// Our objects as Stripe's, and Stripe's back as what we act on: pure functions (no Nest, no I/O, no
// SDK), so the whole mapping is tested without a network. The sync service sends what these return;
// the webhook service decides with them what a Stripe invoice's current state means for ours.
import { createHash } from 'node:crypto';
import { Dec, parseDecimal, roundMoney } from '../../tiers/pricing/decimal.js';
import { chargeRounding, fromStripeAmount, StripeAmountError, toStripeAmount } from './stripe-amounts.js';

export type CollectionMethod = 'send_invoice' | 'charge_automatically';
export type SyncKind = 'customer' | 'invoice' | 'topup';

/** A finalized invoice as billing/invoices hands it over: its lines already rounded once, half-even. */
export interface InvoiceForStripe {
  /** Our invoice id. */
  id: string;
  accountId: string;
  /** ISO 4217, e.g. "EUR". */
  currency: string;
  /** The invoice's number as people see it, if it has one; shown in Stripe's description. */
  number?: string | null;
  periodStart?: Date | null;
  periodEnd?: Date | null;
  /** In order; amounts are decimal strings in currency units, negative for credits. */
  lines: readonly { description: string; amount: string }[];
  /** The sum of the lines (checked). */
  total: string;
  /** Overrides the configured collection method for this invoice (an enterprise account paying by transfer). */
  collectionMethod?: CollectionMethod;
}

/** A top-up pack sold through a Stripe invoice: its credit is granted when Stripe says it is paid. */
export interface TopupForStripe {
  accountId: string;
  /** The top-up's id (the client's purchase id, unique per account). */
  topupId: string;
  packId: string;
  /** What the pack costs, in currency units. */
  price: string;
  currency: string;
  /** What the customer reads on the invoice line, e.g. "Top-up pack large: 500.00 EUR of usage". */
  description: string;
  collectionMethod?: CollectionMethod;
}

export interface PlanOptions {
  collectionMethod: CollectionMethod;
  daysUntilDue: number;
}

/** One invoice item as sent. `line` is its index among our lines (or "rounding"): how a resumed sync finds what it already sent. */
export interface ItemPlan {
  line: string;
  description: string;
  amount: number;
}

/**
 * A Stripe invoice to make, fully mapped: stored with the sync record when the object is queued, so
 * every attempt sends the same thing. Amounts are Stripe integers; `currency` is lower-case as Stripe wants.
 */
export interface InvoicePlan {
  currency: string;
  description: string;
  collection_method: CollectionMethod;
  days_until_due: number | null;
  metadata: Record<string, string>;
  items: ItemPlan[];
  /** What Stripe will charge: the sum of the items. */
  total: number;
}

export class StripeMappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StripeMappingError';
  }
}

// Metadata on every object we create in Stripe: how an event about it finds our object again.
export const META_KIND = 'tokenmeter_kind';
export const META_ACCOUNT = 'tokenmeter_account';
export const META_ID = 'tokenmeter_id';
export const META_LINE = 'tokenmeter_line';
export const ROUNDING_LINE = 'rounding';

/** Stripe keeps descriptions to 500 characters. */
const DESCRIPTION_MAX = 500;

function clip(text: string): string {
  return text.length <= DESCRIPTION_MAX ? text : `${text.slice(0, DESCRIPTION_MAX - 1)}…`;
}

export function objectMetadata(kind: SyncKind, accountId: string, localId: string): Record<string, string> {
  return { [META_KIND]: kind, [META_ACCOUNT]: accountId, [META_ID]: localId };
}

/** Our object behind a Stripe object, from the metadata we put on it; null when it is not one of ours. */
export function localRefOf(metadata: Readonly<Record<string, string>> | null | undefined): { kind: SyncKind; accountId: string; localId: string } | null {
  const kind = metadata?.[META_KIND];
  const accountId = metadata?.[META_ACCOUNT];
  const localId = metadata?.[META_ID];
  if ((kind !== 'invoice' && kind !== 'topup' && kind !== 'customer') || !accountId || !localId) return null;
  return { kind, accountId, localId };
}

const READABLE = /^[A-Za-z0-9_.-]+$/;
const KEY_MAX = 255;

/**
 * The idempotency key of one call about one of our objects, derived from our ids alone: a retry (after
 * a timeout, a crash, a lost answer) sends the same key, and Stripe answers with what the first call made.
 * Readable when the ids allow; else the ids' SHA-256, so the key stays within Stripe's 255 characters.
 */
export function idempotencyKey(kind: SyncKind, accountId: string, localId: string, step: string): string {
  const readable = `tokenmeter:${kind}:${accountId}:${localId}:${step}`;
  if (READABLE.test(accountId) && READABLE.test(localId) && READABLE.test(step) && readable.length <= KEY_MAX) return readable;
  const digest = createHash('sha256').update(JSON.stringify([accountId, localId, step])).digest('hex');
  return `tokenmeter:${kind}:sha256:${digest}`;
}

export function customerParams(account: { id: string; name: string }): { name: string; metadata: Record<string, string> } {
  return { name: clip(account.name), metadata: objectMetadata('customer', account.id, account.id) };
}

function units(amount: string, currency: string, what: string): number {
  try {
    return toStripeAmount(amount, currency);
  } catch (error) {
    if (error instanceof StripeAmountError) throw new StripeMappingError(`${what}: ${error.message}`);
    throw error;
  }
}

function plan(
  kind: 'invoice' | 'topup',
  accountId: string,
  localId: string,
  currency: string,
  description: string,
  items: ItemPlan[],
  method: CollectionMethod,
  options: PlanOptions,
): InvoicePlan {
  const subtotal = items.reduce((sum, item) => sum + item.amount, 0);
  // Stripe charges three-decimal currencies in tens of the minor unit and ISK in whole krónur: a total
  // that is not one gets one more line, at most half a step, saying so. Our invoice is unchanged.
  const rounding = chargeRounding(subtotal, currency);
  const all = rounding === 0
    ? items
    : [...items, { line: ROUNDING_LINE, description: `Rounding to an amount Stripe can charge in ${currency.toUpperCase()}`, amount: rounding }];
  return {
    currency: currency.toLowerCase(),
    description: clip(description),
    collection_method: method,
    days_until_due: method === 'send_invoice' ? options.daysUntilDue : null,
    metadata: objectMetadata(kind, accountId, localId),
    items: all,
    total: subtotal + rounding,
  };
}

/**
 * A finalized invoice as a Stripe invoice: one item per line, amounts rescaled exactly to Stripe's units.
 * Refuses (StripeMappingError) lines that do not add up to the total, or an amount Stripe cannot carry.
 */
export function planInvoice(invoice: InvoiceForStripe, options: PlanOptions): InvoicePlan {
  const sum = invoice.lines.reduce((s, line) => s.plus(parseAmount(line.amount)), new Dec(0));
  if (!sum.eq(parseAmount(invoice.total))) {
    throw new StripeMappingError(`invoice ${invoice.id}: its lines add up to ${sum.toFixed()}, not its total ${invoice.total}`);
  }
  const items = invoice.lines.map((line, i) => ({
    line: String(i),
    description: clip(line.description),
    amount: units(line.amount, invoice.currency, `invoice ${invoice.id} line ${i}`),
  }));
  const period = invoice.periodStart && invoice.periodEnd
    ? ` for ${invoice.periodStart.toISOString().slice(0, 10)} to ${invoice.periodEnd.toISOString().slice(0, 10)}`
    : '';
  const description = `Invoice ${invoice.number ?? invoice.id}${period}`;
  return plan('invoice', invoice.accountId, invoice.id, invoice.currency, description, items, invoice.collectionMethod ?? options.collectionMethod, options);
}

/** A top-up pack as a Stripe invoice of one item, its price. */
export function planTopup(topup: TopupForStripe, options: PlanOptions): InvoicePlan {
  // A price is configured with up to 12 places; what is charged is rounded once, half-even, here.
  const price = roundMoney(parseAmount(topup.price), topup.currency.toUpperCase()).toFixed();
  const amount = units(price, topup.currency, `top-up ${topup.topupId}`);
  const items = [{ line: '0', description: clip(topup.description), amount }];
  return plan('topup', topup.accountId, topup.topupId, topup.currency, `Top-up ${topup.topupId} (pack ${topup.packId})`, items, topup.collectionMethod ?? options.collectionMethod, options);
}

function parseAmount(amount: string): Dec {
  try {
    return parseDecimal(amount, 'amount', { allowNegative: true, maxDecimalPlaces: 64 });
  } catch {
    throw new StripeMappingError(`"${amount}" is not a decimal amount`);
  }
}

/** The items of a plan not yet on the Stripe invoice, by our line marker: what a resumed sync still sends. */
export function missingItems(plan: InvoicePlan, sent: readonly { metadata: Readonly<Record<string, string>> | null }[]): ItemPlan[] {
  const have = new Set(sent.map((item) => item.metadata?.[META_LINE]).filter((line): line is string => line !== undefined));
  return plan.items.filter((item) => !have.has(item.line));
}

// ---- Stripe's state back to ours -------------------------------------------------------------------

export type StripeInvoiceStatus = 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';

/** What we read of a Stripe invoice (the wrapper narrows the SDK's type to this). */
export interface StripeInvoiceView {
  id: string;
  status: StripeInvoiceStatus | null;
  customer: string | null;
  metadata: Record<string, string>;
  currency: string;
  amountDue: number;
  amountPaid: number;
  attemptCount: number;
  /** When Stripe says it was paid (status_transitions.paid_at). */
  paidAt: Date | null;
  voidedAt: Date | null;
  hostedInvoiceUrl: string | null;
}

export type InvoiceEffect = 'paid' | 'voided' | 'payment_failed' | 'uncollectible' | 'none';

/**
 * What an invoice event means for our object, from the invoice's *current* state (refetched), not the
 * event's snapshot: events arrive out of order (`invoice.paid` before `invoice.finalized`), and a late
 * `invoice.finalized` or `invoice.payment_failed` about an invoice paid since must not undo the payment.
 * Only a payment failure needs the event itself: the invoice just stays open.
 */
export function invoiceEffect(eventType: string, current: Pick<StripeInvoiceView, 'status'>): InvoiceEffect {
  switch (current.status) {
    case 'paid':
      return 'paid';
    case 'void':
      return 'voided';
    case 'uncollectible':
      return 'uncollectible';
    case 'open':
      return eventType === 'invoice.payment_failed' ? 'payment_failed' : 'none';
    default:
      return 'none';
  }
}

/** The event types the webhook acts on; any other is acknowledged and ignored. */
export const HANDLED_EVENT_TYPES = [
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_succeeded',
  'invoice.payment_failed',
  'invoice.voided',
  'invoice.marked_uncollectible',
] as const;

export function isHandledEvent(type: string): boolean {
  return (HANDLED_EVENT_TYPES as readonly string[]).includes(type);
}

/** Stripe's paid amount in our currency units, for the handlers. */
export function paidAmount(invoice: Pick<StripeInvoiceView, 'amountPaid' | 'currency'>): string {
  return fromStripeAmount(invoice.amountPaid, invoice.currency);
}
