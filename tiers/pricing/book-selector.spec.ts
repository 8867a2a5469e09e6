import fc from 'fast-check';
import { bookSelector, selectPriceBook } from './pricing.js';

describe('bookSelector', () => {
  it('answers exactly as selectPriceBook for any books and timestamps', () => {
    const instant = fc
      .integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2027, 0, 1) })
      .map((ms) => new Date(Math.floor(ms / 3_600_000) * 3_600_000).toISOString());
    fc.assert(
      fc.property(
        fc.array(fc.record({ version: fc.integer({ min: 1, max: 5 }), effective_from: instant }), { maxLength: 8 }),
        fc.array(instant, { minLength: 1, maxLength: 10 }),
        (books, timestamps) => {
          const select = bookSelector(books);
          for (const ts of timestamps) {
            expect(select(ts)).toBe(selectPriceBook(books, ts));
            // An ingested event's time arrives as a Date: the same answer.
            expect(select(new Date(ts))).toBe(select(ts));
          }
        },
      ),
    );
  });

  it('compares a Date with books that start between two milliseconds exactly', () => {
    const books = [
      { version: 1, effective_from: '2026-01-01T00:00:00Z' },
      { version: 2, effective_from: '2026-03-01T00:00:00.000000500Z' },
      { version: 3, effective_from: '2026-03-01T01:00:00.001+01:00' },
    ];
    const select = bookSelector(books);
    expect(select(new Date('2026-03-01T00:00:00.000Z'))?.version).toBe(1);
    expect(select(new Date('2026-03-01T00:00:00.001Z'))?.version).toBe(3);
    expect(select(new Date('2025-12-31T23:59:59.999Z'))).toBeUndefined();
  });
});
