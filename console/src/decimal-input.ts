/** Decimal strings as the API takes them: digits, an optional point, at most 12 decimals. */
export function decimalError(value: string, what = 'A price'): string | undefined {
  if (value.trim() === '') return `${what} is required.`;
  return isDecimal(value) ? undefined : `${what} is a decimal number with at most 12 decimals, like 2.50.`;
}

export function isDecimal(value: string): boolean {
  return /^\d+(\.\d{1,12})?$/.test(value.trim());
}

/**
 * Orders two non-negative decimal strings exactly (-1, 0 or 1), digit by digit: never through a float,
 * so "0.1" and "0.10" are equal and 20-digit amounts compare right.
 */
export function compareDecimal(a: string, b: string): -1 | 0 | 1 {
  const split = (v: string) => {
    const [whole = '0', fraction = ''] = v.trim().split('.');
    return { whole: whole.replace(/^0+/, ''), fraction: fraction.replace(/0+$/, '') };
  };
  const x = split(a);
  const y = split(b);
  if (x.whole.length !== y.whole.length) return x.whole.length < y.whole.length ? -1 : 1;
  if (x.whole !== y.whole) return x.whole < y.whole ? -1 : 1;
  const width = Math.max(x.fraction.length, y.fraction.length);
  const fx = x.fraction.padEnd(width, '0');
  const fy = y.fraction.padEnd(width, '0');
  return fx === fy ? 0 : fx < fy ? -1 : 1;
}
