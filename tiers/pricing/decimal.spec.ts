import fc from 'fast-check';
import { Dec, formatExact, formatMoney, formatScaled, minorUnits, parseDecimal, roundMoney, toScaled } from './decimal.js';
import { PricingInputError } from './pricing-input-error.js';

function errorOf(f: () => unknown): PricingInputError {
  try {
    f();
  } catch (e) {
    if (e instanceof PricingInputError) return e;
    throw e;
  }
  throw new Error('expected a PricingInputError');
}

describe('parseDecimal', () => {
  it('accepts plain decimals up to 12 places', () => {
    expect(parseDecimal('0', 'p').toFixed()).toBe('0');
    expect(parseDecimal('15', 'p').toFixed()).toBe('15');
    expect(parseDecimal('0.000000000001', 'p').toFixed()).toBe('0.000000000001');
    expect(parseDecimal('123456789012345678901234.5', 'p').toFixed()).toBe('123456789012345678901234.5');
  });

  it.each([
    ['-1', 'NEGATIVE'],
    ['-0.5', 'NEGATIVE'],
    ['1e-3', 'EXPONENT_NOTATION'],
    ['2E5', 'EXPONENT_NOTATION'],
    ['abc', 'NOT_DECIMAL'],
    ['', 'NOT_DECIMAL'],
    [' 1', 'NOT_DECIMAL'],
    ['1.', 'NOT_DECIMAL'],
    ['.5', 'NOT_DECIMAL'],
    ['+1', 'NOT_DECIMAL'],
    ['0x10', 'NOT_DECIMAL'],
    ['NaN', 'NOT_DECIMAL'],
    ['Infinity', 'NOT_DECIMAL'],
    ['1,5', 'NOT_DECIMAL'],
    ['0.0000000000001', 'TOO_MANY_DECIMALS'],
  ])('rejects %j with %s', (raw, code) => {
    const err = errorOf(() => parseDecimal(raw, 'tiers.base.input'));
    expect(err.code).toBe(code);
    expect(err.field).toBe('tiers.base.input');
  });

  it('rejects non-strings, numbers included, so money never arrives as a float', () => {
    expect(errorOf(() => parseDecimal(0.1, 'x')).code).toBe('NOT_A_STRING');
    expect(errorOf(() => parseDecimal(null, 'x')).code).toBe('NOT_A_STRING');
  });

  it('honours a wider limit for exact costs and an explicit negative allowance', () => {
    expect(parseDecimal('0.000000000000000001', 'c', { maxDecimalPlaces: 18 }).toFixed()).toBe('0.000000000000000001');
    expect(parseDecimal('-2.5', 'c', { allowNegative: true }).toFixed()).toBe('-2.5');
  });
});

describe('formatExact', () => {
  it('keeps at least 12 places and never drops digits', () => {
    expect(formatExact(new Dec('1.5'))).toBe('1.500000000000');
    expect(formatExact(new Dec('0.000000000000000123'))).toBe('0.000000000000000123');
    expect(formatExact(new Dec('-0'))).toBe('0.000000000000');
  });
});

describe('formatScaled and toScaled (integers of 10^-scale)', () => {
  it('print exactly what formatExact prints for the same value', () => {
    expect(formatScaled(1_500_000_000_000_000_000n, 18)).toBe('1.500000000000');
    expect(formatScaled(123n, 18)).toBe('0.000000000000000123');
    expect(formatScaled(0n, 18)).toBe('0.000000000000');
    expect(formatScaled(-5n, 2, 0)).toBe('-0.05');
    expect(formatScaled(700n, 2, 0)).toBe('7');
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 14 }), (v, scale, min) => {
        const value = new Dec(v.toString()).dividedBy(new Dec(10).pow(scale));
        expect(formatScaled(v, scale, min)).toBe(formatExact(value, min));
        expect(toScaled(value, scale)).toBe(v);
      }),
    );
  });

  it('refuse a value with more places than the scale', () => {
    expect(toScaled(new Dec('0.0000000000001'), 12)).toBeNull();
    expect(toScaled(new Dec('12.5'), 1)).toBe(125n);
  });
});

describe('roundMoney (half-even to the minor unit)', () => {
  it.each([
    ['0.125', 'USD', '0.12'],
    ['0.135', 'USD', '0.14'],
    ['0.145', 'EUR', '0.14'],
    ['0.1250000000001', 'USD', '0.13'],
    ['-0.125', 'USD', '-0.12'],
    ['-0.001', 'USD', '0.00'],
    ['2.5', 'JPY', '2'],
    ['3.5', 'JPY', '4'],
    ['1234.5', 'KRW', '1234'],
    ['1.0005', 'KWD', '1.000'],
    ['1.0015', 'KWD', '1.002'],
  ])('%s %s -> %s', (amount, currency, expected) => {
    expect(formatMoney(amount, currency)).toBe(expected);
    expect(roundMoney(new Dec(amount), currency).toFixed(minorUnits(currency))).toBe(expected);
  });

  it('defaults unknown currencies to 2 places and rejects malformed codes', () => {
    expect(minorUnits('CHF')).toBe(2);
    expect(errorOf(() => minorUnits('usd')).code).toBe('INVALID_CURRENCY');
    expect(errorOf(() => minorUnits('US')).code).toBe('INVALID_CURRENCY');
  });

  it('does not lose precision before rounding (no early rounding at 20 digits)', () => {
    const tiny = new Dec('1000000000000').plus('0.005').plus('0.000000000000000001');
    expect(formatMoney(tiny, 'USD')).toBe('1000000000000.01');
  });

  it('rounds to at most one minor unit away and is idempotent', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.integer({ min: 0, max: 18 }), (units, dp) => {
        const s = units.toString();
        const neg = s.startsWith('-');
        const digits = (neg ? s.slice(1) : s).padStart(dp + 1, '0');
        const literal = `${neg ? '-' : ''}${digits.slice(0, digits.length - dp)}${dp > 0 ? '.' + digits.slice(-dp) : ''}`;
        const value = new Dec(literal);
        const rounded = roundMoney(value, 'USD');
        expect(rounded.minus(value).abs().lte('0.005')).toBe(true);
        expect(roundMoney(rounded, 'USD').eq(rounded)).toBe(true);
      }),
    );
  });
});
