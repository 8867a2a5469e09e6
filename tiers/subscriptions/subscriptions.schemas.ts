// Request body of PUT /v1/accounts/:account/subscription.
import { slugSchema } from '../../src/http/validation.js';
import { decimalString, tierCapsSchema, volumeDiscountSchema } from '../plans/plans.schemas.js';

export const putSubscriptionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['plan_id'],
  properties: {
    plan_id: slugSchema,
    plan_version: {
      anyOf: [{ type: 'integer', minimum: 1, maximum: 2_147_483_647 }, { type: 'string', enum: ['latest'] }],
      description: 'A version number to pin, or "latest" (the default) to follow every new version',
    },
    start_date: { type: 'string', format: 'date', description: 'YYYY-MM-DD; default today' },
    billing_anchor_day: { type: 'integer', minimum: 1, maximum: 28, description: 'Default: the start day, at most 28' },
    overrides: {
      type: 'object',
      additionalProperties: false,
      description: 'Per-account terms replacing the plan’s own (null removes caps or discount); audited',
      properties: {
        included_allowance: decimalString('Usage money included per period, instead of the plan’s'),
        tier_caps: tierCapsSchema,
        volume_discount: volumeDiscountSchema,
      },
    },
  },
} as const;

export interface PutSubscriptionBody {
  plan_id: string;
  plan_version?: number | 'latest';
  start_date?: string;
  billing_anchor_day?: number;
  overrides?: {
    included_allowance?: string;
    tier_caps?: Record<string, number> | null;
    volume_discount?: unknown[] | null;
  };
}
