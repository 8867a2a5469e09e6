// Request and response bodies of the credit routes, as JSON schemas: requests are validated with them,
// and both feed the OpenAPI document by name.
import { dateTimeSchema, decimalSchema, described, limitParam, named } from '../../src/http/openapi.js';
import { slugSchema, type JsonSchema } from '../../src/http/validation.js';

const decimal = { type: 'string', minLength: 1, maxLength: 64, description: 'A decimal string, e.g. "12.50"' } as const;
const nullable = <const S extends JsonSchema>(schema: S) => ({ anyOf: [schema, { type: 'null' }] }) as const;

const promotionalGrantChecked = {
  type: 'object',
  additionalProperties: false,
  required: ['amount'],
  description:
    'A promotional grant: `amount` of usage money, burned after the period allowance in `priority` order (default 10; ' +
    '0 is the allowance’s own), expiring at `expires_at` (the start of a UTC day: credits pay for usage by UTC day) or ' +
    'after `validity_days` (at the end of the UTC day they run out in; neither: never).',
  properties: {
    amount: decimal,
    priority: { type: 'integer', minimum: 1, maximum: 1000 },
    expires_at: dateTimeSchema,
    validity_days: { type: 'integer', minimum: 1, maximum: 3650 },
    reason: { type: 'string', minLength: 1, maxLength: 500 },
  },
} as const satisfies JsonSchema;

/**
 * The request body of POST .../credits/grants (see `described`): the amount as a positive decimal string and
 * the expiry as one of `expires_at` or `validity_days` (or neither), which the envelope leaves to the ledger.
 */
const grantBase = {
  ...promotionalGrantChecked,
  properties: { ...promotionalGrantChecked.properties, amount: { ...decimal, pattern: '^[0-9]+(\\.[0-9]+)?$' } },
} as const;
const { expires_at: _expiresAt, validity_days: _validityDays, ...withoutExpiry } = grantBase.properties;
export const promotionalGrantSchema = described('CreditGrantCreate', promotionalGrantChecked, {
  description: promotionalGrantChecked.description,
  oneOf: [
    { ...grantBase, title: 'CreditGrantExpiresAt', required: ['amount', 'expires_at'], properties: { ...withoutExpiry, expires_at: grantBase.properties.expires_at } },
    { ...grantBase, title: 'CreditGrantValidFor', required: ['amount', 'validity_days'], properties: { ...withoutExpiry, validity_days: grantBase.properties.validity_days } },
    { ...grantBase, title: 'CreditGrantNoExpiry', required: ['amount'], properties: withoutExpiry },
  ],
});

export const topupSchema = named('CreditTopupCreate', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'pack'],
  description: 'Buy a top-up pack of the account’s plan. `id` is the purchase id, unique per account: sending it again returns the same purchase.',
  properties: {
    id: { ...slugSchema, description: 'The purchase id (your idempotency key)' },
    pack: { ...slugSchema, description: 'A pack id of the plan’s `topup_packs`' },
  },
} as const satisfies JsonSchema);

export const creditsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: limitParam(500, 50),
    before: { type: 'string', pattern: '^[0-9]{1,18}$', description: 'Entries older than this movement id (`next_before` of the previous page)' },
  },
} as const;

// ---- Responses ----

export const CreditGrantSchema = named('CreditGrant', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'kind', 'amount', 'remaining', 'priority', 'granted_at', 'expires_at', 'expired_at', 'invoice_id', 'topup_id', 'reason'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: ['allowance', 'topup', 'promotional', 'ineffective_credit', 'adjustment'] },
    amount: decimalSchema,
    remaining: { ...decimalSchema, description: 'The sum of the grant’s entries' },
    priority: { type: 'integer', minimum: 0, description: 'Lower burns first; the period allowance is 0' },
    granted_at: dateTimeSchema,
    expires_at: nullable(dateTimeSchema),
    expired_at: nullable(dateTimeSchema),
    invoice_id: { type: ['string', 'null'] },
    topup_id: { type: ['string', 'null'] },
    reason: { type: ['string', 'null'] },
  },
} as const satisfies JsonSchema);

export const CreditMovementSchema = named('CreditMovement', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'kind', 'grant_id', 'amount', 'at', 'usage_day', 'invoice_id', 'memo', 'entries'],
  properties: {
    id: { type: 'string' },
    kind: {
      type: 'string',
      enum: ['grant', 'burn', 'expiry', 'adjustment', 'restore', 'apply', 'unapply'],
      description: 'apply: credit paid out as an invoice line (ineffective-spend credit), issued and applied at once; unapply: undone when that invoice is voided',
    },
    grant_id: { type: 'string' },
    amount: decimalSchema,
    at: dateTimeSchema,
    usage_day: { type: ['string', 'null'], description: 'Burns: the UTC day whose usage it books' },
    invoice_id: { type: ['string', 'null'] },
    memo: { type: ['string', 'null'] },
    entries: {
      type: 'array',
      minItems: 2,
      maxItems: 2,
      description: 'Two entries that sum to zero',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ledger_account', 'amount'],
        properties: { ledger_account: { type: 'string' }, amount: decimalSchema },
      },
    },
  },
} as const satisfies JsonSchema);

export const CreditsSchema = named('Credits', {
  type: 'object',
  additionalProperties: false,
  required: ['account', 'currency', 'overage_policy', 'balance', 'pending_allowance', 'unbooked_usage', 'available', 'ledger', 'grants', 'entries', 'next_before'],
  properties: {
    account: { type: 'string' },
    currency: { type: 'string' },
    overage_policy: { anyOf: [{ type: 'string', enum: ['bill', 'block'] }, { type: 'null' }], description: 'Null without a subscription' },
    balance: { ...decimalSchema, description: 'What the grants that have not expired hold: the sum of their entries' },
    pending_allowance: {
      anyOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['amount', 'period_start', 'period_end'],
          properties: { amount: decimalSchema, period_start: dateTimeSchema, period_end: dateTimeSchema },
        },
        { type: 'null' },
      ],
      description:
        "The current billing period's included allowance while the settle job (every minute) has not granted it yet, else null (also when it is nothing, unless it replaces another period's allowance still in force: the billing anchor moved). It counts in `available` from the moment the account subscribes, and replaces the other's (what the other paid for this period's days counts as paid by it); granting it changes no figure",
    },
    unbooked_usage: { ...decimalSchema, description: 'Usage metered since the ledger last booked it (booked every minute)' },
    available: {
      ...decimalSchema,
      description: 'What grants in force now hold, plus a pending allowance, less unbooked usage: what a `block` plan lets authorizations hold',
    },
    ledger: {
      type: 'array',
      description: 'The balance of every ledger account of the account; they sum to zero',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ledger_account', 'amount'],
        properties: { ledger_account: { type: 'string' }, amount: decimalSchema },
      },
    },
    grants: { type: 'array', items: CreditGrantSchema, description: 'Grants that have not expired, in burn order' },
    entries: { type: 'array', items: CreditMovementSchema, description: 'Movements, newest first, each with its two entries' },
    next_before: { type: ['string', 'null'], description: 'Pass as `before` for the next page; null on the last' },
  },
} as const satisfies JsonSchema);

export const CreditTopupSchema = named('CreditTopup', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'pack', 'allowance', 'price', 'currency', 'validity_days', 'status', 'grant', 'bought_at', 'payment'],
  properties: {
    id: { type: 'string' },
    pack: { type: 'string' },
    allowance: { ...decimalSchema, description: 'Usage money the pack grants' },
    price: decimalSchema,
    currency: { type: 'string' },
    validity_days: { type: 'integer', minimum: 1 },
    status: { type: 'string', enum: ['pending', 'granted'], description: '`pending` until Stripe says the top-up invoice is paid' },
    grant: nullable(CreditGrantSchema),
    bought_at: dateTimeSchema,
    payment: {
      anyOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['state', 'stripe_id', 'stripe_status'],
          properties: {
            state: { type: 'string', enum: ['pending', 'synced', 'failed', 'skipped'] },
            stripe_id: { type: ['string', 'null'] },
            stripe_status: { type: ['string', 'null'] },
          },
        },
        { type: 'null' },
      ],
      description: 'The Stripe invoice that sells it; null with Stripe off (granted at once)',
    },
  },
} as const satisfies JsonSchema);
