// Owns the money side of classification: tokens and exact decimal cost summed per label, and the deltas a
// relabelling moves between labels so that every reading equals a recomputation from the raw events.
// Named import: under nodenext the default import types as the CommonJS namespace (no .clone).
import { Decimal } from 'decimal.js';

export const SPEND_LABELS = ['effective', 'ineffective', 'pending', 'unclassified'] as const;
export type SpendLabel = (typeof SPEND_LABELS)[number];

export interface SpendItem {
  readonly event_key: string;
  readonly tokens: number;
  /** Exact non-negative decimal string. */
  readonly cost: string;
}

export interface LabelAmount {
  readonly tokens: number;
  /** Exact decimal string, plain notation (no exponent), may be negative in deltas. */
  readonly cost: string;
}

export type LabelTotals = Readonly<Record<SpendLabel, LabelAmount>>;

// The default 20 significant digits would round sums of 12-decimal costs; sums here must be exact, and
// plain notation keeps tiny or huge amounts out of exponent form when they are written back as strings.
const Exact = Decimal.clone({ precision: 1_000, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -9e15, toExpPos: 9e15 });
type Exact = InstanceType<typeof Exact>;

const DECIMAL = /^-?\d+(\.\d+)?$/;

function parse(cost: string): Exact {
  // decimal.js would also accept "1e3" or "0x10"; money strings stay plain decimals.
  if (typeof cost !== 'string' || !DECIMAL.test(cost)) {
    throw new TypeError(`cost must be a plain decimal string; got ${JSON.stringify(cost)}`);
  }
  return new Exact(cost);
}

function format(value: Exact): string {
  return value.isZero() ? '0' : value.toFixed();
}

function safeTokens(tokens: number): number {
  if (!Number.isSafeInteger(tokens)) throw new RangeError(`token sum ${tokens} leaves the safe integer range`);
  return tokens;
}

export const ZERO_TOTALS: LabelTotals = Object.freeze({
  effective: Object.freeze({ tokens: 0, cost: '0' }),
  ineffective: Object.freeze({ tokens: 0, cost: '0' }),
  pending: Object.freeze({ tokens: 0, cost: '0' }),
  unclassified: Object.freeze({ tokens: 0, cost: '0' }),
});

interface Accumulator {
  tokens: number;
  cost: Exact;
}

function accumulators(): Record<SpendLabel, Accumulator> {
  return {
    effective: { tokens: 0, cost: new Exact(0) },
    ineffective: { tokens: 0, cost: new Exact(0) },
    pending: { tokens: 0, cost: new Exact(0) },
    unclassified: { tokens: 0, cost: new Exact(0) },
  };
}

function freeze(acc: Record<SpendLabel, Accumulator>): LabelTotals {
  const entry = (label: SpendLabel): LabelAmount =>
    Object.freeze({ tokens: safeTokens(acc[label].tokens), cost: format(acc[label].cost) });
  return Object.freeze({
    effective: entry('effective'),
    ineffective: entry('ineffective'),
    pending: entry('pending'),
    unclassified: entry('unclassified'),
  });
}

/** Tokens and cost of `items` summed per label; an item whose key has no label is not counted. */
export function totalsByLabel(items: readonly SpendItem[], labels: ReadonlyMap<string, SpendLabel>): LabelTotals {
  const acc = accumulators();
  for (const item of items) {
    const label = labels.get(item.event_key);
    if (label === undefined) continue;
    acc[label].tokens += item.tokens;
    acc[label].cost = acc[label].cost.plus(parse(item.cost));
  }
  return freeze(acc);
}

/**
 * What a reading must add per label when a task's labels go from `before` to `after`. An event missing
 * from `before` is new spend (added under its new label); one missing from `after` is withdrawn. When
 * both maps label the same events, tokens and cost only move: the deltas sum to zero.
 */
export function relabelDeltas(
  items: readonly SpendItem[],
  before: ReadonlyMap<string, SpendLabel>,
  after: ReadonlyMap<string, SpendLabel>,
): LabelTotals {
  const acc = accumulators();
  for (const item of items) {
    const from = before.get(item.event_key);
    const to = after.get(item.event_key);
    if (from === to) continue;
    const cost = parse(item.cost);
    if (from !== undefined) {
      acc[from].tokens -= item.tokens;
      acc[from].cost = acc[from].cost.minus(cost);
    }
    if (to !== undefined) {
      acc[to].tokens += item.tokens;
      acc[to].cost = acc[to].cost.plus(cost);
    }
  }
  return freeze(acc);
}

/** A reading after applying deltas (or any two sets of per-label totals added). */
export function applyDeltas(totals: LabelTotals, deltas: LabelTotals): LabelTotals {
  const acc = accumulators();
  for (const label of SPEND_LABELS) {
    acc[label].tokens = totals[label].tokens + deltas[label].tokens;
    acc[label].cost = parse(totals[label].cost).plus(parse(deltas[label].cost));
  }
  return freeze(acc);
}

/** effective / (effective + ineffective) tokens; null when neither has any (the ratio is undefined). */
export function effectiveRatio(totals: LabelTotals): number | null {
  const denominator = totals.effective.tokens + totals.ineffective.tokens;
  return denominator === 0 ? null : totals.effective.tokens / denominator;
}
