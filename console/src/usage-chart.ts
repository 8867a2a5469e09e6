// The usage chart's rows: one per day of the range (an empty day included), a number per series for the
// bars' heights, and, for cost, the API's exact decimal string beside it, which the table and the tooltip
// show. A float is only ever a bar's height: never a figure people read (no 1.5e-7, no 0.30000000000000004).
import type { Schemas } from './api';
import { costShown } from './format';

export type Stack = 'tier' | 'label';
export type Measure = 'tokens' | 'cost';

/**
 * One day: `day` (YYYY-MM-DD), `<series>` the bar's height, `<series>$cost` the exact cost of that series,
 * `<series>$tokens` and `<series>$unpriced` its tokens and those of them whose model is not priced yet.
 */
export type ChartRow = Record<string, number | string>;

export const costKey = (series: string) => `${series}$cost`;
const tokensKey = (series: string) => `${series}$tokens`;
const unpricedKey = (series: string) => `${series}$unpriced`;

/**
 * A series' cost on a day as people read it: its cost, "unpriced" when all it has are tokens of models not
 * priced yet (never 0.0000 EUR for tokens nobody priced), or its cost "+ N tokens unpriced" when some are.
 */
export function cellCost(row: ChartRow, series: string, currency?: string | null): string {
  const shown = costShown(
    { cost: String(row[costKey(series)] ?? '0.0000'), unpriced_tokens: Number(row[unpricedKey(series)] ?? 0), tokens: { total: Number(row[tokensKey(series)] ?? 0) } },
    currency,
  );
  return shown.unpriced === null || shown.cost === 'unpriced' ? shown.cost : `${shown.cost} ${shown.unpriced}`;
}

/** Adds two decimal strings exactly (BigInt over a common scale), keeping the longer scale. */
export function addDecimal(a: string, b: string): string {
  const parse = (v: string) => {
    const negative = v.trim().startsWith('-');
    const [whole = '0', fraction = ''] = v.trim().replace(/^[-+]/, '').split('.');
    return { negative, whole, fraction };
  };
  const x = parse(a);
  const y = parse(b);
  const scale = Math.max(x.fraction.length, y.fraction.length);
  const units = (p: ReturnType<typeof parse>) => BigInt(`${p.whole || '0'}${p.fraction.padEnd(scale, '0')}`) * (p.negative ? -1n : 1n);
  const sum = units(x) + units(y);
  const digits = (sum < 0n ? -sum : sum).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  return `${sum < 0n ? '-' : ''}${whole}${scale > 0 ? `.${fraction}` : ''}`;
}

export function chartRows(reading: Schemas['MeterReading'] | undefined, stack: Stack, measure: Measure): ChartRow[] {
  const days = new Map<string, ChartRow>();
  if (reading) {
    for (let t = Date.parse(reading.from); t < Date.parse(reading.to); t += 86_400_000) {
      const d = new Date(t).toISOString().slice(0, 10);
      days.set(d, { day: d });
    }
  }
  for (const row of reading?.rows ?? []) {
    const d = String(row.key.day).slice(0, 10);
    const entry = days.get(d) ?? { day: d };
    const series = String(row.key[stack]);
    const cost = addDecimal(String(entry[costKey(series)] ?? '0'), row.cost);
    entry[costKey(series)] = cost;
    entry[tokensKey(series)] = Number(entry[tokensKey(series)] ?? 0) + row.tokens.total;
    entry[unpricedKey(series)] = Number(entry[unpricedKey(series)] ?? 0) + row.unpriced_tokens;
    entry[series] = measure === 'tokens' ? Number(entry[series] ?? 0) + row.tokens.total : Number(cost);
    days.set(d, entry);
  }
  return [...days.values()].sort((a, b) => String(a.day).localeCompare(String(b.day)));
}

/** A cost axis tick: at most four decimals, grouped, never in exponent notation. */
const tick = new Intl.NumberFormat('en', { maximumFractionDigits: 4 });
export function costTick(value: number): string {
  return tick.format(value);
}

/** A series of the chart: its key in the rows, its colour, and its name as people read it. */
export type Series = readonly [key: string, color: string, name: string];

const STACKS: Record<Stack, readonly Series[]> = {
  tier: [
    ['base', '#4c9a6a', 'base'],
    ['specialized', '#3572b0', 'specialized'],
    ['premier', '#8b4fb3', 'premier'],
  ],
  label: [
    ['effective', '#2e8b57', 'effective'],
    ['ineffective', '#c0392b', 'ineffective'],
    ['pending', '#d4a017', 'pending'],
    ['unclassified', '#7f8c8d', 'unclassified'],
  ],
};

/**
 * The series of a stack. By tier, an operation of a model not yet priced has no tier (its key is null): its
 * tokens get a series of their own when there are any, so the bars add up to the tokens above them instead
 * of leaving those out.
 */
export function seriesOf(stack: Stack, reading: Schemas['MeterReading'] | undefined): readonly Series[] {
  const untiered = stack === 'tier' && (reading?.rows ?? []).some((r) => r.key.tier === null && r.tokens.total > 0);
  return untiered ? [...STACKS.tier, ['null', '#9aa3ad', 'no tier (unpriced)']] : STACKS[stack];
}
