// The money of an invoice as plain functions (no Nest, no I/O): the lines of a period from its usage,
// the adjustment lines of an earlier period from what it comes to now and what was already billed for it,
// what usage an invoice bills (the usage delta), and which periods a subscription has to close.
// Every line is rounded once, half-even, to the currency's minor unit; a total is the sum of its lines.
import { Dec, formatExact, formatMoney, sumDecimals } from '../../tiers/pricing/decimal.js';
import { pricePeriod } from '../../tiers/pricing/period-pricing.js';
import { TIERS, isTier, type Tier } from '../../tiers/pricing/pricing.js';
import type { PlanVersionTerms } from '../../tiers/plans/plan-terms.js';
import { billingPeriod, type BillingPeriod } from '../../tiers/subscriptions/billing-period.js';

/** Usage of one period by tier, model and label, as the rollups say (or a difference of two such readings). */
export interface UsageRow {
  /** ISO time of the start of the period the usage happened in. */
  period_start: string;
  tier: string;
  model: string;
  label: string;
  calls: number;
  tokens: number;
  /** Exact decimal string. */
  cost: string;
}

export type LineKind = 'base_fee' | 'allowance_used' | 'overage' | 'topup' | 'volume_discount' | 'credits_applied' | 'ineffective_credit' | 'adjustment';

/**
 * The usage-dependent charges a period has; an adjustment names one of them. `overage:<tier>` per tier.
 * The base fee and top-ups do not depend on usage and are never adjusted.
 */
export type Charge = 'allowance_used' | `overage:${Tier}` | 'volume_discount' | 'credits_applied' | 'ineffective_credit';

export interface LineDraft {
  kind: LineKind;
  /** The usage-dependent charge this line bills (or adjusts); null for the base fee and top-ups. */
  charge: Charge | null;
  tier: Tier | null;
  /** The period the amount belongs to (an adjustment's is an earlier period than its invoice's). */
  period_start: string;
  description: string;
  /** Rounded once, half-even, to the currency's minor unit; negative for credits. */
  amount: string;
  detail: Record<string, string | number | boolean | null>;
}

export interface TopupBought {
  id: string;
  pack_id: string;
  /** What the pack costs, in currency units. */
  price: string;
  /** The usage money it adds. */
  allowance: string;
  bought_at: string;
  /** Paid on its own (Stripe) invoice: listed here at zero so it is not charged twice. */
  billed_separately: boolean;
}

export interface PeriodTerms {
  terms: PlanVersionTerms;
  paid_enterprise: boolean;
}

const ZERO = new Dec(0);
const HUNDRED = new Dec(100);

function usageKey(r: Pick<UsageRow, 'period_start' | 'tier' | 'model' | 'label'>): string {
  return JSON.stringify([r.period_start, r.tier, r.model, r.label]);
}

/** `current` less `billed`, per period, tier, model and label; rows that come to nothing are left out. */
export function usageDelta(current: readonly UsageRow[], billed: readonly UsageRow[]): UsageRow[] {
  const out = new Map<string, { row: UsageRow; cost: Dec }>();
  const add = (r: UsageRow, sign: 1 | -1) => {
    const key = usageKey(r);
    const acc = out.get(key) ?? { row: { ...r, calls: 0, tokens: 0, cost: '0' }, cost: ZERO };
    acc.row.calls += sign * r.calls;
    acc.row.tokens += sign * r.tokens;
    acc.cost = sign === 1 ? acc.cost.plus(r.cost) : acc.cost.minus(r.cost);
    out.set(key, acc);
  };
  for (const r of current) add(r, 1);
  for (const r of billed) add(r, -1);
  return [...out.values()]
    .filter(({ row, cost }) => row.calls !== 0 || row.tokens !== 0 || !cost.isZero())
    .map(({ row, cost }) => ({ ...row, cost: formatExact(cost) }))
    .sort((a, b) => (usageKey(a) < usageKey(b) ? -1 : 1));
}

/** Exact usage cost per tier (rows of unpriced or zero-token calls, with no tier, cost nothing). */
export function costByTier(rows: readonly UsageRow[]): Record<Tier, string> {
  const by = { base: ZERO, specialized: ZERO, premier: ZERO } as Record<Tier, Dec>;
  for (const r of rows) if (isTier(r.tier)) by[r.tier] = by[r.tier].plus(r.cost);
  return { base: formatExact(by.base), specialized: formatExact(by.specialized), premier: formatExact(by.premier) };
}

export function costOfLabel(rows: readonly UsageRow[], label: string): Dec {
  return sumDecimals(rows.filter((r) => r.label === label).map((r) => new Dec(r.cost)));
}

/**
 * One line per usage-dependent charge of a period, from the period's whole usage: what that charge comes to.
 * `creditsBurned` is what the credit ledger burned from grants other than the period allowance (top-ups,
 * promotional grants, positive adjustments) for this period's usage: exact, in currency units. On a `bill`
 * plan it is taken off the overage as billed (after the volume discount), as a credits-applied line, so usage
 * a grant paid for is never billed again; never more than that overage (a `block` plan bills no overage:
 * its top-ups are billed at their price, and what they cover is paid for).
 */
export function periodCharges(pt: PeriodTerms, rows: readonly UsageRow[], periodStart: string, creditsBurned = '0'): LineDraft[] {
  const { terms } = pt;
  const currency = terms.currency;
  const priced = pricePeriod({ terms, paid_enterprise: pt.paid_enterprise, usage_cost_by_tier: costByTier(rows) });
  const out: LineDraft[] = [];
  for (const line of priced.lines) {
    if (line.kind === 'allowance_used') {
      out.push({
        kind: 'allowance_used',
        charge: 'allowance_used',
        tier: null,
        period_start: periodStart,
        description: `Included usage: ${formatMoney(line.used, currency)} of ${formatMoney(line.included, currency)} ${currency} used`,
        amount: line.amount,
        detail: { included: line.included, used: line.used, ...prefixed('used_', line.used_by_tier) },
      });
    } else if (line.kind === 'overage') {
      out.push({
        kind: 'overage',
        charge: `overage:${line.tier}`,
        tier: line.tier,
        period_start: periodStart,
        description: `Usage beyond the allowance, ${line.tier} tier`,
        amount: line.amount,
        detail: { usage_cost: line.usage_cost },
      });
    } else if (line.kind === 'volume_discount') {
      out.push({
        kind: 'volume_discount',
        charge: 'volume_discount',
        tier: null,
        period_start: periodStart,
        description: 'Volume discount (graduated)',
        amount: line.amount,
        detail: { discounted_usage: line.discounted_usage },
      });
    }
  }
  const applied = creditsApplied(out, new Dec(creditsBurned), currency);
  if (applied !== null) {
    out.push({
      kind: 'credits_applied',
      charge: 'credits_applied',
      tier: null,
      period_start: periodStart,
      description: `Credits applied: usage beyond the allowance paid from top-ups and grants (${formatMoney(creditsBurned, currency)} ${currency} burned)`,
      amount: applied,
      detail: { credits_burned: formatExact(new Dec(creditsBurned)) },
    });
  }
  const pct = new Dec(terms.ineffective_credit_pct);
  const ineffective = costOfLabel(rows, 'ineffective');
  if (pct.gt(0)) {
    const credit = formatMoney(ineffective.times(pct).dividedBy(HUNDRED).negated(), currency);
    if (!new Dec(credit).isZero()) {
      out.push({
        kind: 'ineffective_credit',
        charge: 'ineffective_credit',
        tier: null,
        period_start: periodStart,
        description: `Credit for ineffective spend: ${pct.toFixed()}% of ${formatMoney(ineffective, currency)} ${currency}`,
        amount: credit,
        detail: { ineffective_cost: formatExact(ineffective), pct: pct.toFixed() },
      });
    }
  }
  return out;
}

/**
 * The credits-applied line's amount (negative), or null when there is none: what grants burned, rounded once,
 * and at most the overage as billed less its volume discount (the period's overage and discount lines), so the
 * invoice never goes below its other charges.
 */
function creditsApplied(lines: readonly LineDraft[], burned: Dec, currency: string): string | null {
  if (!burned.gt(0)) return null;
  const billable = sumDecimals(lines.filter((l) => l.kind === 'overage' || l.kind === 'volume_discount').map((l) => new Dec(l.amount)));
  if (!billable.gt(0)) return null;
  const amount = new Dec(formatMoney(Dec.min(burned, billable), currency));
  return amount.isZero() ? null : formatMoney(amount.negated(), currency);
}

function prefixed(prefix: string, values: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [`${prefix}${k}`, v]));
}

/**
 * The lines of a period's own invoice, in the order people read them: base fee (or its waiver), allowance
 * used, overage by tier, top-ups bought, volume discount, credits applied, ineffective-spend credit.
 */
export function periodLines(
  pt: PeriodTerms,
  rows: readonly UsageRow[],
  period: { start: string; planName: string | null },
  topups: readonly TopupBought[],
  creditsBurned = '0',
): LineDraft[] {
  const { terms } = pt;
  const currency = terms.currency;
  const waived = terms.waive_base_fee_for_paid_enterprise && pt.paid_enterprise;
  const plan = period.planName === null ? '' : ` (${period.planName})`;
  const base: LineDraft = {
    kind: 'base_fee',
    charge: null,
    tier: null,
    period_start: period.start,
    description: waived ? `Base fee${plan}: waived for a paid enterprise account` : `Base fee${plan}`,
    amount: formatMoney(waived ? ZERO : terms.base_fee, currency),
    detail: { base_fee: terms.base_fee, waived },
  };
  const charges = periodCharges(pt, rows, period.start, creditsBurned);
  const before = charges.filter((c) => c.kind === 'allowance_used' || c.kind === 'overage');
  const after = charges.filter((c) => c.kind === 'volume_discount' || c.kind === 'credits_applied' || c.kind === 'ineffective_credit');
  const topupLines: LineDraft[] = topups.map((t) => ({
    kind: 'topup',
    charge: null,
    tier: null,
    period_start: period.start,
    description: `Top-up pack ${t.pack_id} bought ${t.bought_at.slice(0, 10)}: ${formatMoney(t.allowance, currency)} ${currency} of usage${t.billed_separately ? ' (paid on its own invoice)' : ''}`,
    amount: formatMoney(t.billed_separately ? ZERO : t.price, currency),
    detail: { topup_id: t.id, pack_id: t.pack_id, price: t.price, allowance: t.allowance, billed_separately: t.billed_separately },
  }));
  return [base, ...before, ...topupLines, ...after];
}

/** The sum of what was billed so far per (charge) for one period, from lines of any invoice. */
export function billedByCharge(lines: readonly Pick<LineDraft, 'charge' | 'amount'>[]): Map<Charge, Dec> {
  const out = new Map<Charge, Dec>();
  for (const l of lines) if (l.charge !== null) out.set(l.charge, (out.get(l.charge) ?? ZERO).plus(l.amount));
  return out;
}

/**
 * Adjustment lines for an earlier period: for each usage-dependent charge, what it comes to on the
 * period's usage now less what every invoice already billed for it. Both are sums of once-rounded
 * amounts, so the difference needs no rounding, and over all invoices each charge of a period adds up to
 * exactly what one invoice would have said had every event been on time.
 */
export function adjustmentLines(pt: PeriodTerms, rows: readonly UsageRow[], period: BillingPeriod, billed: ReadonlyMap<Charge, Dec>, creditsBurned = '0'): LineDraft[] {
  const currency = pt.terms.currency;
  const start = period.start.toISOString();
  const now = new Map(periodCharges(pt, rows, start, creditsBurned).map((c) => [c.charge!, c]));
  const charges = new Set<Charge>([...now.keys(), ...billed.keys()]);
  const out: LineDraft[] = [];
  for (const charge of orderCharges(charges)) {
    const diff = new Dec(now.get(charge)?.amount ?? 0).minus(billed.get(charge) ?? ZERO);
    if (diff.isZero()) continue;
    const tier = charge.startsWith('overage:') ? (charge.slice('overage:'.length) as Tier) : null;
    out.push({
      kind: 'adjustment',
      charge,
      tier,
      period_start: start,
      description: `Adjustment for ${period.start.toISOString().slice(0, 10)} to ${period.end.toISOString().slice(0, 10)}: ${CHARGE_NAMES[charge]}`,
      amount: formatMoney(diff, currency),
      detail: { now: now.get(charge)?.amount ?? formatMoney(ZERO, currency), billed_before: formatMoney(billed.get(charge) ?? ZERO, currency) },
    });
  }
  return out;
}

const CHARGE_ORDER: readonly Charge[] = ['allowance_used', ...TIERS.map((t) => `overage:${t}` as const), 'volume_discount', 'credits_applied', 'ineffective_credit'];
const CHARGE_NAMES: Record<Charge, string> = {
  allowance_used: 'included usage',
  'overage:base': 'usage beyond the allowance, base tier',
  'overage:specialized': 'usage beyond the allowance, specialized tier',
  'overage:premier': 'usage beyond the allowance, premier tier',
  volume_discount: 'volume discount',
  credits_applied: 'credits applied to usage beyond the allowance',
  ineffective_credit: 'credit for ineffective spend',
};

function orderCharges(charges: ReadonlySet<Charge>): Charge[] {
  return CHARGE_ORDER.filter((c) => charges.has(c));
}

/** The total of an invoice: the sum of its (already rounded) lines, formatted to the currency. */
export function invoiceTotal(lines: readonly Pick<LineDraft, 'amount'>[], currency: string): string {
  return formatMoney(sumDecimals(lines.map((l) => new Dec(l.amount))), currency);
}

/**
 * The ended periods of a subscription still to close, oldest first: from the period its start date is in,
 * or the one after `lastClosedEnd` (whichever is later: a subscription that ended and started again is not
 * billed for the periods in between), while the period has ended by `now` and started before `endsAt` (a
 * cancelled subscription's last period is the one it was cancelled in). At most `limit` of them.
 */
export function periodsToClose(anchorDay: number, startDate: string, now: Date, lastClosedEnd: Date | null, endsAt: Date | null = null, limit = 24): BillingPeriod[] {
  const out: BillingPeriod[] = [];
  const start = new Date(`${startDate}T00:00:00Z`);
  let period = billingPeriod(anchorDay, lastClosedEnd === null || start.getTime() > lastClosedEnd.getTime() ? start : lastClosedEnd);
  while (period.end.getTime() <= now.getTime() && (endsAt === null || period.start.getTime() < endsAt.getTime()) && out.length < limit) {
    out.push(period);
    period = billingPeriod(anchorDay, period.end);
  }
  return out;
}

/** How people name an invoice: the account and the period's first day. Unique per account. */
export function invoiceNumber(accountId: string, periodStart: Date): string {
  return `${accountId}-${periodStart.toISOString().slice(0, 10).replaceAll('-', '')}`;
}
