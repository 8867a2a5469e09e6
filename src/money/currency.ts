// The currencies an account, a plan or a price book may be in: the ISO 4217 codes in use, as Node's ICU
// knows them (162), so a typo ("EUE") is refused instead of becoming an account's currency for good.
export const CURRENCIES: readonly string[] = Intl.supportedValuesOf('currency');
const KNOWN = new Set(CURRENCIES);

export const isCurrency = (value: unknown): value is string => typeof value === 'string' && KNOWN.has(value);
