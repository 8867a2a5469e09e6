/** Decimal strings as the API takes them: digits, an optional point, at most 12 decimals. */
export function decimalError(value: string, what = 'A price'): string | undefined {
  if (value.trim() === '') return `${what} is required.`;
  return /^\d+(\.\d{1,12})?$/.test(value.trim()) ? undefined : `${what} is a decimal number with at most 12 decimals, like 2.50.`;
}
