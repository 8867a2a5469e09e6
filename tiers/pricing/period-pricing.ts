// Owns the money maths of one invoice period: base fee or its waiver, allowance before overage, overage by
// tier, graduated volume discount, each line rounded once half-even, total = sum of rounded lines.
import {
  Dec,
  MAX_COST_DECIMAL_PLACES,
  formatExact,
  formatMoney,
  minorUnits,
  parseDecimal,
  roundMoney,
  sumDecimals,
} from './decimal.js';
import { TIERS, isTier, type Tier } from './pricing.js';
import { PricingInputError } from './pricing-input-error.js';

/**
 * One step of a graduated ladder over the period's usage cost. A step covers (lower, up_to], where lower
 * is the previous step's up_to (0 for the first); `from`, when given, must equal that lower bound and
 * exists only so a ladder typed with explicit ranges is checked for gaps and overlaps.
 */
export interface VolumeTier {
  readonly from?: string;
  readonly up_to: string | null;
  /** Decimal string in 0..100. */
  readonly discount_pct: string;
}

export type OveragePolicy = 'bill' | 'block';

export interface PlanTerms {
  readonly currency: string;
  readonly base_fee: string;
  readonly waive_base_fee_for_paid_enterprise: boolean;
  /** Usage cost (money, not tokens) included in the period. */
  readonly included_allowance: string;
  readonly overage_policy: OveragePolicy;
  readonly volume_discount?: readonly VolumeTier[];
}

export interface PeriodPricingInput {
  readonly terms: PlanTerms;
  readonly paid_enterprise: boolean;
  /** Exact period usage cost per tier (sums of event costs, up to 18 dp); missing tiers are zero. */
  readonly usage_cost_by_tier: Readonly<Partial<Record<Tier, string>>>;
}

/** `amount` is the only charged figure and is rounded; every other money field is exact, for audit. */
export type InvoiceLine =
  | { readonly kind: 'base_fee'; readonly amount: string; readonly waived: boolean }
  | {
      readonly kind: 'allowance_used';
      readonly amount: string;
      readonly included: string;
      readonly used: string;
      readonly used_by_tier: Readonly<Record<Tier, string>>;
    }
  | { readonly kind: 'overage'; readonly tier: Tier; readonly amount: string; readonly usage_cost: string }
  | { readonly kind: 'volume_discount'; readonly amount: string; readonly discounted_usage: string };

export interface PeriodInvoice {
  readonly currency: string;
  readonly lines: readonly InvoiceLine[];
  /** Sum of the lines' rounded amounts; never re-derived from exact figures. */
  readonly total: string;
  readonly usage_cost: string;
  readonly allowance_remaining: string;
  /** Usage beyond the allowance under a `block` policy: not billed here (top-ups pay for it). */
  readonly unbilled_excess: string;
}

const ZERO = new Dec(0);
const HUNDRED = new Dec(100);
const ONE = new Dec(1);

function lowerBound(tiers: readonly VolumeTier[], index: number): Dec {
  const prev = index === 0 ? null : tiers[index - 1].up_to;
  return prev === null ? ZERO : new Dec(prev);
}

/** Rejects unsorted, overlapping or gapped ladders, a ladder that stops before infinity, pct outside 0..100. */
export function validateVolumeTiers(raw: unknown, field = 'volume_discount'): VolumeTier[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new PricingInputError('INVALID_VOLUME_TIERS', field, `${field} must be a non-empty array of tiers`);
  }
  const out: VolumeTier[] = [];
  let lower = ZERO;
  raw.forEach((item: unknown, i) => {
    const at = `${field}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new PricingInputError('NOT_AN_OBJECT', at, `${at} must be an object`);
    }
    const obj = item as Readonly<Record<string, unknown>>;
    for (const k of Object.keys(obj)) {
      if (k !== 'from' && k !== 'up_to' && k !== 'discount_pct') {
        throw new PricingInputError('UNKNOWN_FIELD', `${at}.${k}`, `${at}.${k} is not a known field`);
      }
    }
    if (obj.from !== undefined) {
      const from = parseDecimal(obj.from, `${at}.from`);
      if (!from.eq(lower)) {
        const what = from.lt(lower) ? 'overlaps the previous tier' : 'leaves a gap after the previous tier';
        throw new PricingInputError('INVALID_VOLUME_TIERS', `${at}.from`, `${at} ${what}; it must start at ${lower.toFixed()}`);
      }
    }
    if (!('up_to' in obj)) {
      throw new PricingInputError('MISSING_FIELD', `${at}.up_to`, `${at}.up_to is required (null for the last tier)`);
    }
    const isLast = i === raw.length - 1;
    let upTo: string | null;
    if (obj.up_to === null) {
      if (!isLast) {
        throw new PricingInputError('INVALID_VOLUME_TIERS', `${at}.up_to`, 'only the last tier may be unbounded');
      }
      upTo = null;
    } else {
      const upper = parseDecimal(obj.up_to, `${at}.up_to`);
      if (upper.lte(lower)) {
        throw new PricingInputError(
          'INVALID_VOLUME_TIERS',
          `${at}.up_to`,
          `${at}.up_to must be greater than ${lower.toFixed()}: tiers are sorted ascending and do not overlap`,
        );
      }
      // A ladder ending at a finite bound leaves usage above it undefined; say so instead of guessing 0%.
      if (isLast) {
        throw new PricingInputError('INVALID_VOLUME_TIERS', `${at}.up_to`, 'the last tier must be unbounded (up_to: null)');
      }
      upTo = obj.up_to as string;
      lower = upper;
    }
    const pct = parseDecimal(obj.discount_pct, `${at}.discount_pct`, { allowNegative: true });
    if (pct.lt(0) || pct.gt(HUNDRED)) {
      throw new PricingInputError('PCT_OUT_OF_RANGE', `${at}.discount_pct`, `${at}.discount_pct must be between 0 and 100`);
    }
    const tier: { from?: string; up_to: string | null; discount_pct: string } = { up_to: upTo, discount_pct: obj.discount_pct as string };
    if (obj.from !== undefined) tier.from = obj.from as string;
    out.push(tier);
  });
  return out;
}

/**
 * Exact graduated discount on `amount`: units in a tier = min(amount, upper) - lower, never below 0.
 * Expects a ladder that passed validateVolumeTiers (pricePeriod validates before calling).
 */
export function graduatedDiscount(amount: Dec, tiers: readonly VolumeTier[]): Dec {
  let discount = ZERO;
  tiers.forEach((tier, i) => {
    const lower = lowerBound(tiers, i);
    const capped = tier.up_to === null ? amount : Dec.min(amount, new Dec(tier.up_to));
    const units = Dec.max(ZERO, capped.minus(lower));
    discount = discount.plus(units.times(tier.discount_pct).dividedBy(HUNDRED));
  });
  return discount;
}

function parseUsage(raw: Readonly<Partial<Record<Tier, string>>>): Record<Tier, Dec> {
  const field = 'usage_cost_by_tier';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PricingInputError('NOT_AN_OBJECT', field, `${field} must be an object`);
  }
  for (const k of Object.keys(raw)) {
    if (!isTier(k)) throw new PricingInputError('UNKNOWN_TIER', `${field}.${k}`, `unknown tier "${k}"`);
  }
  const out = {} as Record<Tier, Dec>;
  for (const tier of TIERS) {
    const v = raw[tier];
    out[tier] = v === undefined ? ZERO : parseDecimal(v, `${field}.${tier}`, { maxDecimalPlaces: MAX_COST_DECIMAL_PLACES });
  }
  return out;
}

function requireBoolean(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new PricingInputError('INVALID_FLAG', field, `${field} must be true or false`);
  return v;
}

/**
 * Rules chosen here (documented because the brief leaves them open):
 * - The allowance is consumed by tiers in the fixed order base, specialized, premier: deterministic and
 *   independent of event order, so recomputing a period always gives the same split.
 * - The volume ladder is positioned on the whole period usage cost, but the discount applies only to
 *   the billed part, i.e. discount = G(usage) - G(allowance used). Usage inside the allowance is
 *   prepaid by the base fee, so discounting it would push an invoice below its base fee (or below zero
 *   for a waived fee). With pct <= 100 the discount therefore never exceeds the overage.
 * - Under `block`, usage beyond the allowance is not billed and gets no discount; it is reported as
 *   `unbilled_excess` for the caller to reconcile against top-up grants.
 */
export function pricePeriod(input: PeriodPricingInput): PeriodInvoice {
  const { terms } = input;
  const currency = terms.currency;
  minorUnits(currency, 'terms.currency');
  const baseFee = parseDecimal(terms.base_fee, 'terms.base_fee');
  const allowance = parseDecimal(terms.included_allowance, 'terms.included_allowance');
  const waive = requireBoolean(terms.waive_base_fee_for_paid_enterprise, 'terms.waive_base_fee_for_paid_enterprise');
  const paidEnterprise = requireBoolean(input.paid_enterprise, 'paid_enterprise');
  if (terms.overage_policy !== 'bill' && terms.overage_policy !== 'block') {
    throw new PricingInputError('INVALID_POLICY', 'terms.overage_policy', 'terms.overage_policy must be "bill" or "block"');
  }
  const ladder =
    terms.volume_discount === undefined ? undefined : validateVolumeTiers(terms.volume_discount, 'terms.volume_discount');
  const usage = parseUsage(input.usage_cost_by_tier);

  const lines: InvoiceLine[] = [];
  const waived = waive && paidEnterprise;
  lines.push({ kind: 'base_fee', amount: formatMoney(waived ? ZERO : baseFee, currency), waived });

  let remaining = allowance;
  const covered = {} as Record<Tier, Dec>;
  const over = {} as Record<Tier, Dec>;
  for (const tier of TIERS) {
    covered[tier] = Dec.min(remaining, usage[tier]);
    over[tier] = usage[tier].minus(covered[tier]);
    remaining = remaining.minus(covered[tier]);
  }
  const usageTotal = sumDecimals(TIERS.map((t) => usage[t]));
  const coveredTotal = sumDecimals(TIERS.map((t) => covered[t]));
  const overTotal = sumDecimals(TIERS.map((t) => over[t]));

  if (allowance.gt(0)) {
    lines.push({
      kind: 'allowance_used',
      amount: formatMoney(ZERO, currency),
      included: formatExact(allowance),
      used: formatExact(coveredTotal),
      used_by_tier: { base: formatExact(covered.base), specialized: formatExact(covered.specialized), premier: formatExact(covered.premier) },
    });
  }

  const bill = terms.overage_policy === 'bill';
  if (bill) {
    for (const tier of TIERS) {
      if (over[tier].gt(0)) {
        lines.push({ kind: 'overage', tier, amount: formatMoney(over[tier], currency), usage_cost: formatExact(over[tier]) });
      }
    }
    if (ladder !== undefined) {
      const discount = graduatedDiscount(usageTotal, ladder).minus(graduatedDiscount(coveredTotal, ladder));
      // The discount is the ladder's share of the overage applied to the overage AS BILLED (its rounded
      // lines), then rounded once. Taken from the exact overage instead, the lines round apart from it
      // (.70 + .23 billed, .935 -> .94 discounted) and a 100 % discount could leave a total of -0.01 or +1 JPY.
      const billedOverage = sumDecimals(TIERS.map((t) => roundMoney(over[t], currency)));
      const share = overTotal.isZero() ? ZERO : Dec.min(ONE, discount.dividedBy(overTotal));
      const rounded = roundMoney(billedOverage.times(share), currency);
      if (rounded.gt(0)) {
        lines.push({ kind: 'volume_discount', amount: formatMoney(rounded.negated(), currency), discounted_usage: formatExact(overTotal) });
      }
    }
  }

  const total = sumDecimals(lines.map((l) => new Dec(l.amount)));
  return {
    currency,
    lines,
    total: formatMoney(total, currency),
    usage_cost: formatExact(usageTotal),
    allowance_remaining: formatExact(remaining),
    unbilled_excess: formatExact(bill ? ZERO : overTotal),
  };
}
