// The currencies an account, a plan or a price book may be in: the ISO 4217 codes in use, as Node's ICU
// knows them (162), so a typo ("EUE") is refused instead of becoming an account's currency for good.
export const CURRENCIES: readonly string[] = Intl.supportedValuesOf('currency');
const KNOWN = new Set(CURRENCIES);

export const isCurrency = (value: unknown): value is string => typeof value === 'string' && KNOWN.has(value);

/** The message for a value that is not a currency: "EUR" for "eur", else an example. */
export function notACurrency(field: string, value: unknown): string {
  const upper = typeof value === 'string' ? value.trim().toUpperCase() : null;
  if (upper !== null && upper !== value && KNOWN.has(upper)) return `${field} must be an ISO 4217 currency code in capitals: "${upper}"`;
  return `${field} must be an ISO 4217 currency code, like "EUR"`;
}
