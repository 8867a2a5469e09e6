// Request bodies of the plan routes. Money is decimal strings, checked by the pure plan-terms.ts so an
// error names the exact field and why (`negative`, `too_many_decimals`, ...).
import { currencySchema, dateTimeSchema, decimalSchema, described, limitParam, listOf, named } from '../../src/http/openapi.js';
import { nameSchema, slugSchema } from '../../src/http/validation.js';
import { TIERS } from '../pricing/pricing.js';
import type { PlanTermsInput } from './plan-terms.js';

export const decimalString = (description: string) => ({ type: 'string', maxLength: 64, description }) as const;

export const tierCapsSchema = {
  anyOf: [{ type: 'object', description: 'Tokens per period by tier (base, specialized, premier); a tier left out is uncapped' }, { type: 'null' }],
} as const;

export const volumeDiscountSchema = {
  anyOf: [
    {
      type: 'array',
      maxItems: 50,
      items: { type: 'object' },
      description:
        'Graduated discount on period usage cost: adjacent tiers `{ "up_to": "1000", "discount_pct": "0" }`, ..., the last with `up_to: null`; optional `from` must equal the previous `up_to`',
    },
    { type: 'null' },
  ],
} as const;

const putPlanChecked = {
  type: 'object',
  additionalProperties: false,
  required: ['currency', 'base_fee', 'included_allowance', 'overage_policy'],
  properties: {
    name: nameSchema,
    currency: { type: 'string', description: 'ISO 4217 code; fixed across a plan’s versions' },
    base_fee: decimalString('Fee per billing period'),
    waive_base_fee_for_paid_enterprise: { type: 'boolean', description: 'Default true' },
    included_allowance: decimalString('Usage money included per period'),
    overage_policy: { type: 'string', enum: ['bill', 'block'] },
    topup_packs: {
      type: 'array',
      maxItems: 50,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'allowance', 'price', 'validity_days'],
        properties: {
          id: slugSchema,
          allowance: decimalString('Usage money the pack adds'),
          price: decimalString('What the pack costs'),
          validity_days: { type: 'integer', minimum: 1, maximum: 3660 },
        },
      },
    },
    tier_caps: tierCapsSchema,
    volume_discount: volumeDiscountSchema,
    ineffective_credit_pct: decimalString('Share of ineffective spend credited back, 0..100; default 0'),
    invoice_grace_minutes: { type: 'integer', minimum: 0, maximum: 10_080, description: 'How long a closed period’s invoice stays a draft; default 60' },
  },
} as const;

export const rollbackPlanSchema = named('RollbackPlan', {
  type: 'object',
  additionalProperties: false,
  required: ['version'],
  properties: { version: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } },
} as const);

export type PutPlanBody = PlanTermsInput;
export interface RollbackPlanBody {
  version: number;
}

// ---- Responses ----

const money = (description: string) => ({ ...decimalSchema, description }) as const;

export const TopupPackSchema = named('TopupPack', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'allowance', 'price', 'validity_days'],
  properties: {
    id: slugSchema,
    allowance: money('Usage money the pack adds'),
    price: money('What the pack costs'),
    validity_days: { type: 'integer', minimum: 1 },
  },
} as const);

export const VolumeTierSchema = named('VolumeTier', {
  type: 'object',
  additionalProperties: false,
  required: ['up_to', 'discount_pct'],
  properties: {
    from: money('The previous step’s up_to, when the ladder was written with explicit ranges'),
    up_to: { anyOf: [decimalSchema, { type: 'null' }], description: 'Upper bound of the step; null for the last' },
    discount_pct: money('0..100'),
  },
} as const);

export const TierCapsSchema = named('TierCaps', {
  type: 'object',
  additionalProperties: false,
  description:
    'Tokens per billing period by tier, counting the account’s events of models of that tier: an authorization of a model of a capped tier is also held against it (level `tier/…`); a tier left out is uncapped',
  properties: Object.fromEntries(TIERS.map((t) => [t, { type: 'integer', minimum: 0 }])) as Record<(typeof TIERS)[number], { type: 'integer'; minimum: 0 }>,
} as const);

const termProperties = {
  name: { anyOf: [nameSchema, { type: 'null' }] },
  currency: { type: 'string', pattern: '^[A-Z]{3}$' },
  base_fee: money('Fee per billing period'),
  waive_base_fee_for_paid_enterprise: { type: 'boolean' },
  included_allowance: money('Usage money included per period'),
  overage_policy: { type: 'string', enum: ['bill', 'block'] },
  topup_packs: { type: 'array', items: TopupPackSchema },
  tier_caps: { anyOf: [TierCapsSchema, { type: 'null' }] },
  ineffective_credit_pct: money('Share of ineffective spend credited back, 0..100'),
  invoice_grace_minutes: { type: 'integer', minimum: 0, description: 'How long a closed period’s invoice stays a draft' },
} as const;
const termsRequired = [
  'name', 'currency', 'base_fee', 'waive_base_fee_for_paid_enterprise', 'included_allowance', 'overage_policy', 'topup_packs',
  'tier_caps', 'ineffective_credit_pct',
] as const;

export const PlanTermsSchema = named('PlanTerms', {
  type: 'object',
  additionalProperties: false,
  required: termsRequired,
  properties: { ...termProperties, volume_discount: { type: 'array', items: VolumeTierSchema, description: 'Absent: no discount' } },
} as const);

export const PlanVersionSchema = named('PlanVersion', {
  type: 'object',
  additionalProperties: false,
  required: ['plan_id', 'version', ...termsRequired, 'volume_discount', 'rolled_back_from', 'created_at', 'created_by'],
  properties: {
    plan_id: slugSchema,
    version: { type: 'integer', minimum: 1 },
    ...termProperties,
    volume_discount: { anyOf: [{ type: 'array', items: VolumeTierSchema }, { type: 'null' }] },
    rolled_back_from: { type: ['integer', 'null'], description: 'Set on a version published by a rollback: the version it copies' },
    created_at: dateTimeSchema,
    created_by: { type: ['string', 'null'], description: 'The key that published it' },
  },
} as const);

export const PlanSummarySchema = named('PlanSummary', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'latest_version', 'created_at'],
  properties: { id: slugSchema, latest_version: { type: 'integer', minimum: 1 }, created_at: dateTimeSchema },
} as const);

export const PlanListSchema = named('PlanList', listOf(PlanSummarySchema));
export const PlanVersionListSchema = named('PlanVersionList', listOf(PlanVersionSchema));

export const listPlansQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { after: { ...slugSchema, description: 'The last plan id of the previous page' }, limit: limitParam() },
} as const;

// ---- Requests as documented ----
// The plan body as validatePlanTerms accepts it: `tier_caps` and the `volume_discount` steps, which the
// envelope above can only describe in words (the code checks them and names the exact bad field), as the
// response's own schemas, and money as decimal strings.
const decimalInput = (schema: { description: string }) => ({ ...schema, pattern: decimalSchema.pattern }) as const;

/** Caps and a ladder as a request sends them: the response schemas, or null to have none. */
export const tierCapsInput = { anyOf: [TierCapsSchema, { type: 'null' }], description: 'Tokens per period by tier; null: none' } as const;
export const volumeDiscountInput = {
  anyOf: [{ type: 'array', maxItems: 50, items: VolumeTierSchema }, { type: 'null' }],
  description: volumeDiscountSchema.anyOf[0].description,
} as const;

/** The request body of PUT /v1/plans/:plan (see `described`: validated as the envelope, documented whole). */
export const putPlanSchema = described('PutPlan', putPlanChecked, {
  ...putPlanChecked,
  properties: {
    ...putPlanChecked.properties,
    currency: { ...currencySchema, description: putPlanChecked.properties.currency.description },
    base_fee: decimalInput(putPlanChecked.properties.base_fee),
    included_allowance: decimalInput(putPlanChecked.properties.included_allowance),
    ineffective_credit_pct: decimalInput(putPlanChecked.properties.ineffective_credit_pct),
    topup_packs: {
      ...putPlanChecked.properties.topup_packs,
      items: {
        ...putPlanChecked.properties.topup_packs.items,
        properties: {
          ...putPlanChecked.properties.topup_packs.items.properties,
          allowance: decimalInput(putPlanChecked.properties.topup_packs.items.properties.allowance),
          price: decimalInput(putPlanChecked.properties.topup_packs.items.properties.price),
        },
      },
    },
    tier_caps: tierCapsInput,
    volume_discount: volumeDiscountInput,
  },
});
