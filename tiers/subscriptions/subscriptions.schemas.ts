// Request and response bodies of the subscription routes, as JSON schemas (validation, OpenAPI and types alike).
import { dateTimeSchema, decimalSchema, described, named } from '../../src/http/openapi.js';
import { slugSchema } from '../../src/http/validation.js';
import {
  decimalString,
  PlanTermsSchema,
  PlanVersionSchema,
  TierCapsSchema,
  tierCapsInput,
  tierCapsSchema,
  VolumeTierSchema,
  volumeDiscountInput,
  volumeDiscountSchema,
} from '../plans/plans.schemas.js';

const putSubscriptionChecked = {
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

/** The request body of PUT .../subscription (see `described`): the overrides' caps and ladder as schemas. */
export const putSubscriptionSchema = described('PutSubscription', putSubscriptionChecked, {
  ...putSubscriptionChecked,
  properties: {
    ...putSubscriptionChecked.properties,
    overrides: {
      ...putSubscriptionChecked.properties.overrides,
      properties: {
        included_allowance: { ...putSubscriptionChecked.properties.overrides.properties.included_allowance, pattern: decimalSchema.pattern },
        tier_caps: tierCapsInput,
        volume_discount: volumeDiscountInput,
      },
    },
  },
});

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

export const SubscriptionOverridesSchema = named('SubscriptionOverrides', {
  type: 'object',
  additionalProperties: false,
  description: 'Per-account terms replacing the plan’s own; a key left out keeps the plan’s value, null removes it',
  properties: {
    included_allowance: decimalSchema,
    tier_caps: { anyOf: [TierCapsSchema, { type: 'null' }] },
    volume_discount: { anyOf: [{ type: 'array', items: VolumeTierSchema }, { type: 'null' }] },
  },
} as const);

export const SubscriptionSchema = named('Subscription', {
  type: 'object',
  additionalProperties: false,
  required: [
    'account_id', 'plan_id', 'plan_version', 'follows_latest', 'start_date', 'billing_anchor_day', 'overrides', 'ends_at', 'created_at',
    'updated_at', 'plan', 'effective_terms',
  ],
  properties: {
    account_id: slugSchema,
    plan_id: slugSchema,
    plan_version: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', enum: ['latest'] }], description: 'The pinned version, or "latest"' },
    follows_latest: { type: 'boolean' },
    start_date: { type: 'string', format: 'date' },
    billing_anchor_day: { type: 'integer', minimum: 1, maximum: 28 },
    overrides: SubscriptionOverridesSchema,
    ends_at: {
      anyOf: [dateTimeSchema, { type: 'null' }],
      description: 'When the subscription ends: the end of the billing period it was cancelled in (no later period is billed); null while it runs',
    },
    created_at: dateTimeSchema,
    updated_at: dateTimeSchema,
    plan: { ...PlanVersionSchema, description: 'The plan version billed now: the pinned one, or the latest' },
    effective_terms: { ...PlanTermsSchema, description: 'That version’s terms with the account’s overrides applied' },
  },
} as const);
