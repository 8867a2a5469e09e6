// Request bodies of the plan routes. Money is decimal strings, checked by the pure plan-terms.ts so an
// error names the exact field and why (`negative`, `too_many_decimals`, ...).
import { nameSchema, slugSchema } from '../../src/http/validation.js';
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

export const putPlanSchema = {
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
  },
} as const;

export const rollbackPlanSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version'],
  properties: { version: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } },
} as const;

export type PutPlanBody = PlanTermsInput;
export interface RollbackPlanBody {
  version: number;
}
