// The console's pure parts: how money and periods are shown, what a plan version changed, what a price
// book form refuses before sending, and how the budget tree is laid out.
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { periodOf } from '../../billing/authorizations/counters';
import { whileCurrent } from './api';
import { billingPeriod, subscriptionStanding } from './billing-period';
import { budgetPeriodOf, budgetsHref, parseDay, periodShown, periodStanding, pickedPeriod, stepPeriod, type PeriodKind } from './budget-period';
import { budgetEditBody, budgetNodeText, budgetTree, countsText, leftText, limitText, emptyTransfer, movedText, transferBody, transferErrors, type Burn } from './budget-tree';
import { costShown, dayText, fieldsToFix, money, periodText } from './format';
import { hashParam, pageHref } from './hash-params';
import { emptyGrant, grantBody, grantErrors, purchaseId, topupErrors } from './credit-forms';
import { changedRows, type Version } from './plan-diff';
import { emptyPrices, emptyRates, priceBookErrors, tierRates } from './price-book-form';
import { csvFileName } from './operations-csv';
import { addDecimal, cellCost, chartRows, costKey, costTick, seriesOf } from './usage-chart';

describe('money', () => {
  it('cuts a decimal string to the places shown (never rounding through a float) and groups thousands', () => {
    expect(money('1234567.891234', 'EUR')).toBe('1,234,567.8912 EUR');
    expect(money('0.00575', 'EUR')).toBe('0.0057 EUR');
    expect(money('20', null, 2)).toBe('20.00');
    expect(money('-3.5')).toBe('-3.50');
    expect(money(null, 'EUR')).toBe('—');
  });

  it('keeps every digit of the whole part, for any decimal string', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.stringMatching(/^\d{0,12}$/), (whole, fraction) => {
        const shown = money(fraction === '' ? `${whole}` : `${whole}.${fraction}`);
        expect(shown.split('.')[0]!.replaceAll(',', '')).toBe(`${whole}`);
      }),
    );
  });
});

describe('costShown', () => {
  const sums = (cost: string, unpriced: number, total: number) => ({ cost, unpriced_tokens: unpriced, tokens: { total } });
  it('is the money alone when every token is priced', () => {
    expect(costShown(sums('1.5', 0, 100), 'EUR')).toEqual({ cost: '1.50 EUR', unpriced: null });
    expect(costShown(sums('0.000000000000', 0, 0), 'EUR')).toEqual({ cost: '0.0000 EUR', unpriced: null });
  });
  it('reads "unpriced", never a zero cost, for a group of unpriced tokens only', () => {
    expect(costShown(sums('0.000000000000', 2000, 2000), 'EUR')).toEqual({ cost: 'unpriced', unpriced: '2,000 tokens unpriced' });
    expect(costShown(sums('0', 1, 1))).toEqual({ cost: 'unpriced', unpriced: '1 token unpriced' });
  });
  it('says what a cost leaves out when some of its tokens are unpriced', () => {
    expect(costShown(sums('0.03', 1500, 3500), 'EUR')).toEqual({ cost: '0.03 EUR', unpriced: '+ 1,500 tokens unpriced' });
    // A correction can leave a cost on a group whose tokens are all unpriced now: the cost is still shown.
    expect(costShown(sums('0.03', 10, 10), 'EUR')).toEqual({ cost: '0.03 EUR', unpriced: '+ 10 tokens unpriced' });
  });
});

describe('dayText', () => {
  it('writes an API date as people read it, in UTC whatever the browser’s zone', () => {
    expect(dayText('2026-11-01')).toBe('1 Nov 2026');
    expect(dayText('2026-12-31T00:00:00.000Z')).toBe('31 Dec 2026');
  });
});

describe('fieldsToFix', () => {
  it('counts in words: one field, two fields (was "field(s)")', () => {
    expect(fieldsToFix(1, 'saving')).toBe('1 field to fix before saving.');
    expect(fieldsToFix(3, 'publishing')).toBe('3 fields to fix before publishing.');
  });
});

describe('the usage chart', () => {
  const row = (day: string, tier: string | null, cost: string, total: number) => ({
    key: { day: `${day}T00:00:00.000Z`, tier },
    calls: 1,
    cost,
    unpriced_tokens: tier === null ? total : 0,
    effective_ratio: null,
    tokens: { input: total, cached_input: 0, cache_write: 0, output: 0, reasoning: 0, total },
  });
  const reading = {
    from: '2026-12-01T00:00:00.000Z',
    to: '2026-12-03T00:00:00.000Z',
    group_by: ['day', 'tier'],
    rows: [row('2026-12-01', 'base', '0.000000150000', 1), row('2026-12-02', 'base', '0.100000000000', 10), row('2026-12-02', 'base', '0.2', 20)],
    totals: { calls: 3, cost: '0.30000015', unpriced_tokens: 0, effective_ratio: null, tokens: { input: 31, cached_input: 0, cache_write: 0, output: 0, reasoning: 0, total: 31 } },
  };

  it('keeps each cost as the API wrote it, so the table shows 0.0000 EUR and 0.3000 EUR, never 1.5e-7 or 0.30000000000000004', () => {
    const rows = chartRows(reading, 'tier', 'cost');
    expect(rows.map((r) => r.day)).toEqual(['2026-12-01', '2026-12-02']);
    expect(rows.map((r) => money(String(r[costKey('base')]), 'EUR'))).toEqual(['0.0000 EUR', '0.3000 EUR']);
    expect(rows[1]![costKey('base')]).toBe('0.300000000000');
    expect(chartRows(reading, 'tier', 'tokens').map((r) => r.base)).toEqual([1, 30]);
  });

  it('adds decimal strings exactly', () => {
    expect(addDecimal('0.1', '0.2')).toBe('0.3');
    expect(addDecimal('0', '0.000000150000')).toBe('0.000000150000');
    expect(addDecimal('-1.5', '0.25')).toBe('-1.25');
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), (a, b) => {
        const text = (v: bigint) => `${v < 0n ? '-' : ''}${(v < 0n ? -v : v).toString().padStart(7, '0').replace(/(\d{6})$/, '.$1')}`;
        expect(addDecimal(text(a), text(b))).toBe(text(a + b));
      }),
    );
  });

  it('gives the tokens of a model not yet priced (no tier) a series of their own, so the bars add up to the total', () => {
    const withUnpriced = { ...reading, rows: [...reading.rows, row('2026-12-02', null, '0', 1100), row('2026-12-01', null, '0', 0)] };
    expect(seriesOf('tier', reading).map(([key]) => key)).toEqual(['base', 'specialized', 'premier']);
    expect(seriesOf('tier', withUnpriced).map(([key, , name]) => [key, name])).toContainEqual(['null', 'no tier (unpriced)']);
    expect(seriesOf('label', withUnpriced).map(([key]) => key)).toEqual(['effective', 'ineffective', 'pending', 'unclassified']);
    const keys = seriesOf('tier', withUnpriced).map(([key]) => key);
    const shown = chartRows(withUnpriced, 'tier', 'tokens').reduce((sum, r) => sum + keys.reduce((s, k) => s + Number(r[k] ?? 0), 0), 0);
    expect(shown).toBe(31 + 1100);
  });

  it('reads a day’s cost of tokens nobody priced as unpriced, never 0.0000, and a cost with some as + N tokens unpriced', () => {
    const withUnpriced = { ...reading, rows: [...reading.rows, row('2026-12-02', null, '0', 1100)] };
    const [first, second] = chartRows(withUnpriced, 'tier', 'cost');
    expect(cellCost(second!, 'null', 'EUR')).toBe('unpriced');
    expect(cellCost(second!, 'base', 'EUR')).toBe('0.3000 EUR');
    // A day without the series: nothing spent, nothing unpriced.
    expect(cellCost(first!, 'null', 'EUR')).toBe('0.0000 EUR');
    // By label a day's series mixes priced and unpriced operations: its cost and what it leaves out.
    const labelled = (label: string, cost: string, total: number, unpriced: number) => ({
      ...row('2026-12-01', 'base', cost, total),
      key: { day: '2026-12-01T00:00:00.000Z', label },
      unpriced_tokens: unpriced,
    });
    const byLabel = { ...reading, group_by: ['day', 'label'], rows: [labelled('effective', '0.25', 100, 0), labelled('effective', '0', 1500, 1500), labelled('pending', '0', 1, 1)] };
    const [day1] = chartRows(byLabel, 'label', 'cost');
    expect(cellCost(day1!, 'effective', 'EUR')).toBe('0.25 EUR + 1,500 tokens unpriced');
    expect(cellCost(day1!, 'pending')).toBe('unpriced');
    expect(cellCost(day1!, 'ineffective')).toBe('0.0000');
  });

  it('writes a cost axis tick without exponent notation', () => {
    expect(costTick(1.5e-7)).toBe('0');
    expect(costTick(0.30000000000000004)).toBe('0.3');
    expect(costTick(1234.5)).toBe('1,234.5');
  });
});

describe('subscriptionStanding', () => {
  it('is none without a subscription, running until its end (naming a pending one), ended from then on', () => {
    const now = new Date('2026-03-20T10:00:00Z');
    expect(subscriptionStanding(null, now)).toEqual({ kind: 'none' });
    expect(subscriptionStanding({ ends_at: null }, now)).toEqual({ kind: 'running', endsOn: null });
    expect(subscriptionStanding({ ends_at: '2026-04-01T00:00:00.000Z' }, now)).toEqual({ kind: 'running', endsOn: '2026-04-01T00:00:00.000Z' });
    expect(subscriptionStanding({ ends_at: '2026-04-01T00:00:00.000Z' }, new Date('2026-04-01T00:00:00Z'))).toEqual({ kind: 'ended', on: '2026-04-01T00:00:00.000Z' });
  });
});

describe('billingPeriod', () => {
  it('runs from the latest anchor day at or before today to the same day a month later', () => {
    expect(billingPeriod(new Date('2026-11-30T10:00:00Z'), 1)).toEqual({ from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z') });
    expect(billingPeriod(new Date('2026-11-10T10:00:00Z'), 15)).toEqual({ from: new Date('2026-10-15T00:00:00Z'), to: new Date('2026-11-15T00:00:00Z') });
    expect(billingPeriod(new Date('2026-01-03T00:00:00Z'), 28)).toEqual({ from: new Date('2025-12-28T00:00:00Z'), to: new Date('2026-01-28T00:00:00Z') });
  });

  it('always contains the day it is asked on', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), fc.integer({ min: 1, max: 28 }), (now, anchor) => {
        const { from, to } = billingPeriod(now, anchor);
        expect(from.getTime()).toBeLessThanOrEqual(now.getTime());
        expect(to.getTime()).toBeGreaterThan(now.getTime());
        expect([from.getUTCDate(), to.getUTCDate()]).toEqual([anchor, anchor]);
      }),
    );
  });
});

describe('changedRows', () => {
  const version = (n: number, terms: Partial<Version>): Version =>
    ({
      plan_id: 'team', version: n, name: 'Team', currency: 'EUR', base_fee: '49.00', waive_base_fee_for_paid_enterprise: true,
      included_allowance: '20.00', overage_policy: 'bill', topup_packs: [], tier_caps: null, ineffective_credit_pct: '0',
      volume_discount: null, rolled_back_from: null, created_at: '2026-11-30T00:00:00Z', created_by: null, ...terms,
    }) as Version;

  it('marks the terms each version changed from the one before; the first changed nothing', () => {
    const changed = changedRows([version(3, {}), version(1, {}), version(2, { base_fee: '59.00', included_allowance: '25.00' })]);
    expect([...changed.get(1)!]).toEqual([]);
    expect([...changed.get(2)!]).toEqual(['base_fee', 'included_allowance']);
    expect([...changed.get(3)!]).toEqual(['base_fee', 'included_allowance']);
  });
});

describe('priceBookErrors', () => {
  const now = new Date('2026-11-30T12:00:00Z');
  const filled = () => {
    const prices = emptyPrices();
    for (const tier of ['base', 'specialized', 'premier'] as const) prices[tier] = { ...emptyRates(), input: '1.00', output: '2.00' };
    return prices;
  };

  it('accepts decimals of at most 12 places, a cached price left to default, and a start in the future', () => {
    expect(priceBookErrors(filled(), '2026-12-01T00:00', false, now)).toEqual({});
    expect(priceBookErrors(filled(), '', false, now)).toEqual({});
  });

  it('names each bad price, and a start in the past unless it is a correction', () => {
    const prices = filled();
    prices.base.input = 'abc';
    prices.premier.output = '1.0000000000001';
    prices.specialized.output = '';
    expect(Object.keys(priceBookErrors(prices, '2026-11-01T00:00', false, now)).sort()).toEqual([
      'base.input', 'effective_from', 'premier.output', 'specialized.output',
    ]);
    expect(priceBookErrors(filled(), '2026-11-01T00:00', true, now)).toEqual({});
  });

  it('sends the tiers as typed rates, trimmed, a blank cached price left out to default', () => {
    const prices = filled();
    prices.premier = { ...emptyRates(), input: ' 15.00 ', cached_input: '7.50', output: '60.00' };
    expect(tierRates(prices)).toEqual({
      base: { input: '1.00', output: '2.00' },
      specialized: { input: '1.00', output: '2.00' },
      premier: { input: '15.00', cached_input: '7.50', output: '60.00' },
    });
  });
});

describe('budgetTree', () => {
  const unit = (id: string, parent_id: string | null, kind: 'department' | 'team' = 'team') => ({ id, name: id, kind, parent_id, created_at: '' });
  const person = (id: string, unit_id: string) => ({ id, name: id, unit_id, active: true, created_at: '', deactivated_at: null });
  const burn = (node: string) => ({ node }) as Burn;

  it('puts units under their parents and people under their unit, depth first', () => {
    const tree = budgetTree('Acme', [unit('team-b', 'eng'), unit('eng', null, 'department'), unit('team-a', 'eng')], [person('ada', 'team-a')], [burn('unit:eng')], 'all');
    expect(tree.map((n) => [n.node, n.depth, n.parent])).toEqual([
      ['account', 0, null],
      ['unit:eng', 1, 'account'],
      ['unit:team-a', 2, 'unit:eng'],
      ['person:ada', 3, 'unit:team-a'],
      ['unit:team-b', 2, 'unit:eng'],
    ]);
    expect(tree.find((n) => n.node === 'unit:eng')!.burn).not.toBeNull();
  });

  it('shows a deactivated person only while a budget of theirs is in force, and says they are deactivated', () => {
    const gone = (id: string) => ({ ...person(id, 'eng'), active: false, deactivated_at: '2026-03-01T00:00:00Z' });
    const tree = budgetTree('Acme', [unit('eng', null)], [person('ada', 'eng'), gone('bob'), gone('cy')], [burn('person:bob')], 'all');
    expect(tree.map((n) => [n.node, n.name])).toEqual([
      ['account', 'Acme'],
      ['unit:eng', 'eng'],
      ['person:ada', 'ada'],
      ['person:bob', 'bob (deactivated)'],
    ]);
  });

  it('can leave out people without a budget', () => {
    const tree = budgetTree('Acme', [unit('eng', null)], [person('ada', 'eng'), person('bob', 'eng')], [burn('person:bob')], 'with-budget');
    expect(tree.map((n) => n.node)).toEqual(['account', 'unit:eng', 'person:bob']);
  });
});

describe('budgetEditBody', () => {
  const hard = { node: 'person:ada', enforcement: 'hard', thresholds: [75, 100] } as Burn;
  const edit = { node: 'person:ada', headcount: '', amount_limit: ' 120.00 ', token_limit: '5000' };

  it("keeps a budget's enforcement and thresholds, which the row does not edit (PUT replaces the whole budget)", () => {
    expect(budgetEditBody('quarter', edit, hard)).toEqual({
      body: { period: 'quarter', headcount: null, token_limit: 5000, amount_limit: '120.00', enforcement: 'hard', thresholds: [75, 100] },
    });
  });

  it('a node without a budget yet gets the defaults', () => {
    expect(budgetEditBody('month', { node: 'unit:eng', headcount: '3', amount_limit: '', token_limit: '' }, null)).toEqual({
      body: { period: 'month', headcount: 3, token_limit: null, amount_limit: null },
    });
  });

  it('names the period shown when it is not the current one, so the budget set is that period\'s', () => {
    expect(budgetEditBody('month', edit, hard, '2027-01-01')).toEqual({
      body: { period: 'month', period_start: '2027-01-01', headcount: null, token_limit: 5000, amount_limit: '120.00', enforcement: 'hard', thresholds: [75, 100] },
    });
  });

  it('refuses a count that is not a whole number instead of sending it as null (which clears the limit)', () => {
    expect(budgetEditBody('month', { ...edit, headcount: 'three' }, hard)).toMatchObject({ field: 'headcount' });
    expect(budgetEditBody('month', { ...edit, token_limit: '1.5' }, hard)).toMatchObject({ field: 'token_limit' });
    expect(budgetEditBody('month', { ...edit, token_limit: '1e6' }, hard)).toMatchObject({ field: 'token_limit' });
  });

  it('refuses an amount limit that is not a plain decimal (a thousands comma, a decimal comma) before sending it', () => {
    for (const typo of ['1,000', '5,5', '12.', 'ten', '-3']) {
      expect(budgetEditBody('month', { ...edit, amount_limit: typo }, hard)).toMatchObject({ field: 'amount_limit', error: expect.stringMatching(/^The amount limit is a decimal number/) });
    }
  });
});

describe('the budget transfer form', () => {
  const form = { ...emptyTransfer(), from: 'unit:a', to: 'unit:b' };

  it('refuses what the API would refuse by its field name, each on its own field', () => {
    expect(transferErrors(emptyTransfer())).toEqual({ from: expect.any(String), to: expect.any(String), amount: 'Give an amount, a headcount or tokens to move.' });
    expect(transferErrors({ ...form, to: 'unit:a', amount: '1' })).toEqual({ to: 'Choose another budget than the one it comes from.' });
    expect(transferErrors({ ...form, amount: '5,5', headcount: 'one', tokens: '1e6' })).toEqual({
      amount: expect.stringMatching(/^The amount is a decimal number/),
      headcount: 'A whole number of people.',
      tokens: 'A whole number of tokens.',
    });
    expect(transferErrors({ ...form, amount: ' 5.50 ' })).toEqual({});
  });

  it('sends only what moves, counts as numbers and the amount as typed (never NaN as null)', () => {
    expect(transferBody({ ...form, amount: ' 5.50 ' }, 'month')).toEqual({ from: 'unit:a', to: 'unit:b', period: 'month', amount: '5.50' });
    expect(transferBody({ ...form, headcount: '2', tokens: '1000' }, 'year', '2027-01-01')).toEqual({ from: 'unit:a', to: 'unit:b', period: 'year', period_start: '2027-01-01', headcount: 2, tokens: 1000 });
  });

  it('says what moved in words, leaving out what did not', () => {
    const show = (moved: { amount: string; headcount: number; tokens: number }) => movedText(moved, (v) => money(v, 'EUR', 2), (n) => n.toLocaleString('en'));
    expect(show({ amount: '5.000000', headcount: 0, tokens: 0 })).toBe('5.00 EUR');
    expect(show({ amount: '0', headcount: 1, tokens: 20000 })).toBe('1 head, 20,000 tokens');
    expect(countsText(1, 1)).toBe('1 person, 1 agent');
    expect(countsText(0, 3)).toBe('0 people, 3 agents');
  });

  it('says an overrun as such, never a negative amount left', () => {
    const eur = (v: string) => money(v, 'EUR', 2);
    expect(leftText('19.77', eur)).toBe('19.77 EUR');
    expect(leftText('-3.5', eur)).toBe('3.50 EUR over');
    expect(leftText('-0.00', eur)).toBe('0.00 EUR');
    expect(leftText(-413117, (v) => `${Number(v).toLocaleString('en')} tokens`)).toBe('413,117 tokens over');
    expect(limitText('2026-12-04T18:57:00Z', '2026-12-04T18:57:00Z', (iso) => iso)).toBe(' · limit reached');
    expect(limitText('2026-12-20T00:00:00Z', '2026-12-04T18:57:00Z', (iso) => iso.slice(0, 10))).toBe(' · limit on 2026-12-20');
    expect(limitText(null, '2026-12-04T18:57:00Z', (iso) => iso)).toBe('');
  });

  it('names the meter’s tightest budget as its reader says it, not by the API’s node key', () => {
    expect(budgetNodeText('person:ada', 'ada')).toBe('your own budget');
    expect(budgetNodeText('person:bob', 'ada')).toBe('the budget of bob');
    expect(budgetNodeText('unit:platform', 'ada')).toBe('the budget of unit platform');
    expect(budgetNodeText('account', null)).toBe('the account’s budget');
  });
});

describe('budget periods of the fiscal calendar', () => {
  it('counts years and quarters from the fiscal start month, months by the calendar, as the service does', () => {
    const at = new Date('2026-12-03T16:00:00Z');
    expect(budgetPeriodOf('year', 1, at)).toEqual({ kind: 'year', start: '2026-01-01', end: '2027-01-01' });
    expect(budgetPeriodOf('year', 4, at)).toEqual({ kind: 'year', start: '2026-04-01', end: '2027-04-01' });
    expect(budgetPeriodOf('quarter', 2, at)).toEqual({ kind: 'quarter', start: '2026-11-01', end: '2027-02-01' });
    expect(budgetPeriodOf('quarter', 2, new Date('2026-01-31T23:59:59Z'))).toEqual({ kind: 'quarter', start: '2025-11-01', end: '2026-02-01' });
    expect(budgetPeriodOf('month', 7, at)).toEqual({ kind: 'month', start: '2026-12-01', end: '2027-01-01' });
  });

  it('steps to the next and previous period, across years', () => {
    const december = budgetPeriodOf('month', 1, new Date('2026-12-03T00:00:00Z'));
    expect(stepPeriod(december, 1, 1)).toEqual({ kind: 'month', start: '2027-01-01', end: '2027-02-01' });
    expect(stepPeriod(december, 1, -12).start).toBe('2025-12-01');
    expect(stepPeriod(budgetPeriodOf('quarter', 4, new Date('2027-02-10T00:00:00Z')), 4, 1)).toEqual({ kind: 'quarter', start: '2027-04-01', end: '2027-07-01' });
  });

  it('a period is the one the service counts (counters.ts periodOf, which it copies), holds the day it is asked for, starts on a first of a month, and the next one starts where it ends', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }),
        fc.constantFrom<PeriodKind>('year', 'quarter', 'month'),
        fc.integer({ min: 1, max: 12 }),
        (at, kind, fiscal) => {
          const p = budgetPeriodOf(kind, fiscal, at);
          const service = periodOf(kind, fiscal, at);
          expect(p).toEqual({ kind, start: service.start.toISOString().slice(0, 10), end: service.end.toISOString().slice(0, 10) });
          expect(parseDay(p.start)!.getTime()).toBeLessThanOrEqual(at.getTime());
          expect(parseDay(p.end)!.getTime()).toBeGreaterThan(at.getTime());
          expect(p.start.endsWith('-01')).toBe(true);
          if (kind !== 'month') expect((Number(p.start.slice(5, 7)) - fiscal + 12) % (kind === 'year' ? 12 : 3)).toBe(0);
          expect(stepPeriod(p, fiscal, 1).start).toBe(p.end);
          expect(stepPeriod(stepPeriod(p, fiscal, 1), fiscal, -1)).toEqual(p);
        },
      ),
    );
  });

  it('says whether a period is current, to come or ended', () => {
    const march = { kind: 'month' as const, start: '2027-03-01', end: '2027-04-01' };
    expect(periodStanding(march, new Date('2027-02-28T23:59:59Z'))).toBe('to come');
    expect(periodStanding(march, new Date('2027-03-01T00:00:00Z'))).toBe('current');
    expect(periodStanding(march, new Date('2027-04-01T00:00:00Z'))).toBe('ended');
  });

  describe('the period the budgets page shows, by the service’s clock', () => {
    // The service's answer: May 2031 is in force by its clock.
    const may = { kind: 'month' as const, start: '2031-05-01', end: '2031-06-01' };
    const listed = { period: may, as_of: '2031-05-15T12:00:00.000Z' };
    afterEach(() => jest.useRealTimers());

    it('names the period in force as the service listed it, and the standing of a picked one by its as_of, whatever this browser’s clock says', () => {
      for (const browser of ['2026-12-03T16:00:00Z', '2031-05-15T12:00:00Z', '2040-01-01T00:00:00Z']) {
        jest.useFakeTimers({ now: new Date(browser) });
        expect(periodShown({ kind: 'month', start: null }, 1, listed)).toEqual({ period: may, standing: 'current' });
        // Even with no budget in force (the listing names its period anyway) and before the account is read.
        expect(periodShown({ kind: 'month', start: null }, null, { ...listed })).toEqual({ period: may, standing: 'current' });
        expect(periodShown({ kind: 'month', start: '2031-04-01' }, 1, listed)).toEqual({ period: { kind: 'month', start: '2031-04-01', end: '2031-05-01' }, standing: 'ended' });
        expect(periodShown({ kind: 'month', start: '2031-06-01' }, 1, listed)).toEqual({ period: { kind: 'month', start: '2031-06-01', end: '2031-07-01' }, standing: 'to come' });
        expect(periodShown({ kind: 'month', start: '2031-05-01' }, 1, listed).standing).toBe('current');
      }
    });

    it('knows no standing before the service answered (or when it refused), and no period in force', () => {
      expect(periodShown({ kind: 'quarter', start: null }, 4, null)).toEqual({ period: null, standing: null });
      // An answer for another kind is not this one's.
      expect(periodShown({ kind: 'quarter', start: null }, 4, listed)).toEqual({ period: null, standing: null });
      // A picked period is named by the fiscal calendar alone (a day of it picks the period holding it).
      expect(periodShown({ kind: 'quarter', start: '2031-07-01' }, 4, null)).toEqual({ period: { kind: 'quarter', start: '2031-07-01', end: '2031-10-01' }, standing: null });
      expect(periodShown({ kind: 'quarter', start: '2031-07-01' }, null, null)).toEqual({ period: null, standing: null });
    });

    it('places a picked period against the service’s time exactly as periodStanding does, and calls the one it lists in force current', () => {
      fc.assert(
        fc.property(
          fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }),
          fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }),
          fc.constantFrom<PeriodKind>('year', 'quarter', 'month'),
          fc.integer({ min: 1, max: 12 }),
          (asOf, day, kind, fiscal) => {
            const inForce = budgetPeriodOf(kind, fiscal, asOf);
            const answer = { period: inForce, as_of: asOf.toISOString() };
            expect(periodShown({ kind, start: null }, fiscal, answer)).toEqual({ period: inForce, standing: 'current' });
            const picked = budgetPeriodOf(kind, fiscal, day);
            expect(periodShown({ kind, start: picked.start }, fiscal, answer)).toEqual({ period: picked, standing: periodStanding(picked, asOf) });
          },
        ),
      );
    });
  });

  it('reads only real days from the date input', () => {
    expect(parseDay('2027-02-29')).toBeNull();
    expect(parseDay('')).toBeNull();
    expect(parseDay('2028-02-29')).toEqual(new Date('2028-02-29T00:00:00Z'));
  });
});

describe('periodText', () => {
  it('names a period by its first and last day: the end is exclusive', () => {
    expect(periodText('2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z')).toBe('1 Oct 2026 – 31 Oct 2026');
    expect(periodText('2026-01-15T00:00:00.000Z', '2026-02-15T00:00:00.000Z')).toBe('15 Jan 2026 – 14 Feb 2026');
  });
});

describe('page addresses', () => {
  it('carry parameters after the page that read back as written', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const href = pageHref('invoices', { invoice: value });
        expect(hashParam('invoice', href)).toBe(value === '' ? null : value);
      }),
    );
    expect(pageHref('invoices', { invoice: 'inv_1' })).toBe('#/invoices?invoice=inv_1');
    expect(pageHref('invoices', { invoice: null })).toBe('#/invoices');
    expect(hashParam('invoice', '#/invoices')).toBeNull();
  });

  it('keep the budget period picked: its kind and first day, none for the one in force', () => {
    expect(budgetsHref({ kind: 'month', start: '2027-01-01' })).toBe('#/budgets?period=month&start=2027-01-01');
    expect(budgetsHref({ kind: 'quarter', start: null })).toBe('#/budgets?period=quarter');
    for (const picked of [{ kind: 'month', start: '2027-01-01' }, { kind: 'year', start: null }] as const) {
      const href = budgetsHref(picked);
      expect(pickedPeriod(hashParam('period', href), hashParam('start', href))).toEqual(picked);
    }
    // An address written by hand: what it does not name as a kind or a day is the default.
    expect(pickedPeriod(null, null)).toEqual({ kind: 'year', start: null });
    expect(pickedPeriod('week', '2027-02-30')).toEqual({ kind: 'year', start: null });
  });
});

describe('credit forms', () => {
  const now = new Date('2026-11-30T12:00:00Z');

  it('a grant: a positive decimal amount, priority 1-1000, days 1-3650 or a later date, never both', () => {
    expect(grantErrors({ ...emptyGrant(), amount: '25.00' }, now)).toEqual({});
    expect(Object.keys(grantErrors({ ...emptyGrant(), amount: '' }, now))).toEqual(['amount']);
    expect(grantErrors({ ...emptyGrant(), amount: '0.000' }, now).amount).toBe('The amount is more than zero.');
    expect(Object.keys(grantErrors({ ...emptyGrant(), amount: '1e3' }, now))).toEqual(['amount']);
    expect(Object.keys(grantErrors({ amount: '5', priority: '0', validity_days: '3651', expires_on: '', reason: '' }, now)).sort()).toEqual(['priority', 'validity_days']);
    expect(Object.keys(grantErrors({ ...emptyGrant(), amount: '5', expires_on: '2026-11-30' }, now))).toEqual(['expires_on']);
    expect(Object.keys(grantErrors({ ...emptyGrant(), amount: '5', expires_on: '2026-12-31', validity_days: '30' }, now))).toEqual(['expires_on']);
  });

  it('sends the amount exactly as typed (a string, never a float) and only the fields given', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[1-9]\d{0,20}\.\d{1,12}$/), (amount) => {
        expect(grantErrors({ ...emptyGrant(), amount }, now)).toEqual({});
        expect(grantBody({ ...emptyGrant(), amount })).toEqual({ amount });
      }),
    );
    expect(grantBody({ amount: ' 10.10 ', priority: '5', validity_days: '', expires_on: '2027-01-01', reason: ' promo ' })).toEqual({
      amount: '10.10', priority: 5, expires_at: '2027-01-01T00:00:00.000Z', reason: 'promo',
    });
  });

  it('a top-up: a pack and a slug purchase id; the suggested id is one', () => {
    expect(purchaseId(now)).toBe('topup-20261130-120000');
    expect(topupErrors({ id: purchaseId(now), pack: 'small' })).toEqual({});
    expect(Object.keys(topupErrors({ id: 'PO 17', pack: '' })).sort()).toEqual(['id', 'pack']);
  });
});

describe('whileCurrent', () => {
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  it('hands on the answer (or the failure) of the current request and drops one that arrives after cleanup', async () => {
    const seen: string[] = [];
    // An old question answered late, after the newer one: only the newer's answer is kept.
    let answerOld: (v: string) => void = () => {};
    const stopOld = whileCurrent(new Promise<string>((resolve) => (answerOld = resolve)), (v) => seen.push(v));
    stopOld();
    whileCurrent(Promise.resolve('new'), (v) => seen.push(v));
    await settle();
    answerOld('old');
    await settle();
    expect(seen).toEqual(['new']);

    const failures: unknown[] = [];
    whileCurrent(Promise.reject(new Error('refused')), () => seen.push('never'), (f) => failures.push((f as Error).message));
    const stopFailed = whileCurrent(Promise.reject(new Error('late')), () => undefined, (f) => failures.push(f));
    stopFailed();
    await settle();
    expect(failures).toEqual(['refused']);
    expect(seen).toEqual(['new']);
  });
});

describe('the operations CSV file name', () => {
  it('names the account, and the range when the filters have one', () => {
    expect(csvFileName('acme', { from: '', to: '' })).toBe('operations-acme.csv');
    expect(csvFileName('acme', { from: '2026-12-01T00:00', to: '2026-12-05T12:30' })).toBe('operations-acme-2026-12-01-0000-to-2026-12-05-1230.csv');
    expect(csvFileName('acme', { from: '2026-12-01T00:00', to: '' })).toBe('operations-acme-2026-12-01-0000-to-now.csv');
    expect(csvFileName('acme', { from: '', to: '2026-12-05T12:30' })).toBe('operations-acme-start-to-2026-12-05-1230.csv');
  });
});
