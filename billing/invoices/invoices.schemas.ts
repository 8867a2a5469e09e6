// Request and response bodies of the invoice routes, as JSON schemas: requests are validated with them,
// both feed the OpenAPI document by name, and the types come from them.
import { dateTimeSchema, decimalSchema, limitParam, named, type Body } from '../../src/http/openapi.js';
import type { JsonSchema } from '../../src/http/validation.js';

const time = dateTimeSchema;
const nullable = <const S extends JsonSchema>(schema: S) => ({ anyOf: [schema, { type: 'null' }] }) as const;
const money = { ...decimalSchema, description: 'Decimal string in currency units, rounded once, half-even, to the minor unit' } as const;

export const closeInvoicesSchema = named('CloseInvoices', {
  type: 'object',
  additionalProperties: false,
  properties: {
    finalize: { type: 'boolean', description: 'Finalize at once instead of after the grace period (default false)' },
  },
} as const satisfies JsonSchema);

export const voidInvoiceSchema = named('VoidInvoice', {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } },
} as const satisfies JsonSchema);

export const invoiceQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { format: { type: 'string', enum: ['json', 'csv', 'html'], description: 'Or ask with `Accept: text/csv` / `text/html`' } },
} as const satisfies JsonSchema;

export const listInvoicesQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    before: { type: 'string', format: 'date-time', description: 'Invoices of periods starting before this (the previous page\'s `next_before`)' },
    limit: limitParam(100, 24),
  },
} as const satisfies JsonSchema;

export type CloseInvoicesBody = Body<typeof closeInvoicesSchema>;
export type VoidInvoiceBody = Body<typeof voidInvoiceSchema>;

const usageSchema = named('InvoiceUsage', {
  type: 'object',
  additionalProperties: false,
  required: ['period_start', 'tier', 'model', 'label', 'calls', 'tokens', 'cost'],
  properties: {
    period_start: { ...time, description: 'The period the usage happened in (an earlier one for an adjustment)' },
    tier: { type: 'string', description: 'Empty for zero-token calls and unpriced models' },
    model: { type: 'string' },
    label: { type: 'string', enum: ['effective', 'ineffective', 'pending', 'unclassified'] },
    calls: { type: 'integer' },
    tokens: { type: 'integer' },
    cost: { ...decimalSchema, description: 'Exact' },
  },
} as const satisfies JsonSchema);

const lineUsageSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['tier', 'model', 'label', 'calls', 'tokens', 'cost'],
  properties: {
    tier: { type: 'string' },
    model: { type: 'string' },
    label: { type: 'string' },
    calls: { type: 'integer' },
    tokens: { type: 'integer' },
    cost: decimalSchema,
  },
} as const;

const lineSchema = named('InvoiceLine', {
  type: 'object',
  additionalProperties: false,
  required: ['n', 'kind', 'charge', 'tier', 'period_start', 'description', 'amount', 'detail', 'usage'],
  properties: {
    n: { type: 'integer', minimum: 0, description: "The line's position on the invoice, from 0" },
    kind: { type: 'string', enum: ['base_fee', 'allowance_used', 'overage', 'topup', 'volume_discount', 'credits_applied', 'ineffective_credit', 'adjustment'] },
    charge: { ...nullable({ type: 'string' }), description: 'The usage-dependent charge billed or adjusted: allowance_used, overage:<tier>, volume_discount, credits_applied, ineffective_credit' },
    tier: nullable({ type: 'string' }),
    period_start: { ...time, description: 'The period this amount belongs to' },
    description: { type: 'string' },
    amount: money,
    detail: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] }, description: 'Exact figures behind the amount' },
    usage: { type: 'array', items: lineUsageSchema, description: 'The usage this line covers, by tier, model and label' },
  },
} as const satisfies JsonSchema);

const summaryProperties = {
  id: { type: 'string', example: 'inv_5f0c8a3e9b1d4c7a2e6f8b01' },
  account: { type: 'string' },
  number: { type: 'string', example: 'acme-20260301' },
  status: { type: 'string', enum: ['draft', 'finalized', 'paid', 'void'] },
  currency: { type: 'string' },
  period_start: time,
  period_end: { ...time, description: 'Exclusive' },
  plan_id: { type: 'string' },
  plan_version: { type: 'integer' },
  total: { ...money, description: 'The sum of the lines' },
  created_at: time,
  grace_until: { ...time, description: 'A draft is finalized then' },
  finalized_at: nullable(time),
  paid_at: nullable(time),
  amount_paid: nullable({ ...money, description: 'What was paid, in the invoice’s currency (the total when marked paid by hand; what Stripe collected)' }),
  voided_at: nullable(time),
  void_reason: nullable({ type: 'string' }),
} as const;
const summaryRequired = Object.keys(summaryProperties) as (keyof typeof summaryProperties)[];

export const invoiceSummarySchema = named('InvoiceSummary', {
  type: 'object',
  additionalProperties: false,
  required: summaryRequired,
  properties: summaryProperties,
} as const satisfies JsonSchema);

const stripeSchema = named('InvoiceStripeSync', {
  type: 'object',
  additionalProperties: false,
  required: ['state', 'stripe_id', 'stripe_status', 'attempts', 'next_attempt_at', 'last_error'],
  properties: {
    state: { type: 'string', enum: ['pending', 'synced', 'failed', 'skipped'] },
    stripe_id: nullable({ type: 'string' }),
    stripe_status: nullable({ type: 'string' }),
    attempts: { type: 'integer' },
    next_attempt_at: nullable(time),
    last_error: nullable({ type: 'string' }),
  },
} as const satisfies JsonSchema);

export const invoiceSchema = named('Invoice', {
  type: 'object',
  additionalProperties: false,
  required: [...summaryRequired, 'lines', 'usage', 'stripe'],
  properties: {
    ...summaryProperties,
    lines: { type: 'array', items: lineSchema },
    usage: { type: 'array', items: usageSchema, description: 'All usage this invoice bills, by period, tier, model and label' },
    stripe: { ...nullable(stripeSchema), description: 'The Stripe mirror of a finalized invoice' },
  },
} as const satisfies JsonSchema);

export const invoiceListSchema = named('InvoiceList', {
  type: 'object',
  additionalProperties: false,
  required: ['data', 'next_before'],
  properties: {
    data: { type: 'array', items: invoiceSummarySchema },
    next_before: { ...nullable(time), description: 'Pass as `before` for the next page; null on the last' },
  },
} as const satisfies JsonSchema);

export const invoicePreviewSchema = named('InvoicePreview', {
  type: 'object',
  additionalProperties: false,
  required: ['account', 'currency', 'period_start', 'period_end', 'as_of', 'lines', 'usage', 'total'],
  properties: {
    account: { type: 'string' },
    currency: { type: 'string' },
    period_start: time,
    period_end: time,
    as_of: time,
    lines: { type: 'array', items: lineSchema },
    usage: { type: 'array', items: usageSchema },
    total: money,
  },
} as const satisfies JsonSchema);

export const InvoiceCsvSchema = { type: 'string', description: 'CSV: one row per line, then the usage billed, then the total' } as const;
export const InvoiceHtmlSchema = { type: 'string', description: 'A printable HTML page' } as const;
