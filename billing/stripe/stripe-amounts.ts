// Money as Stripe's API writes it: a whole number of the currency's smallest unit *as Stripe counts it*
// (docs.stripe.com/currencies), which is not always ISO 4217's. Pure; no Nest, no I/O.
//
// - Zero-decimal currencies (JPY, KRW, UGX, ...): the amount itself, ¥500 is 500.
// - Three-decimal currencies (BHD, JOD, KWD, OMR, TND): thousandths, 5.124 KWD is 5124; but Stripe's payment
//   partners take only multiples of 10 there (5.124 KWD must be charged as 5120 or 5130).
// - ISK: zero-decimal in practice but two-decimal in the API for compatibility, ISK 5 is 500, and charges
//   must be whole krónur (multiples of 100).
// - Everything else: hundredths.
// Our invoice lines are already rounded once, half-even, to the currency's minor unit (tiers/pricing/decimal.ts);
// here they are only rescaled, exactly, or refused when Stripe cannot carry them exactly.
import { Dec, parseDecimal } from '../../tiers/pricing/decimal.js';

const ZERO_DECIMAL: ReadonlySet<string> = new Set([
  'BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF',
]);
const THREE_DECIMAL: ReadonlySet<string> = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);
/** API units a charge must be a multiple of, where Stripe's partners need more than one. */
const CHARGE_STEP: Readonly<Record<string, number>> = { BHD: 10, JOD: 10, KWD: 10, OMR: 10, TND: 10, ISK: 100 };

export type StripeAmountProblem = 'not_representable' | 'too_large' | 'not_decimal';

export class StripeAmountError extends Error {
  constructor(
    readonly problem: StripeAmountProblem,
    message: string,
  ) {
    super(message);
    this.name = 'StripeAmountError';
  }
}

function code(currency: string): string {
  if (!/^[A-Za-z]{3}$/.test(currency)) throw new StripeAmountError('not_decimal', `"${currency}" is not a currency code`);
  return currency.toUpperCase();
}

/** How many decimal places Stripe's API gives the currency: 0, 2 or 3. */
export function stripeExponent(currency: string): number {
  const c = code(currency);
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}

/** A Stripe charge in this currency must be a multiple of this many API units (1 for most). */
export function chargeStep(currency: string): number {
  return CHARGE_STEP[code(currency)] ?? 1;
}

/**
 * A decimal amount in currency units ("12.30", "-0.125", "1500") as Stripe's integer, exactly. Refuses an
 * amount with more places than Stripe gives the currency (a UGX amount with cents: our minor units and
 * Stripe's differ there) rather than rounding money a second time, and one past 2^53.
 */
export function toStripeAmount(amount: string, currency: string): number {
  let value: Dec;
  try {
    value = parseDecimal(amount, 'amount', { allowNegative: true, maxDecimalPlaces: 64 });
  } catch {
    throw new StripeAmountError('not_decimal', `"${amount}" is not a decimal amount`);
  }
  const exponent = stripeExponent(currency);
  const scaled = value.times(new Dec(10).pow(exponent));
  if (!scaled.isInteger()) {
    throw new StripeAmountError(
      'not_representable',
      `${amount} ${code(currency)} has more decimal places than Stripe's ${exponent} for ${code(currency)}; it cannot be sent exactly`,
    );
  }
  const units = scaled.toNumber();
  if (!Number.isSafeInteger(units)) throw new StripeAmountError('too_large', `${amount} ${code(currency)} is too large to send to Stripe`);
  return units === 0 ? 0 : units; // no -0
}

/** Stripe's integer back as a decimal string in currency units with Stripe's places ("12.30", "1500", "5.120"). */
export function fromStripeAmount(units: number, currency: string): string {
  if (!Number.isSafeInteger(units)) throw new StripeAmountError('not_decimal', `${units} is not a whole number of units`);
  const exponent = stripeExponent(currency);
  return new Dec(units).dividedBy(new Dec(10).pow(exponent)).toFixed(exponent);
}

/**
 * What to add to a total of `units` so Stripe can charge it: 0 when it is already a multiple of the
 * currency's charge step, else the difference to the nearest multiple, half-even (a tie goes to the
 * multiple that is an even number of steps), so it is at most half a step either way.
 */
export function chargeRounding(units: number, currency: string): number {
  const step = chargeStep(currency);
  const rest = ((units % step) + step) % step;
  if (rest === 0) return 0;
  const lower = units - rest;
  const twice = rest * 2;
  const up = twice > step || (twice === step && (lower / step) % 2 !== 0);
  const result = up ? lower + step - units : lower - units;
  return result === 0 ? 0 : result;
}
