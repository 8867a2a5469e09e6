import fc from 'fast-check';
import { Dec } from '../../tiers/pricing/decimal.js';
import type { PlanVersionTerms } from '../../tiers/plans/plan-terms.js';
import {
  adjustmentLines,
  billedByCharge,
  invoiceTotal,
  periodLines,
  periodsToClose,
  usageDelta,
  type LineDraft,
  type PeriodTerms,
  type UsageRow,
} from './invoice-math.js';

function terms(over: Partial<PlanVersionTerms> = {}): PlanVersionTerms {
  return {
    name: 'Team',
    currency: 'EUR',
    base_fee: '100.00',
    waive_base_fee_for_paid_enterprise: true,
    included_allowance: '50',
    overage_policy: 'bill',
    topup_packs: [],
    tier_caps: null,
    ineffective_credit_pct: '0',
    ...over,
  };
}

const P0 = '2026-03-01T00:00:00.000Z';
const row = (tier: string, cost: string, label = 'effective', model = `${tier}-model`, period_start = P0): UsageRow => ({
  period_start,
  tier,
  model,
  label,
  calls: 1,
  tokens: 1000,
  cost,
});
const amounts = (lines: readonly LineDraft[]) => lines.map((l) => [l.kind, l.tier, l.amount]);

describe('periodLines', () => {
  it('bills a self-serve account in overage across three tiers, each line rounded once', () => {
    const pt: PeriodTerms = { terms: terms(), paid_enterprise: false };
    // Allowance 50 covers base (30) then 20 of specialized; 20 specialized and 25.125 premier are overage.
    const lines = periodLines(pt, [row('base', '30'), row('specialized', '40'), row('premier', '25.125')], { start: P0, planName: 'Team' }, []);
    expect(amounts(lines)).toEqual([
      ['base_fee', null, '100.00'],
      ['allowance_used', null, '0.00'],
      ['overage', 'specialized', '20.00'],
      ['overage', 'premier', '25.12'],
    ]);
    expect(invoiceTotal(lines, 'EUR')).toBe('145.12');
  });

  it('waives the base fee of a paid enterprise account with a zero line saying so', () => {
    const lines = periodLines({ terms: terms(), paid_enterprise: true }, [row('base', '12.5')], { start: P0, planName: 'Team' }, []);
    expect(lines[0]).toMatchObject({ kind: 'base_fee', amount: '0.00' });
    expect(lines[0]!.description).toContain('waived');
    expect(invoiceTotal(lines, 'EUR')).toBe('0.00');
  });

  it('rounds exact half-cent midpoints half-even', () => {
    const at = (cost: string) => periodLines({ terms: terms({ included_allowance: '0', base_fee: '0' }), paid_enterprise: false }, [row('base', cost)], { start: P0, planName: null }, []);
    expect(at('0.125').find((l) => l.kind === 'overage')!.amount).toBe('0.12');
    expect(at('0.135').find((l) => l.kind === 'overage')!.amount).toBe('0.14');
    expect(at('2.005').find((l) => l.kind === 'overage')!.amount).toBe('2.00');
  });

  it('uses the currency minor unit: none for JPY, three for KWD', () => {
    const jpy = periodLines({ terms: terms({ currency: 'JPY', base_fee: '5000', included_allowance: '0' }), paid_enterprise: false }, [row('premier', '1234.5')], { start: P0, planName: null }, []);
    expect(amounts(jpy)).toEqual([['base_fee', null, '5000'], ['overage', 'premier', '1234']]);
    expect(invoiceTotal(jpy, 'JPY')).toBe('6234');
    const kwd = periodLines({ terms: terms({ currency: 'KWD', base_fee: '10', included_allowance: '0' }), paid_enterprise: false }, [row('base', '1.2345')], { start: P0, planName: null }, []);
    expect(amounts(kwd)).toEqual([['base_fee', null, '10.000'], ['overage', 'base', '1.234']]);
  });

  it('credits a share of the cost labelled ineffective, and applies the graduated discount to the billed part', () => {
    const pt: PeriodTerms = {
      terms: terms({ ineffective_credit_pct: '10', included_allowance: '0', base_fee: '0', volume_discount: [{ up_to: '100', discount_pct: '0' }, { up_to: null, discount_pct: '10' }] }),
      paid_enterprise: false,
    };
    const lines = periodLines(pt, [row('base', '150'), row('base', '12.345', 'ineffective')], { start: P0, planName: null }, []);
    // usage 162.345: 62.345 of it above 100 gets 10% = 6.2345 -> 6.23; credit 10% of 12.345 = 1.2345 -> 1.23.
    expect(amounts(lines)).toEqual([
      ['base_fee', null, '0.00'],
      ['overage', 'base', '162.34'],
      ['volume_discount', null, '-6.23'],
      ['ineffective_credit', null, '-1.23'],
    ]);
    expect(invoiceTotal(lines, 'EUR')).toBe('154.88');
  });

  it('lists top-ups bought, at zero when they were paid on their own invoice', () => {
    const topup = { id: 't1', pack_id: 'large', price: '45.50', allowance: '50', bought_at: '2026-03-10T00:00:00Z', billed_separately: false };
    const lines = periodLines({ terms: terms(), paid_enterprise: false }, [], { start: P0, planName: null }, [topup, { ...topup, id: 't2', billed_separately: true }]);
    expect(lines.filter((l) => l.kind === 'topup').map((l) => l.amount)).toEqual(['45.50', '0.00']);
  });
});

describe('credits applied', () => {
  const pt = { terms: terms({ base_fee: '10.00', included_allowance: '20' }), paid_enterprise: false };

  it('takes what top-ups and grants burned off the overage, so usage they paid for is not billed again', () => {
    // 20 allowance; 35.50 of usage: 15.50 overage, 12.345 of it burned from a promotional grant.
    const lines = periodLines(pt, [row('base', '15'), row('premier', '20.5')], { start: P0, planName: null }, [], '12.345');
    expect(amounts(lines)).toEqual([
      ['base_fee', null, '10.00'],
      ['allowance_used', null, '0.00'],
      ['overage', 'premier', '15.50'],
      ['credits_applied', null, '-12.34'],
    ]);
    expect(lines.at(-1)).toMatchObject({ charge: 'credits_applied', detail: { credits_burned: '12.345000000000' } });
    expect(invoiceTotal(lines, 'EUR')).toBe('13.16');
  });

  it('never applies more than the overage as billed after its volume discount, and nothing without overage', () => {
    const discounted = { terms: terms({ base_fee: '0', included_allowance: '0', volume_discount: [{ up_to: null, discount_pct: '10' }] }), paid_enterprise: false };
    const lines = periodLines(discounted, [row('base', '30')], { start: P0, planName: null }, [], '30');
    expect(amounts(lines)).toEqual([
      ['base_fee', null, '0.00'],
      ['overage', 'base', '30.00'],
      ['volume_discount', null, '-3.00'],
      ['credits_applied', null, '-27.00'],
    ]);
    expect(invoiceTotal(lines, 'EUR')).toBe('0.00');
    expect(amounts(periodLines(pt, [row('base', '5')], { start: P0, planName: null }, [], '5')).map(([k]) => k)).not.toContain('credits_applied');
    const block = { terms: terms({ overage_policy: 'block', included_allowance: '0' }), paid_enterprise: false };
    expect(amounts(periodLines(block, [row('base', '50')], { start: P0, planName: null }, [], '50')).map(([k]) => k)).toEqual(['base_fee']);
  });

  it('adjusts the credits applied of an earlier period when a late event changes what grants paid for', () => {
    const period = { start: new Date(P0), end: new Date('2026-04-01T00:00:00.000Z') };
    const billed = billedByCharge(periodLines(pt, [row('base', '30')], { start: P0, planName: null }, [], '10'));
    const lines = adjustmentLines(pt, [row('base', '30'), row('base', '4')], period, billed, '12');
    expect(amounts(lines)).toEqual([
      ['adjustment', 'base', '4.00'],
      ['adjustment', null, '-2.00'],
    ]);
    expect(lines.map((l) => l.charge)).toEqual(['overage:base', 'credits_applied']);
  });
});

describe('adjustmentLines', () => {
  it('bills what a late event adds to a finalized period as the difference of once-rounded charges', () => {
    const pt: PeriodTerms = { terms: terms(), paid_enterprise: false };
    const period = { start: new Date(P0), end: new Date('2026-04-01T00:00:00Z') };
    const billed = billedByCharge(periodLines(pt, [row('premier', '60.004')], { start: P0, planName: null }, []));
    const lines = adjustmentLines(pt, [row('premier', '60.004'), row('premier', '2.5')], period, billed);
    expect(amounts(lines)).toEqual([['adjustment', 'premier', '2.50']]);
    expect(lines[0]!.description).toContain('2026-03-01 to 2026-04-01');
    // Nothing changed: nothing to adjust.
    expect(adjustmentLines(pt, [row('premier', '60.004')], period, billed)).toEqual([]);
  });

  it('turns a relabelling to ineffective into a further credit', () => {
    const pt: PeriodTerms = { terms: terms({ ineffective_credit_pct: '50' }), paid_enterprise: false };
    const period = { start: new Date(P0), end: new Date('2026-04-01T00:00:00Z') };
    const billed = billedByCharge(periodLines(pt, [row('base', '10', 'pending')], { start: P0, planName: null }, []));
    const lines = adjustmentLines(pt, [row('base', '10', 'ineffective')], period, billed);
    expect(amounts(lines)).toEqual([['adjustment', null, '-5.00']]);
    expect(lines[0]!.charge).toBe('ineffective_credit');
  });
});

describe('periodsToClose', () => {
  it('lists the ended periods from the start date, or after the last closed one', () => {
    const now = new Date('2026-04-20T10:00:00Z');
    expect(periodsToClose(15, '2026-02-20', now, null).map((p) => p.start.toISOString().slice(0, 10))).toEqual(['2026-02-15', '2026-03-15']);
    expect(periodsToClose(15, '2026-02-20', now, new Date('2026-03-15T00:00:00Z')).map((p) => p.start.toISOString().slice(0, 10))).toEqual(['2026-03-15']);
    expect(periodsToClose(15, '2026-02-20', now, new Date('2026-04-15T00:00:00Z'))).toEqual([]);
  });

  it('stops before the period a cancelled subscription ends at, and skips the periods before a later start', () => {
    const now = new Date('2026-07-20T10:00:00Z');
    const starts = (periods: { start: Date }[]) => periods.map((p) => p.start.toISOString().slice(0, 10));
    // Cancelled in March: it ends on 15 April, the March period is its last.
    expect(starts(periodsToClose(15, '2026-02-20', now, null, new Date('2026-04-15T00:00:00Z')))).toEqual(['2026-02-15', '2026-03-15']);
    expect(periodsToClose(15, '2026-02-20', now, new Date('2026-04-15T00:00:00Z'), new Date('2026-04-15T00:00:00Z'))).toEqual([]);
    // Subscribed again on 2 June after it ended: from the period 2 June is in, not from April.
    expect(starts(periodsToClose(15, '2026-06-02', now, new Date('2026-04-15T00:00:00Z')))).toEqual(['2026-05-15', '2026-06-15']);
  });
});

// ---- Properties -------------------------------------------------------------------------------------

const TIER = fc.constantFrom('base', 'specialized', 'premier', '');
const LABEL = fc.constantFrom('effective', 'ineffective', 'pending', 'unclassified');
const COST = fc.integer({ min: 0, max: 10_000_000 }).map((n) => new Dec(n).dividedBy(100_000).toFixed());
const CURRENCY = fc.constantFrom('EUR', 'JPY', 'KWD', 'USD');
const TERMS = fc.record({
  currency: CURRENCY,
  base_fee: COST,
  included_allowance: COST,
  pct: fc.integer({ min: 0, max: 100 }),
  discount: fc.boolean(),
  paid: fc.boolean(),
});
type TermsSample = { currency: string; base_fee: string; included_allowance: string; pct: number; discount: boolean; paid: boolean };
const ptOf = (t: TermsSample): PeriodTerms => ({
  terms: terms({
    currency: t.currency,
    base_fee: t.base_fee,
    included_allowance: t.included_allowance,
    ineffective_credit_pct: String(t.pct),
    ...(t.discount ? { volume_discount: [{ up_to: '20', discount_pct: '0' }, { up_to: '50', discount_pct: '5' }, { up_to: null, discount_pct: '12.5' }] } : {}),
  }),
  paid_enterprise: t.paid,
});

describe('properties', () => {
  it('an invoice total is the sum of its rounded lines, each at the currency minor unit', () => {
    fc.assert(
      fc.property(TERMS, fc.array(fc.tuple(TIER, LABEL, COST), { maxLength: 12 }), COST, (t, usage, burned) => {
        const pt = ptOf(t);
        const lines = periodLines(pt, usage.map(([tier, label, cost], i) => row(tier, cost, label, `m${i % 3}`)), { start: P0, planName: null }, [], burned);
        // Credits applied never bill below the overage's own lines: overage + discount + credits >= 0.
        const usageLines = lines.filter((l) => l.kind === 'overage' || l.kind === 'volume_discount' || l.kind === 'credits_applied');
        expect(usageLines.reduce((s, l) => s.plus(l.amount), new Dec(0)).gte(0)).toBe(true);
        const places = t.currency === 'JPY' ? 0 : t.currency === 'KWD' ? 3 : 2;
        for (const l of lines) expect(new Dec(l.amount).decimalPlaces()).toBeLessThanOrEqual(places);
        const sum = lines.reduce((s, l) => s.plus(l.amount), new Dec(0));
        expect(new Dec(invoiceTotal(lines, t.currency)).eq(sum)).toBe(true);
      }),
    );
  });

  // A random history: events of three periods arrive at random steps, closes happen at random steps (the
  // k-th close bills period k). Each close bills usageDelta(what the rollups hold now, what earlier
  // invoices billed), the way the service does.
  it('over random histories, the usage of all invoices adds up to all events, each event on exactly one invoice, and each charge of a period to what one invoice would say', () => {
    const EVENT = fc.record({ period: fc.integer({ min: 0, max: 2 }), tier: TIER, label: LABEL, cost: COST, model: fc.constantFrom('a', 'b') });
    fc.assert(
      fc.property(TERMS, fc.array(EVENT, { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 3, maxLength: 3 }), (t, events, closeSteps) => {
        const pt = ptOf(t);
        const starts = ['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z'];
        const ends = [...starts.slice(1), '2026-04-01T00:00:00.000Z'];
        // Close k happens after step closeSteps[k] (sorted), and never before its period could end: fine for the model.
        const at = [...closeSteps].sort((a, b) => a - b);
        const arrived = (step: number) => events.slice(0, step);
        const rowsOf = (evs: typeof events, upTo: number): UsageRow[] =>
          usageDelta(evs.filter((e) => e.period <= upTo).map((e) => ({ period_start: starts[e.period]!, tier: e.tier, model: e.model, label: e.label, calls: 1, tokens: 1, cost: e.cost })), []);
        const invoices: { usage: UsageRow[]; lines: LineDraft[] }[] = [];
        for (let k = 0; k < 3; k++) {
          const current = rowsOf(arrived(at[k]!), k);
          const billed = invoices.flatMap((i) => i.usage);
          const usage = usageDelta(current, billed);
          const lines = periodLines(pt, current.filter((r) => r.period_start === starts[k]), { start: starts[k]!, planName: null }, []);
          for (let q = 0; q < k; q++) {
            if (!usage.some((u) => u.period_start === starts[q])) continue;
            const before = billedByCharge(invoices.flatMap((i) => i.lines).filter((l) => l.period_start === starts[q]));
            lines.push(...adjustmentLines(pt, current.filter((r) => r.period_start === starts[q]), { start: new Date(starts[q]!), end: new Date(ends[q]!) }, before));
          }
          // Each event arrived between two closes is on exactly the first close after it: its call is counted once there.
          const newlyArrived = events.slice(k === 0 ? 0 : at[k - 1]!, at[k]!).filter((e) => e.period <= k).length;
          const earlierMissed = events.slice(0, k === 0 ? 0 : at[k - 1]!).filter((e) => e.period === k).length;
          expect(usage.reduce((s, u) => s + u.calls, 0)).toBe(newlyArrived + earlierMissed);
          invoices.push({ usage, lines });
        }
        // All invoices' usage = all events that arrived by the last close (for periods closed).
        const all = rowsOf(arrived(at[2]!), 2);
        expect(usageDelta(all, invoices.flatMap((i) => i.usage))).toEqual([]);
        for (const u of invoices.flatMap((i) => i.usage)) expect(u.calls).toBeGreaterThanOrEqual(0);
        // Per period and charge: the sum over all invoices equals the period's charges on its final usage.
        for (let q = 0; q < 3; q++) {
          const finalLines = periodLines(pt, all.filter((r) => r.period_start === starts[q]), { start: starts[q]!, planName: null }, []);
          const want = billedByCharge(finalLines);
          const got = billedByCharge(invoices.flatMap((i) => i.lines).filter((l) => l.period_start === starts[q]));
          for (const charge of new Set([...want.keys(), ...got.keys()])) {
            expect((got.get(charge) ?? new Dec(0)).eq(want.get(charge) ?? new Dec(0))).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
