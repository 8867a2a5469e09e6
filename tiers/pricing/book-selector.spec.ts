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
          for (const ts of timestamps) expect(select(ts)).toBe(selectPriceBook(books, ts));
        },
      ),
    );
  });
});
