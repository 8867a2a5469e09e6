import fc from 'fast-check';
import { hourlyBody, hourlyPiece } from './hourly-body.js';
import { readingRows, SUM_TEXT_ORDER, type KeyedSumRow } from './meter-sums.js';

const HOUR = 3_600_000;
const START = Date.parse('2026-11-01T00:00:00.000Z');

/** Counts as PostgreSQL prints sums (some negative, as a relabel's or a correction's can be). */
const count = fc.oneof(fc.integer({ min: 0, max: 10 ** 6 }), fc.integer({ min: -(10 ** 4), max: 10 ** 12 })).map(String);
/** Costs as PostgreSQL prints numerics: any scale, trailing zeros, negative, zero. */
const cost = fc
  .tuple(fc.boolean(), fc.stringMatching(/^[0-9]{1,12}$/), fc.option(fc.stringMatching(/^[0-9]{1,24}$/)))
  .map(([negative, int, fraction]) => `${negative ? '-' : ''}${int.replace(/^0+(?=[0-9])/, '')}${fraction === null ? '' : `.${fraction}`}`);

/** A month of an account's reading by hour as the meter's SQL answers it: distinct hours in order. */
const hourRows: fc.Arbitrary<KeyedSumRow[]> = fc
  .uniqueArray(fc.integer({ min: 0, max: 30 * 24 - 1 }), { maxLength: 120 })
  .chain((hours) => fc.tuple(fc.constant([...hours].sort((a, b) => a - b)), fc.array(fc.array(count, { minLength: SUM_TEXT_ORDER.length - 1, maxLength: SUM_TEXT_ORDER.length - 1 }), { minLength: hours.length, maxLength: hours.length }), fc.array(cost, { minLength: hours.length, maxLength: hours.length })))
  .map(([hours, counts, costs]) =>
    hours.map((h, i) => ({ k_hour: new Date(START + h * HOUR).toISOString(), sums: [...counts[i]!, costs[i]!].join(' ') })),
  );

describe('hourlyBody', () => {
  it('is what JSON.stringify of the whole reading gives, wherever the hours are split', () => {
    expect(SUM_TEXT_ORDER.at(-1)).toBe('cost');
    fc.assert(
      fc.property(hourRows, fc.nat(), (rows, at) => {
        const split = rows.length === 0 ? 0 : at % (rows.length + 1);
        const from = new Date(START).toISOString();
        const to = new Date(START + 30 * 24 * HOUR).toISOString();
        const whole = readingRows(rows, ['hour']);
        const body = hourlyBody(from, to, hourlyPiece(rows.slice(0, split)), hourlyPiece(rows.slice(split)));
        expect(body.toString('utf8')).toBe(JSON.stringify({ from, to, group_by: ['hour'], rows: whole.rows, totals: whole.totals }));
      }),
      { numRuns: 1000 },
    );
  });

  it('answers an empty reading as the whole one does', () => {
    const body = hourlyBody('a', 'b', hourlyPiece([]), hourlyPiece([]));
    expect(JSON.parse(body.toString('utf8'))).toEqual({ from: 'a', to: 'b', group_by: ['hour'], rows: [], totals: readingRows([], ['hour']).totals });
  });
});
