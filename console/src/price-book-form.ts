// A new price book as the form holds it, and what is wrong with it before it is sent.
import { decimalError } from './decimal-input';

export const TIERS = ['base', 'specialized', 'premier'] as const;
export const KINDS = ['input', 'cached_input', 'output'] as const;
type Tier = (typeof TIERS)[number];
type Kind = (typeof KINDS)[number];
export type Prices = Record<Tier, Record<Kind, string>>;

export function emptyPrices(): Prices {
  return { base: { input: '', cached_input: '', output: '' }, specialized: { input: '', cached_input: '', output: '' }, premier: { input: '', cached_input: '', output: '' } };
}

/** What is wrong with a new price book before it is sent: each field's sentence. */
export function priceBookErrors(prices: Prices, effectiveFrom: string, correction: boolean, now: Date): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const tier of TIERS) {
    for (const kind of KINDS) {
      const value = prices[tier][kind];
      if (kind === 'cached_input' && value.trim() === '') continue; // defaults to the input price
      const error = decimalError(value, `The ${tier} ${kind.replace('_', ' ')} price`);
      if (error) errors[`${tier}.${kind}`] = error;
    }
  }
  if (effectiveFrom !== '') {
    const at = new Date(`${effectiveFrom}Z`);
    if (Number.isNaN(at.getTime())) errors.effective_from = 'Not a date and time.';
    else if (at.getTime() < now.getTime() && !correction) errors.effective_from = 'In the past: that would reprice metered events. Tick “correction” to do so on purpose.';
  }
  return errors;
}


/** The `tiers` of the request for a form priceBookErrors found nothing wrong with (a blank cached price is left to default). */
export function tierRates(prices: Prices): Record<Tier, { input: string; output: string; cached_input?: string }> {
  const rates = (tier: Tier) => {
    const { input, cached_input, output } = prices[tier];
    return { input: input.trim(), output: output.trim(), ...(cached_input.trim() !== '' ? { cached_input: cached_input.trim() } : {}) };
  };
  return { base: rates('base'), specialized: rates('specialized'), premier: rates('premier') };
}
