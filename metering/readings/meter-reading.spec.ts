import fc from 'fast-check';
import { meterReading, meterReadingJson, type ReadingRow } from './meter-reading.js';
import { GROUP_BY_DIMS, type GroupByDim } from './reading-query.js';

const count = fc.option(fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 13n }), fc.bigInt({ min: 0n, max: 9n })).map(String), { nil: null });
const decimal = fc
  .tuple(fc.boolean(), fc.stringMatching(/^[0-9]{1,20}$/), fc.option(fc.stringMatching(/^[0-9]{1,24}$/)))
  .map(([negative, int, fraction]) => `${negative ? '-' : ''}${int.replace(/^0+(?=[0-9])/, '')}${fraction === null ? '' : `.${fraction}`}`);
/** Dimension values as stored: '' where absent, any text (quotes, backslashes, control characters, emoji). */
const value = fc.oneof(fc.constant(''), fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('2026-11-01T00:00:00.000Z', 'a"b\\c\n\u0001\u2028', 'gpt-4o'));

const sums = fc.record({
  calls: count,
  input: count,
  cached_input: count,
  cache_write: count,
  output: count,
  reasoning: count,
  cost: fc.option(fc.oneof(decimal, fc.constantFrom('1e-3', '0')), { nil: null }),
  effective: count,
  ineffective: count,
});

const reading = fc.uniqueArray(fc.constantFrom(...GROUP_BY_DIMS), { maxLength: 3 }).chain((groupBy: GroupByDim[]) =>
  fc.record({
    groupBy: fc.constant(groupBy),
    from: fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-01-01T00:00:00Z'), noInvalidDate: true }),
    rows: fc.array(
      fc.record({ key: fc.tuple(...groupBy.map(() => value)).map((vs) => Object.fromEntries(groupBy.map((d, i) => [d, vs[i]!]))), sums }),
      { maxLength: 30 },
    ) as fc.Arbitrary<ReadingRow[]>,
  }),
);

describe('meterReadingJson', () => {
  it('is JSON.stringify of meterReading, byte for byte', () => {
    fc.assert(
      fc.property(reading, ({ groupBy, from, rows }) => {
        const q = { from, to: new Date(from.getTime() + 3_600_000), groupBy };
        expect(meterReadingJson(q, rows)).toBe(JSON.stringify(meterReading(q, rows)));
      }),
      { numRuns: 1500 },
    );
  });

  it('writes ratios as JavaScript does, tiny ones included, and null without tokens', () => {
    const row = (effective: string, ineffective: string): ReadingRow => ({
      key: { hour: '2026-11-01T00:00:00.000Z' },
      sums: { calls: '1', input: '3', cached_input: null, cache_write: '0', output: '1', reasoning: '0', cost: '0.5', effective, ineffective },
    });
    const q = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z'), groupBy: ['hour'] as GroupByDim[] };
    const rows = [row('1', '9999999'), row('1', '2'), row('0', '0'), row('5', '0')];
    const text = meterReadingJson(q, rows);
    expect(text).toBe(JSON.stringify(meterReading(q, rows)));
    expect(JSON.parse(text).rows.map((r: { effective_ratio: number | null }) => r.effective_ratio)).toEqual([1e-7, 1 / 3, null, 1]);
    expect(text).toContain('"effective_ratio":1e-7');
  });

  it('an empty reading: no rows, zero totals', () => {
    const q = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-01T01:00:00Z'), groupBy: [] as GroupByDim[] };
    expect(JSON.parse(meterReadingJson(q, []))).toEqual({
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-11-01T01:00:00.000Z',
      group_by: [],
      rows: [],
      totals: { calls: 0, tokens: { input: 0, cached_input: 0, cache_write: 0, output: 0, reasoning: 0, total: 0 }, cost: '0.000000000000', effective_ratio: null },
    });
  });
});
