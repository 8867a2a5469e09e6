// The arithmetic of counters, as plain functions over scaled integers: when a hold fits, how a decimal
// amount becomes an integer of a fixed scale (rounded in the strict direction), and back. The
// PostgreSQL engine decides with these; the Redis engine's Lua mirrors decideHold (checked by the same
// contract tests on both engines).
import { formatScaled } from '../../tiers/pricing/decimal.js';

/** Exact scale of amounts in the PostgreSQL engine: event costs have at most 18 decimal places. */
export const EXACT_SCALE = 18;
/** Scale of amounts in Redis (10^-6): Lua's doubles keep integers exact only up to 2^53. */
export const REDIS_SCALE = 6;

export type Measure = 'amount' | 'tokens';

export interface ScaledCounter {
  /** null: no limit on this measure. */
  limitAmount: bigint | null;
  limitTokens: bigint | null;
  spentAmount: bigint;
  spentTokens: bigint;
  heldAmount: bigint;
  heldTokens: bigint;
}

export interface ScaledQuantity {
  amount: bigint;
  tokens: bigint;
}

export type HoldDecision = { allowed: true } | { allowed: false; index: number; measure: Measure; shortBy: bigint };

/**
 * What is left on one measure (limit - spent - held), or null when it has no limit. May be negative:
 * spend is a fact and can pass a limit (an event costlier than its hold, or one without a hold).
 */
export function leftOf(limit: bigint | null, spent: bigint, held: bigint): bigint | null {
  return limit === null ? null : limit - spent - held;
}

/**
 * Whether an estimate fits on one measure: it must not be more than what is left, and a measure with
 * nothing left refuses even an estimate of zero (an amount-only estimate on a level whose tokens are
 * used up). Returns how much the estimate is short by, or null when it fits.
 */
export function shortBy(left: bigint | null, estimate: bigint): bigint | null {
  if (left === null) return null;
  if (estimate > left || left <= 0n) return estimate - left;
  return null;
}

/** The first level, in order, where the estimate does not fit (amount checked before tokens). */
export function decideHold(counters: readonly ScaledCounter[], estimate: ScaledQuantity): HoldDecision {
  for (let i = 0; i < counters.length; i++) {
    const c = counters[i]!;
    const amount = shortBy(leftOf(c.limitAmount, c.spentAmount, c.heldAmount), estimate.amount);
    if (amount !== null) return { allowed: false, index: i, measure: 'amount', shortBy: amount };
    const tokens = shortBy(leftOf(c.limitTokens, c.spentTokens, c.heldTokens), estimate.tokens);
    if (tokens !== null) return { allowed: false, index: i, measure: 'tokens', shortBy: tokens };
  }
  return { allowed: true };
}

const DECIMAL = /^(-?)([0-9]+)(?:\.([0-9]+))?$/;

/**
 * A decimal string as a whole number of 10^-scale. Extra places are rounded toward +infinity (`up`,
 * for spend and holds) or toward -infinity (`down`, for limits), so a scaled check is never more
 * lenient than the exact one.
 */
export function toScaledInteger(value: string, scale: number, rounding: 'up' | 'down' | 'exact'): bigint {
  const m = DECIMAL.exec(value);
  if (m === null) throw new Error(`not a decimal: ${value}`);
  const negative = m[1] === '-';
  const fraction = m[3] ?? '';
  const kept = fraction.slice(0, scale).padEnd(scale, '0');
  const dropped = fraction.slice(scale);
  let n = BigInt(m[2]! + kept);
  if (/[1-9]/.test(dropped)) {
    if (rounding === 'exact') throw new Error(`${value} has more than ${scale} decimal places`);
    // Toward +infinity: up adds one to a positive magnitude; toward -infinity: down adds one to a negative one.
    if (rounding === 'up' && !negative) n += 1n;
    if (rounding === 'down' && negative) n += 1n;
  }
  return negative ? -n : n;
}

/** The largest limit Redis keeps, in 10^-6: 9 x 10^9 currency units, below 2^53 where Lua's doubles are exact. */
export const REDIS_MAX_LIMIT = 9_000_000_000_000_000n;

/**
 * A limit as Redis keeps it: rounded down to 10^-6 and at most REDIS_MAX_LIMIT. A larger limit (a budget,
 * a cap or a credit balance past 9 x 10^9) is kept as that maximum, which is stricter, never looser; sent
 * as it is, Lua's %d wrapped it to a negative limit that denied every hold.
 */
export function redisLimit(amount: string): bigint {
  const scaled = toScaledInteger(amount, REDIS_SCALE, 'down');
  return scaled > REDIS_MAX_LIMIT ? REDIS_MAX_LIMIT : scaled;
}

/** A whole number of 10^-scale as a plain decimal string with no trailing zeros ("0.25", "12", "-3.5"). */
export function fromScaledInteger(value: bigint, scale: number): string {
  return formatScaled(value, scale, 0);
}

/**
 * An integer of 10^-6 as a plain decimal string (what fromScaledInteger(BigInt(micro), REDIS_SCALE)
 * gives), in doubles: Redis keeps these below 2^53 (counters.ts), where doubles are exact integers.
 */
export function microText(micro: number, raw: string | number = micro): string {
  if (!Number.isSafeInteger(micro)) return fromScaledInteger(BigInt(raw), REDIS_SCALE);
  const negative = micro < 0;
  const abs = negative ? -micro : micro;
  const whole = Math.floor(abs / 1_000_000);
  let fraction = abs - whole * 1_000_000;
  let text = String(whole);
  if (fraction !== 0) {
    let places = 6;
    while (fraction % 10 === 0) {
      fraction /= 10;
      places--;
    }
    text += `.${String(fraction).padStart(places, '0')}`;
  }
  return negative ? `-${text}` : text;
}

/** An amount of at most 15 whole digits and EXACT_SCALE places, with nothing else in it. */
const PLAIN_AMOUNT = new RegExp(`^([0-9]{1,15})(?:\\.([0-9]{1,${EXACT_SCALE}}))?$`);

/**
 * A plain amount ("0.0125", "007.50") as decimal.js's toFixed() writes it ("0.0125", "7.5"), without
 * decimal.js (on authorize's request path); null for anything else, which the caller parses in full.
 */
export function plainAmountText(raw: string): string | null {
  const plain = PLAIN_AMOUNT.exec(raw);
  if (plain === null) return null;
  const whole = plain[1]!.replace(/^0+(?=.)/, '');
  const fraction = (plain[2] ?? '').replace(/0+$/, '');
  return fraction === '' ? whole : `${whole}.${fraction}`;
}
