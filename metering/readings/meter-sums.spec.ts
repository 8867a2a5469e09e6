import fc from 'fast-check';
import { Dec, formatExact } from '../../tiers/pricing/decimal.js';
import { addCosts, addSums, formatCost, fromSumRow, readingRows, SUM_TEXT_ORDER, sumRowOf, SumsTotal, withRatio, zeroSums, type KeyedSumRow, type SumRow } from './meter-sums.js';

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
    unpriced: count,
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
    const big = fromSumRow({ calls: String(Number.MAX_SAFE_INTEGER), input: '0', cached_input: '0', cache_write: '0', output: '0', reasoning: '0', cost: '0', unpriced: '0', effective: '0', ineffective: '0' });
    total.add(big);
    expect(() => total.add(big)).toThrow(/not a safe integer/);
  });
});

describe('readingRows', () => {
  /** A group's sums as the meter's SQL answers them, and its key columns. */
  type SqlRow = SumRow & { k_hour: string | null; k_label: string | null };
  // As PostgreSQL prints sums: counts of 0 to 10^17 (past 2^53, toCount's check), costs in any form.
  const count = fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.bigInt({ min: 0n, max: 10n ** 17n })).map(String);
  const key = fc.option(fc.constantFrom('', 'a', 'effective', '2026-11-30T14:00:00.000Z', 'x,y'), { nil: null });
  const row: fc.Arbitrary<SqlRow> = fc.record({
    k_hour: key,
    k_label: key,
    calls: count,
    input: count,
    cached_input: count,
    cache_write: count,
    output: count,
    reasoning: count,
    cost: fc.oneof(decimalText, fc.constantFrom('1e-3', '2.5E2', '0', '-0.000')),
    unpriced: count,
    effective: count,
    ineffective: count,
  });
  const asSql = (r: SqlRow): KeyedSumRow => ({ k_hour: r.k_hour, k_label: r.k_label, sums: SUM_TEXT_ORDER.map((name) => r[name]).join(' ') });

  /** What ReadingsService built before readingRows: a fold of fromSumRow, withRatio and SumsTotal.add over the ten columns. */
  function reference(rows: readonly SqlRow[], groupBy: readonly string[]) {
    const totals = new SumsTotal();
    const out = rows.map((r) => {
      const sums = fromSumRow(r);
      totals.add(sums);
      const k: Record<string, string | null> = {};
      for (const d of groupBy) {
        const value = (r as unknown as Record<string, string | null>)[`k_${d}`] ?? '';
        k[d] = value === '' ? null : value;
      }
      return { key: k, ...withRatio(sums) };
    });
    return { rows: out, totals: totals.sums(), labels: totals.labels() };
  }
  /** Both ways of reading `rows`, as JSON texts (or the error each threw). */
  const both = (rows: readonly SqlRow[], groupBy: readonly string[]) => {
    const attempt = (f: () => unknown) => {
      try {
        return JSON.stringify(f());
      } catch (error) {
        // Which count is named first may differ (they read the fields in another order); that one is refused may not.
        return `threw ${/not a safe integer/.test((error as Error).message) ? 'an unsafe count' : (error as Error).message}`;
      }
    };
    return [attempt(() => readingRows(rows.map(asSql), groupBy)), attempt(() => reference(rows, groupBy))];
  };

  it('answers the rows and totals the fold did, byte for byte (or refuses the same counts)', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), fc.constantFrom([], ['hour'], ['label'], ['hour', 'label'], ['label', 'hour']), (rows, groupBy) => {
        const [fast, slow] = both(rows, groupBy);
        expect(fast).toBe(slow);
      }),
      { numRuns: 2000 },
    );
  });

  it('sums long readings of costs as a rollup prints them (fixed scale, some negative) exactly', () => {
    const cost = fc
      .tuple(fc.boolean(), fc.integer({ min: 0, max: 999_999 }), fc.stringMatching(/^[0-9]{18}$/))
      .map(([negative, int, fraction]) => `${negative ? '-' : ''}${int}.${fraction}`);
    const small = fc.bigInt({ min: 0n, max: 10n ** 6n }).map(String);
    const plain = fc.tuple(row, cost, small, small).map(([r, c, n, m]) => ({ ...r, cost: c, calls: n, input: m, output: n, effective: m }));
    fc.assert(
      fc.property(fc.array(plain, { minLength: 100, maxLength: 800, size: 'max' }), (rows) => {
        const [fast, slow] = both(rows, ['hour']);
        expect(fast).toBe(slow);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps every count a safe integer, and reads the sums text only whole', () => {
    const big = { sums: `${Number.MAX_SAFE_INTEGER} 0 0 0 0 0 0 0 0 0` };
    expect(() => readingRows([big, big], [])).toThrow(/not a safe integer/);
    const unpricedBig = { sums: `1 ${Number.MAX_SAFE_INTEGER} 0 0 0 0 ${Number.MAX_SAFE_INTEGER} 0 0 0` };
    expect(() => readingRows([unpricedBig, unpricedBig], [])).toThrow(/not a safe integer/);
    expect(() => readingRows([{ sums: '1 2 3 4 5 6 7 8 9' }], [])).toThrow(/end early/);
    expect(() => readingRows([{ sums: '1 2 x 4 5 6 7 8 9 0.5' }], [])).toThrow(/not counts/);
    expect(sumRowOf('1 2 3 4 5 6 7 8 9 -0.5')).toEqual({ calls: '1', input: '2', cached_input: '3', cache_write: '4', output: '5', reasoning: '6', unpriced: '7', effective: '8', ineffective: '9', cost: '-0.5' });
    expect(readingRows([{ sums: '2 10 0 0 5 0 7 0 0 0.5' }], []).totals).toMatchObject({ calls: 2, tokens: { total: 15 }, cost: '0.500000000000', unpriced_tokens: 7 });
  });
});
