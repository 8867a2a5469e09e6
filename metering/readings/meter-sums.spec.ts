import fc from 'fast-check';
import { Dec, formatExact } from '../../tiers/pricing/decimal.js';
import { addCosts, formatCost } from './meter-sums.js';

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
