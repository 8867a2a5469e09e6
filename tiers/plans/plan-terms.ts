// Owns the checking of plan terms and per-account overrides, and applying overrides to a plan version:
// pure functions over decimal strings (no Nest, no I/O), so the rules are tested without a database.
import { minorUnits, parseDecimal } from '../pricing/decimal.js';
import type { OveragePolicy, PlanTerms, VolumeTier } from '../pricing/period-pricing.js';
import { validateVolumeTiers } from '../pricing/period-pricing.js';
import { PricingInputError } from '../pricing/pricing-input-error.js';
import { isCurrency, notACurrency } from '../../src/money/currency.js';
import { isTier, TIERS, type Tier } from '../pricing/pricing.js';

export interface TopupPack {
  /** Slug, unique in the plan: what a top-up purchase names. */
  readonly id: string;
  /** Usage money the pack adds to the account's credits. */
  readonly allowance: string;
  readonly price: string;
  readonly validity_days: number;
}

/** Tokens per period, per tier; a tier left out is uncapped. */
export type TierCaps = Readonly<Partial<Record<Tier, number>>>;

export interface PlanVersionTerms extends PlanTerms {
  readonly name: string | null;
  readonly overage_policy: OveragePolicy;
  readonly topup_packs: readonly TopupPack[];
  readonly tier_caps: TierCaps | null;
  readonly volume_discount?: readonly VolumeTier[];
  readonly ineffective_credit_pct: string;
  /** How long the invoice of a closed period stays a draft before it is final (default 60). */
  readonly invoice_grace_minutes?: number;
}

export const DEFAULT_INVOICE_GRACE_MINUTES = 60;
/** A week: a draft longer than that is an invoice nobody sends. */
export const MAX_INVOICE_GRACE_MINUTES = 10_080;

export interface PlanTermsInput {
  name?: string;
  currency: string;
  base_fee: string;
  waive_base_fee_for_paid_enterprise?: boolean;
  included_allowance: string;
  overage_policy: OveragePolicy;
  topup_packs?: { id: string; allowance: string; price: string; validity_days: number }[];
  tier_caps?: Record<string, number> | null;
  volume_discount?: unknown[] | null;
  ineffective_credit_pct?: string;
  invoice_grace_minutes?: number;
}

/** What sales may set per account, each replacing the plan's own value. */
export interface SubscriptionOverrides {
  readonly included_allowance?: string;
  readonly tier_caps?: TierCaps | null;
  readonly volume_discount?: readonly VolumeTier[] | null;
}

function checkPct(raw: unknown, field: string): string {
  const pct = parseDecimal(raw, field);
  if (pct.gt(100)) throw new PricingInputError('PCT_OUT_OF_RANGE', field, `${field} must be between 0 and 100`);
  return raw as string;
}

function checkGrace(raw: unknown): number {
  if (raw === undefined) return DEFAULT_INVOICE_GRACE_MINUTES;
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0 || raw > MAX_INVOICE_GRACE_MINUTES) {
    throw new PricingInputError('INVALID_USAGE', 'invoice_grace_minutes', `invoice_grace_minutes must be a whole number of minutes, 0 to ${MAX_INVOICE_GRACE_MINUTES}`);
  }
  return raw;
}

export function validateTierCaps(raw: unknown, field = 'tier_caps'): TierCaps | null {
  if (raw === null || raw === undefined) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new PricingInputError('NOT_AN_OBJECT', field, `${field} must be an object`);
  const out: Partial<Record<Tier, number>> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!isTier(k)) throw new PricingInputError('UNKNOWN_TIER', `${field}.${k}`, `unknown tier "${k}"; tiers are ${TIERS.join(', ')}`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new PricingInputError('INVALID_USAGE', `${field}.${k}`, `${field}.${k} must be a whole number of tokens`);
    }
    out[k] = v;
  }
  return out;
}

/** Checks a plan body and returns its terms with defaults filled in; throws PricingInputError naming the field. */
export function validatePlanTerms(input: PlanTermsInput): PlanVersionTerms {
  if (!isCurrency(input.currency)) {
    throw new PricingInputError('INVALID_CURRENCY', 'currency', notACurrency('currency', input.currency));
  }
  minorUnits(input.currency, 'currency');
  parseDecimal(input.base_fee, 'base_fee');
  parseDecimal(input.included_allowance, 'included_allowance');
  if (input.overage_policy !== 'bill' && input.overage_policy !== 'block') {
    throw new PricingInputError('INVALID_POLICY', 'overage_policy', 'overage_policy must be "bill" or "block"');
  }
  const packs = (input.topup_packs ?? []).map((p, i) => {
    parseDecimal(p.allowance, `topup_packs[${i}].allowance`);
    parseDecimal(p.price, `topup_packs[${i}].price`);
    if (!Number.isSafeInteger(p.validity_days) || p.validity_days < 1) {
      throw new PricingInputError('INVALID_USAGE', `topup_packs[${i}].validity_days`, 'validity_days must be a whole number of days, at least 1');
    }
    return { id: p.id, allowance: p.allowance, price: p.price, validity_days: p.validity_days };
  });
  const terms: PlanVersionTerms = {
    name: input.name ?? null,
    currency: input.currency,
    base_fee: input.base_fee,
    waive_base_fee_for_paid_enterprise: input.waive_base_fee_for_paid_enterprise ?? true,
    included_allowance: input.included_allowance,
    overage_policy: input.overage_policy,
    topup_packs: packs,
    tier_caps: validateTierCaps(input.tier_caps),
    ineffective_credit_pct: checkPct(input.ineffective_credit_pct ?? '0', 'ineffective_credit_pct'),
    invoice_grace_minutes: checkGrace(input.invoice_grace_minutes),
    ...(input.volume_discount === undefined || input.volume_discount === null
      ? {}
      : { volume_discount: validateVolumeTiers(input.volume_discount, 'volume_discount') }),
  };
  return terms;
}

/** Returns the id of the first top-up pack whose id repeats, or null. */
export function duplicatePackId(packs: readonly { id: string }[]): string | null {
  const seen = new Set<string>();
  for (const p of packs) {
    if (seen.has(p.id)) return p.id;
    seen.add(p.id);
  }
  return null;
}

export function validateOverrides(raw: {
  included_allowance?: string;
  tier_caps?: Record<string, number> | null;
  volume_discount?: unknown[] | null;
}): SubscriptionOverrides {
  const out: { -readonly [K in keyof SubscriptionOverrides]: SubscriptionOverrides[K] } = {};
  if (raw.included_allowance !== undefined) {
    parseDecimal(raw.included_allowance, 'overrides.included_allowance');
    out.included_allowance = raw.included_allowance;
  }
  if (raw.tier_caps !== undefined) out.tier_caps = validateTierCaps(raw.tier_caps, 'overrides.tier_caps');
  if (raw.volume_discount !== undefined) {
    out.volume_discount = raw.volume_discount === null ? null : validateVolumeTiers(raw.volume_discount, 'overrides.volume_discount');
  }
  return out;
}

/**
 * The terms an account is billed on: the plan version's, with each override replacing the plan's value
 * wholesale (a caps override replaces the whole caps map; null removes caps or the discount).
 */
export function applyOverrides(terms: PlanVersionTerms, overrides: SubscriptionOverrides): PlanVersionTerms {
  const { volume_discount: planLadder, ...rest } = terms;
  const ladder = overrides.volume_discount === undefined ? planLadder : (overrides.volume_discount ?? undefined);
  return {
    ...rest,
    included_allowance: overrides.included_allowance ?? terms.included_allowance,
    tier_caps: overrides.tier_caps === undefined ? terms.tier_caps : overrides.tier_caps,
    ...(ladder === undefined ? {} : { volume_discount: ladder }),
  };
}
