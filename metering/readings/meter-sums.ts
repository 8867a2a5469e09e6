// The numbers of a reading, as pure functions: token counts from PostgreSQL's bigint strings (checked to
// be safe integers), costs kept as exact decimal strings, and the effective ratio.
import { Dec, EXACT_MIN_DECIMAL_PLACES, formatExact } from '../../tiers/pricing/decimal.js';

import { tokenCounts, toCount, type TokenCounts } from '../ingest/event-result.js';

export { tokenCounts, toCount, type TokenCounts };

/** Two token counts added, kind by kind. */
export function addTokens(a: TokenCounts, b: TokenCounts): TokenCounts {
  const t = (k: keyof TokenCounts) => toCount(a[k] + b[k]);
  return { input: t('input'), cached_input: t('cached_input'), cache_write: t('cache_write'), output: t('output'), reasoning: t('reasoning'), total: t('total') };
}

export interface MeterSums {
  calls: number;
  tokens: TokenCounts;
  /** Exact decimal string. */
  cost: string;
  /** Tokens of operations whose model has no price yet: in `tokens`, not yet in `cost`. */
  unpriced_tokens: number;
  /** effective tokens / (effective + ineffective tokens); null when both are 0. */
  effective_ratio: number | null;
}

/** One row as the rollup query returns it: bigint and numeric sums as text. */
export interface SumRow {
  calls: string | null;
  input: string | null;
  cached_input: string | null;
  cache_write: string | null;
  output: string | null;
  reasoning: string | null;
  cost: string | null;
  unpriced: string | null;
  effective: string | null;
  ineffective: string | null;
}

// A reading formats and adds a cost per row: through Decimal that was ~10 µs a row, most of a reading of
// hundreds of rows (by day or hour). PostgreSQL prints numerics as plain decimals, so these are read as
// whole numbers of their last place (BigInt) instead: exact, and formatted exactly as formatExact does.
const PLAIN_DECIMAL = /^(-?)([0-9]+)(?:\.([0-9]+))?$/;

/** A plain decimal string as a whole number of 10^-scale; null for any other form. */
function toUnits(text: string): { units: bigint; scale: number } | null {
  const m = PLAIN_DECIMAL.exec(text);
  if (m === null) return null;
  const fraction = m[3] ?? '';
  const units = BigInt(m[2]! + fraction);
  return { units: m[1] === '-' ? -units : units, scale: fraction.length };
}

/** formatExact of units x 10^-scale: at least EXACT_MIN_DECIMAL_PLACES places, more only where not zeros. */
function formatUnits(units: bigint, scale: number): string {
  const digits = (units < 0n ? -units : units).toString().padStart(scale + 1, '0');
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return `${units < 0n ? '-' : ''}${digits.slice(0, digits.length - scale)}.${fraction.padEnd(EXACT_MIN_DECIMAL_PLACES, '0')}`;
}

/** A stored decimal in one canonical form (at least 12 places), so equal amounts print the same. */
export function formatCost(value: string | Dec | null | undefined): string {
  const units = typeof value === 'string' ? toUnits(value) : null;
  if (units !== null) return formatUnits(units.units, units.scale);
  return formatExact(value === null || value === undefined ? new Dec(0) : new Dec(value));
}

/** The exact sum of two decimal strings, formatted as formatCost does. */
export function addCosts(a: string, b: string): string {
  const x = toUnits(a);
  const y = toUnits(b);
  if (x === null || y === null) return formatCost(new Dec(a).plus(b));
  const scale = Math.max(x.scale, y.scale);
  return formatUnits(x.units * 10n ** BigInt(scale - x.scale) + y.units * 10n ** BigInt(scale - y.scale), scale);
}

export function effectiveRatio(effective: number, ineffective: number): number | null {
  const denominator = effective + ineffective;
  return denominator === 0 ? null : effective / denominator;
}

/** Internal accumulator: sums plus the per-label token totals the ratio needs. */
export interface SumsWithLabels {
  sums: Omit<MeterSums, 'effective_ratio'>;
  effective: number;
  ineffective: number;
}

export function fromSumRow(row: SumRow): SumsWithLabels {
  return {
    sums: { calls: toCount(row.calls), tokens: tokenCounts(row), cost: formatCost(row.cost), unpriced_tokens: toCount(row.unpriced) },
    effective: toCount(row.effective),
    ineffective: toCount(row.ineffective),
  };
}

export function withRatio(s: SumsWithLabels): MeterSums {
  return { ...s.sums, effective_ratio: effectiveRatio(s.effective, s.ineffective) };
}

export function zeroSums(): SumsWithLabels {
  return {
    sums: { calls: 0, tokens: { input: 0, cached_input: 0, cache_write: 0, output: 0, reasoning: 0, total: 0 }, cost: formatCost('0'), unpriced_tokens: 0 },
    effective: 0,
    ineffective: 0,
  };
}

export function addSums(a: SumsWithLabels, b: SumsWithLabels): SumsWithLabels {
  return {
    sums: {
      calls: toCount(a.sums.calls + b.sums.calls),
      tokens: addTokens(a.sums.tokens, b.sums.tokens),
      cost: addCosts(a.sums.cost, b.sums.cost),
      unpriced_tokens: toCount(a.sums.unpriced_tokens + b.sums.unpriced_tokens),
    },
    effective: toCount(a.effective + b.effective),
    ineffective: toCount(a.ineffective + b.ineffective),
  };
}

/**
 * A reading's totals, its rows added one at a time: what folding addSums over them gives, without the
 * three objects and the formatted cost addSums makes for each row (most of an hourly reading's 720 rows'
 * time in JavaScript). Counts are checked to stay safe integers at every step, as addSums does; the cost
 * is kept as a whole number of its last place and formatted once (formatting never changes the value, so
 * the text is the one the fold ends with).
 */
export class SumsTotal {
  private calls = 0;
  private input = 0;
  private cachedInput = 0;
  private cacheWrite = 0;
  private output = 0;
  private reasoning = 0;
  private total = 0;
  private unpriced = 0;
  private effective = 0;
  private ineffective = 0;
  private units = 0n;
  private scale = 0;
  /** The cost so far as addCosts gives it, once a cost was not a plain decimal. */
  private costText: string | null = null;

  add(s: SumsWithLabels): void {
    const t = s.sums.tokens;
    this.calls = toCount(this.calls + s.sums.calls);
    this.input = toCount(this.input + t.input);
    this.cachedInput = toCount(this.cachedInput + t.cached_input);
    this.cacheWrite = toCount(this.cacheWrite + t.cache_write);
    this.output = toCount(this.output + t.output);
    this.reasoning = toCount(this.reasoning + t.reasoning);
    this.total = toCount(this.total + t.total);
    this.unpriced = toCount(this.unpriced + s.sums.unpriced_tokens);
    this.effective = toCount(this.effective + s.effective);
    this.ineffective = toCount(this.ineffective + s.ineffective);
    this.addCost(s.sums.cost);
  }

  /** One row's counts, already read (readingRows, which sums the costs itself): add's steps for them. */
  addCounts(calls: number, tokens: TokenCounts, unpriced: number, effective: number, ineffective: number): void {
    this.calls = toCount(this.calls + calls);
    this.input = toCount(this.input + tokens.input);
    this.cachedInput = toCount(this.cachedInput + tokens.cached_input);
    this.cacheWrite = toCount(this.cacheWrite + tokens.cache_write);
    this.output = toCount(this.output + tokens.output);
    this.reasoning = toCount(this.reasoning + tokens.reasoning);
    this.total = toCount(this.total + tokens.total);
    this.unpriced = toCount(this.unpriced + unpriced);
    this.effective = toCount(this.effective + effective);
    this.ineffective = toCount(this.ineffective + ineffective);
  }

  private addCost(cost: string): void {
    if (this.costText !== null) {
      this.costText = addCosts(this.costText, cost);
      return;
    }
    const x = toUnits(cost);
    if (x === null) {
      this.costText = addCosts(formatUnits(this.units, this.scale), cost);
      return;
    }
    this.addUnits(x);
  }

  private addUnits(x: { units: bigint; scale: number }): void {
    if (x.scale === this.scale) {
      this.units += x.units;
    } else if (x.scale > this.scale) {
      this.units = this.units * 10n ** BigInt(x.scale - this.scale) + x.units;
      this.scale = x.scale;
    } else {
      this.units += x.units * 10n ** BigInt(this.scale - x.scale);
    }
  }

  /** The effective and ineffective tokens added so far (what the ratio is of). */
  labels(): { effective: number; ineffective: number } {
    return { effective: this.effective, ineffective: this.ineffective };
  }

  sums(): MeterSums {
    return {
      calls: this.calls,
      tokens: { input: this.input, cached_input: this.cachedInput, cache_write: this.cacheWrite, output: this.output, reasoning: this.reasoning, total: this.total },
      cost: this.costText ?? formatUnits(this.units, this.scale),
      unpriced_tokens: this.unpriced,
      effective_ratio: effectiveRatio(this.effective, this.ineffective),
    };
  }
}

export interface MeterRow extends MeterSums {
  /** One entry per group_by dimension; null where the dimension was absent (stored as ''). */
  key: Record<string, string | null>;
}

/** The order of a group's sums in the one text the meter's SQL answers them as (`sums`, space-separated). */
export const SUM_TEXT_ORDER = ['calls', 'input', 'cached_input', 'cache_write', 'output', 'reasoning', 'unpriced', 'effective', 'ineffective', 'cost'] as const;

/** A reading's SQL row: its sums as one text (SUM_TEXT_ORDER), its key as `k_<dimension>` columns ('' or null where absent). */
export type KeyedSumRow = Readonly<Record<string, string | null>> & { readonly sums: string };

/** The sums text of a row as a SumRow (what fromSumRow reads). */
export function sumRowOf(text: string): SumRow {
  const parts = text.split(' ');
  if (parts.length !== SUM_TEXT_ORDER.length) throw new Error(`a meter row's sums have ${parts.length} parts: "${text}"`);
  return Object.fromEntries(SUM_TEXT_ORDER.map((name, i) => [name, parts[i]!])) as unknown as SumRow;
}

/** The counts at the head of a sums text, in SUM_TEXT_ORDER (the cost follows them). */
const COUNTS_IN_SUMS = SUM_TEXT_ORDER.length - 1;

/**
 * Reads the COUNTS_IN_SUMS counts that open a sums text (each ended by a space) into `counts`, and answers
 * where the cost starts. Checked as toCount checks any count.
 */
function readCounts(t: string, counts: number[]): number {
  const n = t.length;
  let i = 0;
  for (let k = 0; k < COUNTS_IN_SUMS; k++) {
    const at = i;
    const negative = t.charCodeAt(i) === 45;
    if (negative) i++;
    let value = 0;
    const start = i;
    while (i < n) {
      const c = t.charCodeAt(i);
      if (c === 32) break;
      if (c < 48 || c > 57) throw new Error(`a meter row's sums are not counts: "${t}"`);
      value = value * 10 + (c - 48);
      i++;
    }
    if (i === start || i === n) throw new Error(`a meter row's sums end early: "${t}"`);
    // Up to 15 digits are exact as read; longer ones are checked as toCount checks any count.
    counts[k] = i - start > 15 ? toCount(t.slice(at, i)) : negative ? -value : value;
    i++;
  }
  return i;
}

const ZERO_COST = '0.' + '0'.repeat(EXACT_MIN_DECIMAL_PLACES);
/** Fraction digits per part of a CostSum: a part's sum stays a safe integer for millions of rows. */
const PART_DIGITS = 9;
const PART_SCALE = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
/** Costs a CostSum adds before it hands over to exact text sums (each part grows by < 10^9 a cost). */
const MAX_PARTS_ADDS = 4_000_000;

/**
 * The exact sum of a reading's costs without an object per cost: each cost as PostgreSQL prints a numeric
 * (-?digits(.digits)?) is read in one pass over its characters into a whole part and 9-digit parts of its
 * fraction, summed as numbers (all safe integers), and turned into a decimal once at the end. Any other
 * form, a whole part of more than 15 digits, or more than 4 million costs, and it goes on exactly with
 * addCosts on the text so far (the property test checks both ways against the fold).
 */
class CostSum {
  private whole = 0;
  private readonly parts: number[] = [];
  private adds = 0;
  private exact: string | null = null;

  /** Adds a cost; answers its text as formatCost writes it. */
  add(text: string | null): string {
    if (text === null) return ZERO_COST;
    if (this.exact === null) {
      const canonical = this.addPlain(text);
      if (canonical !== null) return canonical;
      this.exact = this.text();
    }
    const formatted = formatCost(text);
    this.exact = addCosts(this.exact, formatted);
    return formatted;
  }

  text(): string {
    if (this.exact !== null) return this.exact;
    const scale = this.parts.length * PART_DIGITS;
    let units = BigInt(this.whole) * 10n ** BigInt(scale);
    for (let j = 0; j < this.parts.length; j++) units += BigInt(this.parts[j]!) * 10n ** BigInt(scale - (j + 1) * PART_DIGITS);
    return formatUnits(units, scale);
  }

  /** Null (and nothing added) unless `t` is a plain decimal this can add exactly. */
  private addPlain(t: string): string | null {
    const n = t.length;
    const negative = t.charCodeAt(0) === 45;
    const intStart = negative ? 1 : 0;
    let i = intStart;
    let whole = 0;
    while (i < n) {
      const c = t.charCodeAt(i);
      if (c < 48 || c > 57) break;
      whole = whole * 10 + (c - 48);
      i++;
    }
    const intDigits = i - intStart;
    if (intDigits === 0 || intDigits > 15 || (intDigits > 1 && t.charCodeAt(intStart) === 48)) return null;
    let fracStart = n;
    let lastNonZero = -1;
    if (i < n) {
      if (t.charCodeAt(i) !== 46 || i === n - 1) return null;
      fracStart = i + 1;
      for (let k = fracStart; k < n; k++) {
        const c = t.charCodeAt(k);
        if (c < 48 || c > 57) return null;
        if (c !== 48) lastNonZero = k;
      }
    }
    const nextWhole = this.whole + (negative ? -whole : whole);
    if (!Number.isSafeInteger(nextWhole) || this.adds >= MAX_PARTS_ADDS) return null;
    this.whole = nextWhole;
    this.adds++;
    for (let start = fracStart, j = 0; start < n; start += PART_DIGITS, j++) {
      const end = Math.min(n, start + PART_DIGITS);
      let part = 0;
      for (let k = start; k < end; k++) part = part * 10 + (t.charCodeAt(k) - 48);
      part *= PART_SCALE[PART_DIGITS - (end - start)]!;
      if (j === this.parts.length) this.parts.push(0);
      this.parts[j]! += negative ? -part : part;
    }
    // The text formatCost writes: no minus on zero, the fraction without trailing zeros past 12 places.
    if (whole === 0 && lastNonZero < 0) return ZERO_COST;
    const fracDigits = n - fracStart;
    const keep = Math.max(EXACT_MIN_DECIMAL_PLACES, lastNonZero < 0 ? 0 : lastNonZero - fracStart + 1);
    if (fracDigits === 0) return `${t}.${ZERO_COST.slice(2)}`;
    if (keep === fracDigits) return t;
    return keep < fracDigits ? t.slice(0, fracStart + keep) : t + ZERO_COST.slice(2, 2 + keep - fracDigits);
  }
}

/**
 * A reading's rows and totals from its SQL rows, in one pass: each row is `{ key, ...withRatio(fromSumRow(row)) }`
 * (same fields in the same order, same text) and the totals what SumsTotal.add over them gives, but each
 * row's cost is read once (for its text and the total) and no intermediate object is made: an hourly
 * reading's 711 rows made ~530 KB of short-lived objects, and the scavenges that collect them are the
 * readings' tails (BENCHMARKS.md).
 */
export function readingRows(
  rows: readonly KeyedSumRow[],
  groupBy: readonly string[],
): { rows: MeterRow[]; totals: MeterSums; labels: { effective: number; ineffective: number } } {
  const columns = groupBy.map((d) => `k_${d}`);
  const totals = new SumsTotal();
  const costs = new CostSum();
  const out: MeterRow[] = new Array<MeterRow>(rows.length);
  const counts = new Array<number>(COUNTS_IN_SUMS).fill(0);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const key: Record<string, string | null> = {};
    for (let j = 0; j < columns.length; j++) {
      const value = row[columns[j]!];
      key[groupBy[j]!] = value === undefined || value === null || value === '' ? null : value;
    }
    const t = row.sums;
    const costAt = readCounts(t, counts);
    const [calls, input, cachedInput, cacheWrite, output, reasoning, unpriced, effective, ineffective] = counts as [number, number, number, number, number, number, number, number, number];
    const tokens: TokenCounts = {
      input,
      cached_input: cachedInput,
      cache_write: cacheWrite,
      output,
      reasoning,
      total: toCount(input + cachedInput + cacheWrite + output),
    };
    const cost = costs.add(t.slice(costAt));
    totals.addCounts(calls, tokens, unpriced, effective, ineffective);
    out[i] = { key, calls, tokens, cost, unpriced_tokens: unpriced, effective_ratio: effectiveRatio(effective, ineffective) };
  }
  return { rows: out, totals: { ...totals.sums(), cost: costs.text() }, labels: totals.labels() };
}

export interface MeterReading {
  from: string;
  to: string;
  group_by: string[];
  rows: MeterRow[];
  totals: MeterSums;
}
