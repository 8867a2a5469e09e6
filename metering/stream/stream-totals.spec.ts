import fc from 'fast-check';
import { addSums, effectiveRatio, fromSumRow, toCount, withRatio, zeroSums } from '../readings/meter-sums.js';
import type { EventView } from '../readings/event-view.js';
import { addOperation, inPeriod, inScope, streamTotals } from './stream-totals.js';

describe('meter sums', () => {
  it('reads PostgreSQL text sums, nulls as zero', () => {
    const s = withRatio(
      fromSumRow({ calls: '3', input: '10', cached_input: '5', cache_write: '1', output: '7', reasoning: '2', cost: '0.5', unpriced: '6', effective: '12', ineffective: '4' }),
    );
    expect(s).toEqual({
      calls: 3,
      tokens: { input: 10, cached_input: 5, cache_write: 1, output: 7, reasoning: 2, total: 23 },
      cost: '0.500000000000',
      unpriced_tokens: 6,
      effective_ratio: 0.75,
    });
    expect(withRatio(fromSumRow({ calls: null, input: null, cached_input: null, cache_write: null, output: null, reasoning: null, cost: null, unpriced: null, effective: null, ineffective: null }))).toEqual(
      withRatio(zeroSums()),
    );
  });

  it('refuses counts a JS number cannot hold', () => {
    expect(() => toCount('9007199254740993')).toThrow();
    expect(toCount('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('the ratio is null without effective or ineffective tokens', () => {
    expect(effectiveRatio(0, 0)).toBeNull();
    expect(effectiveRatio(0, 5)).toBe(0);
  });

  it('adding sums is exact for costs and keeps the token law total = input + cached + write + output', () => {
    const row = fc.record({
      calls: fc.nat(1000).map(String),
      input: fc.nat(1e9).map(String),
      cached_input: fc.nat(1e9).map(String),
      cache_write: fc.nat(1e9).map(String),
      output: fc.nat(1e9).map(String),
      reasoning: fc.nat(1e6).map(String),
      cost: fc.bigInt({ min: 0n, max: 10n ** 20n }).map((n) => `${n / 10n ** 12n}.${String(n % 10n ** 12n).padStart(12, '0')}`),
      unpriced: fc.nat(1e9).map(String),
      effective: fc.nat(1e9).map(String),
      ineffective: fc.nat(1e9).map(String),
    });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 20 }), (rows) => {
        const total = rows.map(fromSumRow).reduce(addSums, zeroSums());
        const t = total.sums.tokens;
        expect(t.total).toBe(t.input + t.cached_input + t.cache_write + t.output);
        const micro = rows.reduce((n, r) => n + BigInt(r.cost.replace('.', '')), 0n);
        expect(total.sums.cost.replace('.', '').replace(/^0+(?=\d)/, '')).toBe(micro.toString());
        expect(total.sums.unpriced_tokens).toBe(rows.reduce((n, r) => n + Number(r.unpriced), 0));
      }),
    );
  });
});

describe('stream totals', () => {
  const event = (over: Partial<EventView> = {}): EventView => ({
    id: 'e',
    timestamp: '2026-03-15T10:00:00.000Z',
    received_at: '2026-03-15T10:00:01.000Z',
    person_id: 'p',
    agent_id: 'a',
    unit_id: 'u',
    session_id: null,
    session_context: null,
    task_id: null,
    attempt_id: null,
    outcome: null,
    error_signature: null,
    operation: 'op',
    channel: 'cli',
    model: 'm',
    model_name: 'm',
    tier: 'base',
    priced: true,
    tokens: { input: 100, cached_input: 0, cache_write: 0, output: 50, reasoning: 10, total: 150 },
    cost: { input: '0.1', cached_input: '0', cache_write: '0', output: '0.2', reasoning: '0', total: '0.3' },
    label: 'unclassified',
    adjustment: false,
    metadata: null,
    ...over,
  });

  it('adds an operation: one call, its tokens, its cost (for an unpriced one no cost, its tokens as unpriced)', () => {
    let totals = streamTotals(withRatio(zeroSums()));
    totals = addOperation(totals, event());
    totals = addOperation(totals, event({ cost: null, priced: false }));
    expect(totals).toEqual({
      calls: 2,
      tokens: { input: 200, cached_input: 0, cache_write: 0, output: 100, reasoning: 20, total: 300 },
      cost: '0.300000000000',
      unpriced_tokens: 150,
    });
  });

  it('knows whether an operation is in the period', () => {
    const period = { from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-04-01T00:00:00Z') };
    expect(inPeriod(event(), period)).toBe(true);
    expect(inPeriod(event({ timestamp: '2026-02-28T23:59:59.999Z' }), period)).toBe(false);
    expect(inPeriod(event({ timestamp: '2026-04-01T00:00:00.000Z' }), period)).toBe(false);
  });
});

describe('stream scope', () => {
  const op = (person: string | null, unit: string | null) => ({ person_id: person, unit_id: unit });
  const member = { personId: 'ada', unitId: 'team' };

  it('shows a member their own operations and their unit\'s, narrowed to a person when asked', () => {
    expect(inScope(op('ada', 'other'), { person: null, visible: member })).toBe(true);
    expect(inScope(op('bo', 'team'), { person: null, visible: member })).toBe(true);
    expect(inScope(op('cy', 'other'), { person: null, visible: member })).toBe(false);
    expect(inScope(op(null, null), { person: null, visible: member })).toBe(false);
    expect(inScope(op('bo', 'team'), { person: 'ada', visible: member })).toBe(false);
    expect(inScope(op('bo', 'team'), { person: 'bo', visible: member })).toBe(true);
    // Without a unit, only their own.
    expect(inScope(op('bo', null), { person: null, visible: { personId: 'ada', unitId: null } })).toBe(false);
  });

  it('shows finance everything, or one person', () => {
    fc.assert(
      fc.property(fc.option(fc.string(), { nil: null }), fc.option(fc.string(), { nil: null }), (person, unit) => {
        expect(inScope(op(person, unit), { person: null, visible: null })).toBe(true);
        expect(inScope(op(person, unit), { person: 'ada', visible: null })).toBe(person === 'ada');
      }),
    );
  });
});
