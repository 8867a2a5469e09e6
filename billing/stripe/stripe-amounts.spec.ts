import fc from 'fast-check';
import { Dec } from '../../tiers/pricing/decimal.js';
import { chargeRounding, chargeStep, fromStripeAmount, stripeExponent, StripeAmountError, toStripeAmount } from './stripe-amounts.js';

describe('Stripe amounts', () => {
  it.each([
    ['12.30', 'EUR', 1230],
    ['-0.12', 'USD', -12],
    ['1500', 'JPY', 1500],
    ['5.124', 'KWD', 5124],
    ['5.1', 'BHD', 5100],
    ['1500', 'UGX', 1500],
    // ISK: our minor unit is none (ISO 4217), Stripe's API keeps two places for compatibility.
    ['5', 'ISK', 500],
    ['0.00', 'EUR', 0],
    ['-0', 'EUR', 0],
  ])('%s %s is %i in Stripe', (amount, currency, units) => {
    expect(toStripeAmount(amount, currency)).toBe(units);
    expect(Object.is(toStripeAmount(amount, currency), -0)).toBe(false);
  });

  it('uses Stripe’s exponents, not ISO 4217’s, where they differ', () => {
    expect(stripeExponent('jpy')).toBe(0);
    expect(stripeExponent('UGX')).toBe(0);
    expect(stripeExponent('MGA')).toBe(0);
    expect(stripeExponent('ISK')).toBe(2);
    expect(stripeExponent('KWD')).toBe(3);
    expect(stripeExponent('EUR')).toBe(2);
  });

  it('refuses an amount Stripe cannot carry exactly, rather than rounding money twice', () => {
    expect(() => toStripeAmount('1500.50', 'UGX')).toThrow(StripeAmountError);
    expect(() => toStripeAmount('1.005', 'EUR')).toThrow(/more decimal places than Stripe's 2/);
    expect(() => toStripeAmount('0.0001', 'KWD')).toThrow(StripeAmountError);
    expect(() => toStripeAmount('1e3', 'EUR')).toThrow(/not a decimal/);
    expect(() => toStripeAmount('99999999999999999', 'EUR')).toThrow(/too large/);
  });

  it('reads Stripe’s integers back with Stripe’s places', () => {
    expect(fromStripeAmount(1230, 'eur')).toBe('12.30');
    expect(fromStripeAmount(1500, 'jpy')).toBe('1500');
    expect(fromStripeAmount(5120, 'kwd')).toBe('5.120');
    expect(fromStripeAmount(-5, 'usd')).toBe('-0.05');
  });

  it('law: any amount with at most Stripe’s places goes there and back unchanged', () => {
    fc.assert(
      fc.property(fc.constantFrom('EUR', 'JPY', 'KWD', 'UGX', 'BHD', 'USD'), fc.bigInt({ min: -(10n ** 14n), max: 10n ** 14n }), (currency, minor) => {
        const exponent = stripeExponent(currency);
        const amount = new Dec(minor.toString()).dividedBy(new Dec(10).pow(exponent)).toFixed(exponent);
        const units = toStripeAmount(amount, currency);
        expect(units).toBe(Number(minor));
        expect(new Dec(fromStripeAmount(units, currency)).eq(new Dec(amount))).toBe(true);
      }),
    );
  });

  it('charge steps: tens of fils for three-decimal currencies, whole krónur for ISK', () => {
    expect(chargeStep('KWD')).toBe(10);
    expect(chargeStep('isk')).toBe(100);
    expect(chargeStep('EUR')).toBe(1);
    expect(chargeRounding(5124, 'KWD')).toBe(-4);
    expect(chargeRounding(5126, 'KWD')).toBe(4);
    // Ties go to the even multiple of the step.
    expect(chargeRounding(5125, 'KWD')).toBe(-5);
    expect(chargeRounding(5135, 'KWD')).toBe(5);
    expect(chargeRounding(-5125, 'KWD')).toBe(5);
    expect(chargeRounding(1234, 'EUR')).toBe(0);
  });

  it('law: a rounded total is chargeable and at most half a step away', () => {
    fc.assert(
      fc.property(fc.constantFrom('KWD', 'ISK', 'EUR', 'JPY'), fc.integer({ min: -1e12, max: 1e12 }), (currency, units) => {
        const step = chargeStep(currency);
        const r = chargeRounding(units, currency);
        expect((units + r) % step === 0).toBe(true);
        expect(Math.abs(r) * 2).toBeLessThanOrEqual(step);
      }),
    );
  });
});
