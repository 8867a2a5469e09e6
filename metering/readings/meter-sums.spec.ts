import fc from 'fast-check';
import { Dec, formatExact } from '../../tiers/pricing/decimal.js';
import { addCosts, addSums, formatCost, fromSumRow, readingRows, SumsTotal, withRatio, zeroSums, type KeyedSumRow, type SumRow } from './meter-sums.js';

/** Decimal strings as PostgreSQL prints numerics: optional minus, digits, optional fraction (zeros included). */
const decimalText = fc
  .tuple(fc.boolean(), fc.stringMatching(/^[0-9]{1,25}$/), fc.option(fc.stringMatching(/^[0-9]{1,30}$/)))
  .map(([negative, int, fraction]) => `${negative ? '-' : ''}${int.replace(/^0+(?=[0-9])/, '')}${fraction === null ? '' : `.${fraction}`}`);

describe('costs read as whole numbers of their last place', () => {
  it('format exactly as Decimal does', () => {
    fc.assert(fc.property(decimalText, (text) => expect(formatCost(text)).toBe(formatExact(new Dec(text)))), { numRuns: 2000 });
    expect(formatCost('-0.000')).toBe('0.000000000000');
    expect(formatCost('12.5')).toBe('12.500000000000');
    expect(formatCost('0.0000000000001230')).toBe('0.000000000000123');
  });

  it('add exactly as Decimal does', () => {
    fc.assert(
      fc.property(decimalText, decimalText, (a, b) => expect(addCosts(a, b)).toBe(formatExact(new Dec(a).plus(b)))),
      { numRuns: 2000 },
    );
    expect(addCosts('0.1', '-0.100000000000000000')).toBe('0.000000000000');
  });

  it('still take any other form through Decimal', () => {
    expect(formatCost(new Dec('1.5'))).toBe('1.500000000000');
    expect(formatCost(null)).toBe('0.000000000000');
    expect(addCosts('1e-3', '1')).toBe('1.001000000000');
  });
});

describe('SumsTotal', () => {
  const count = fc.option(fc.bigInt({ min: 0n, max: 10n ** 12n }).map(String), { nil: null });
  const row: fc.Arbitrary<SumRow> = fc.record({
    calls: count,
    input: count,
    cached_input: count,
    cache_write: count,
    output: count,
    reasoning: count,
    cost: fc.option(fc.oneof(decimalText, fc.constantFrom('1e-3', '2.5E2')), { nil: null }),
    effective: count,
    ineffective: count,
  });

  it('totals rows exactly as folding addSums over them does, byte for byte', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), (rows) => {
        const total = new SumsTotal();
        for (const r of rows) total.add(fromSumRow(r));
        const folded = withRatio(rows.map(fromSumRow).reduce(addSums, zeroSums()));
        expect(JSON.stringify(total.sums())).toBe(JSON.stringify(folded));
      }),
      { numRuns: 1000 },
    );
  });

  it('no rows: zero, with a cost of twelve places', () => {
    expect(new SumsTotal().sums()).toEqual(withRatio(zeroSums()));
    expect(new SumsTotal().sums().cost).toBe('0.000000000000');
  });

  it('keeps every count a safe integer, as addSums does', () => {
    const total = new SumsTotal();
    const big = fromSumRow({ calls: String(Number.MAX_SAFE_INTEGER), input: '0', cached_input: '0', cache_write: '0', output: '0', reasoning: '0', cost: '0', effective: '0', ineffective: '0' });
    total.add(big);
    expect(() => total.add(big)).toThrow(/not a safe integer/);
  });
});

describe('readingRows', () => {
  const count = fc.option(fc.bigInt({ min: 0n, max: 10n ** 12n }).map(String), { nil: null });
  const key = fc.option(fc.constantFrom('', 'a', 'effective', '2026-11-30T14:00:00.000Z', 'x,y'), { nil: null });
  const row: fc.Arbitrary<KeyedSumRow> = fc.record({
    k_hour: key,
    k_label: key,
    calls: count,
    input: count,
    cached_input: count,
    cache_write: count,
    output: count,
    reasoning: count,
    cost: fc.option(fc.oneof(decimalText, fc.constantFrom('1e-3', '2.5E2', '0', '-0.000')), { nil: null }),
    effective: count,
    ineffective: count,
  });

  /** What ReadingsService built before readingRows: a fold of fromSumRow, withRatio and SumsTotal.add. */
  function reference(rows: readonly KeyedSumRow[], groupBy: readonly string[]) {
    const totals = new SumsTotal();
    const out = rows.map((r) => {
      const sums = fromSumRow(r);
      totals.add(sums);
      const k: Record<string, string | null> = {};
      for (const d of groupBy) {
        const value = r[`k_${d}`] ?? '';
        k[d] = value === '' ? null : value;
      }
      return { key: k, ...withRatio(sums) };
    });
    return { rows: out, totals: totals.sums() };
  }

  it('answers the rows and totals the fold did, byte for byte', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), fc.constantFrom([], ['hour'], ['label'], ['hour', 'label'], ['label', 'hour']), (rows, groupBy) => {
        expect(JSON.stringify(readingRows(rows, groupBy))).toBe(JSON.stringify(reference(rows, groupBy)));
      }),
      { numRuns: 2000 },
    );
  });

  it('sums long readings of costs as a rollup prints them (fixed scale, some negative) exactly', () => {
    const cost = fc
      .tuple(fc.boolean(), fc.integer({ min: 0, max: 999_999 }), fc.stringMatching(/^[0-9]{18}$/))
      .map(([negative, int, fraction]) => `${negative ? '-' : ''}${int}.${fraction}`);
    const plain = row.map((r) => r).chain((r) => cost.map((c) => ({ ...r, cost: c })));
    fc.assert(
      fc.property(fc.array(plain, { minLength: 100, maxLength: 800, size: 'max' }), (rows) => {
        expect(JSON.stringify(readingRows(rows, ['hour']))).toBe(JSON.stringify(reference(rows, ['hour'])));
      }),
      { numRuns: 60 },
    );
  });

  it('keeps every count a safe integer', () => {
    const big = { calls: String(Number.MAX_SAFE_INTEGER), input: '0', cached_input: '0', cache_write: '0', output: '0', reasoning: '0', cost: '0', effective: '0', ineffective: '0' };
    expect(() => readingRows([big, big], [])).toThrow(/not a safe integer/);
  });
});
