// Owns exact decimal arithmetic for money: strict parsing of decimal strings, exact formatting, and the
// single half-even rounding to a currency's minor unit. Money never passes through a JS number here.
// Named import: under nodenext the default import types as the CommonJS namespace (no .clone, no class type).
import { Decimal } from 'decimal.js';
import { PricingInputError } from './pricing-input-error.js';

/**
 * Every money value is an instance of this clone, never of the global Decimal (20 digits).
 * Precision 64 so nothing rounds before roundMoney: the widest intermediate is an exact cost with
 * 18 dp (a 12-dp price times tokens / 10^6) times a 12-dp percentage / 100, i.e. 32 dp over an integer
 * part far below 10^20. Exponent limits are pushed out so toString never switches to `1e-7` notation.
 */
export const Dec = Decimal.clone({
  precision: 64,
  rounding: Decimal.ROUND_HALF_EVEN,
  toExpNeg: -9e15,
  toExpPos: 9e15,
});
export type Dec = Decimal;

/** Prices and configured amounts: the product brief's "at least 12 decimal places". */
export const MAX_INPUT_DECIMAL_PLACES = 12;
/** Exact event costs: a 12-dp price per million tokens times whole tokens has up to 12 + 6 dp. */
export const MAX_COST_DECIMAL_PLACES = 18;
/** Exact costs are shown with at least this many places, so stored strings line up. */
export const EXACT_MIN_DECIMAL_PLACES = 12;

export interface ParseDecimalOptions {
  maxDecimalPlaces?: number;
  allowNegative?: boolean;
}

// Deliberately narrower than Decimal's own parser: no sign, exponent, hex, whitespace, `.5` or `5.`,
// because a price typed as `1e-3` or ` 0.5` is more likely a mistake than an intent.
const PLAIN_DECIMAL = /^[0-9]+(?:\.([0-9]+))?$/;

export function parseDecimal(raw: unknown, field: string, options: ParseDecimalOptions = {}): Dec {
  const maxDp = options.maxDecimalPlaces ?? MAX_INPUT_DECIMAL_PLACES;
  if (typeof raw !== 'string') {
    throw new PricingInputError('NOT_A_STRING', field, `${field} must be a decimal string, e.g. "1.25"`);
  }
  let body = raw;
  let negative = false;
  if (body.startsWith('-')) {
    if (!options.allowNegative) {
      throw new PricingInputError('NEGATIVE', field, `${field} must not be negative`);
    }
    negative = true;
    body = body.slice(1);
  }
  if (/^[0-9.]+[eE][+-]?[0-9]+$/.test(body)) {
    throw new PricingInputError('EXPONENT_NOTATION', field, `${field} must be written without an exponent`);
  }
  const match = PLAIN_DECIMAL.exec(body);
  if (match === null) {
    throw new PricingInputError('NOT_DECIMAL', field, `${field} is not a plain decimal number`);
  }
  const fraction = match[1] ?? '';
  if (fraction.length > maxDp) {
    throw new PricingInputError('TOO_MANY_DECIMALS', field, `${field} has more than ${maxDp} decimal places`);
  }
  const value = new Dec(body);
  return negative ? value.negated() : value;
}

/**
 * Exact string for storage and audit: never rounded, at least 12 dp, more if the value needs them.
 * Negative zero prints as zero so equal values always print the same.
 */
export function formatExact(value: Dec, minDecimalPlaces: number = EXACT_MIN_DECIMAL_PLACES): string {
  const v = value.isZero() ? new Dec(0) : value;
  return v.toFixed(Math.max(minDecimalPlaces, v.decimalPlaces()));
}

/**
 * `value` as a whole number of 10^-`scale` (exact), or null if it has more than `scale` places.
 * For the hot path: costs of rates with at most 12 dp are exact integer products (see priceUsage).
 */
export function toScaled(value: Dec, scale: number): bigint | null {
  if (value.decimalPlaces() > scale) return null;
  return BigInt(value.times(new Dec(10).pow(scale)).toFixed(0));
}

/**
 * formatExact for a whole number of 10^-`scale`: the same string formatExact gives for the same
 * value (no rounding; at least `minDecimalPlaces` places, more when the value needs them).
 */
export function formatScaled(value: bigint, scale: number, minDecimalPlaces: number = EXACT_MIN_DECIMAL_PLACES): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  let end = fraction.length;
  while (end > minDecimalPlaces && fraction.charCodeAt(end - 1) === 48) end--;
  const shown = fraction.slice(0, end).padEnd(minDecimalPlaces, '0');
  const text = shown === '' ? whole : `${whole}.${shown}`;
  return negative ? `-${text}` : text;
}

export function sumDecimals(values: Iterable<Dec>): Dec {
  let total = new Dec(0);
  for (const v of values) total = total.plus(v);
  return total;
}

// ISO 4217 exponents that differ from 2; anything else is 2. Small on purpose: extend when an account
// in such a currency appears, not speculatively.
const MINOR_UNITS: Readonly<Record<string, number>> = {
  JPY: 0,
  KRW: 0,
  CLP: 0,
  VND: 0,
  ISK: 0,
  BHD: 3,
  JOD: 3,
  KWD: 3,
  OMR: 3,
  TND: 3,
};
const DEFAULT_MINOR_UNITS = 2;

export function minorUnits(currency: string, field = 'currency'): number {
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) {
    throw new PricingInputError('INVALID_CURRENCY', field, `${field} must be a 3-letter ISO 4217 code`);
  }
  return Object.hasOwn(MINOR_UNITS, currency) ? MINOR_UNITS[currency] : DEFAULT_MINOR_UNITS;
}

/**
 * The one rounding step of the system (invoice lines). Half-even so that many lines rounding .5 do not
 * drift upwards in the customer's or our favour; symmetric, so -0.125 becomes -0.12.
 */
export function roundMoney(amount: Dec | string, currency: string): Dec {
  const places = minorUnits(currency);
  const value = typeof amount === 'string' ? parseDecimal(amount, 'amount', { allowNegative: true, maxDecimalPlaces: 64 }) : new Dec(amount);
  const rounded = value.toDecimalPlaces(places, Decimal.ROUND_HALF_EVEN);
  return rounded.isZero() ? new Dec(0) : rounded;
}

/** A rounded amount as a string with exactly the currency's minor digits, e.g. "12.30" or "1230". */
export function formatMoney(amount: Dec | string, currency: string): string {
  return roundMoney(amount, currency).toFixed(minorUnits(currency));
}
