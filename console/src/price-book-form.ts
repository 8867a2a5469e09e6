// A new price book as the form holds it (tier rates, per-model rate rows, long-context rates), what is
// wrong with it before it is sent, and the request body. Rates stay decimal strings: never parsed.
import { decimalError, isDecimal } from './decimal-input';
import type { Schemas } from './api';

export const TIERS = ['base', 'specialized', 'premier'] as const;
/** Every token kind a book prices; input and output are required of a tier, the others default. */
export const KINDS = ['input', 'cached_input', 'cache_write', 'output', 'reasoning'] as const;
export type Tier = (typeof TIERS)[number];
export type Kind = (typeof KINDS)[number];
export type Rates = Record<Kind, string>;
export type Prices = Record<Tier, Rates>;

/** What a kind left blank falls back to (in a tier: the tier's own rate; in a model row: the tier's). */
export const FALLBACK: Record<Kind, string | null> = { input: null, cached_input: 'as input', cache_write: 'as input', output: null, reasoning: 'as output' };

export const kindLabel = (kind: Kind): string => kind.replace('_', ' ');

export const emptyRates = (): Rates => ({ input: '', cached_input: '', cache_write: '', output: '', reasoning: '' });

export function emptyPrices(): Prices {
  return { base: emptyRates(), specialized: emptyRates(), premier: emptyRates() };
}

/**
 * A rate row: a catalog model's rates for every request, or for long-context requests only; for long
 * context a row may also name a whole tier (`tier:base`: every model of the tier, above the threshold).
 */
export interface ModelRateRow {
  model: string;
  scope: 'all' | 'long';
  rates: Rates;
}

export const tierTarget = (tier: Tier): string => `tier:${tier}`;
const targetTier = (model: string): Tier | undefined => TIERS.find((t) => tierTarget(t) === model);
/** How a row's target reads: a model id, or “every base model”. */
export const targetLabel = (model: string): string => {
  const tier = targetTier(model);
  return tier ? `every ${tier} model` : model;
};

export const emptyModelRow = (): ModelRateRow => ({ model: '', scope: 'all', rates: emptyRates() });

/** What is wrong with a new price book's tier rates and start before it is sent: each field's sentence. */
export function priceBookErrors(prices: Prices, effectiveFrom: string, correction: boolean, now: Date): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const tier of TIERS) {
    for (const kind of KINDS) {
      const value = prices[tier][kind];
      if (FALLBACK[kind] !== null && value.trim() === '') continue; // defaults (see FALLBACK)
      const error = decimalError(value, `The ${tier} ${kindLabel(kind)} price`);
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

/**
 * What is wrong with the per-model rows and the long-context threshold: a model from the catalog, once per
 * scope, at least one rate, each rate a decimal; a threshold (a whole token count above 0) when a row is
 * for long context. Keys: `models.<row>.model`, `models.<row>.<kind>`, `models.<row>` and `threshold`.
 */
export function modelRateErrors(rows: readonly ModelRateRow[], threshold: string, catalog: readonly string[]): Record<string, string> {
  const errors: Record<string, string> = {};
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    const at = `models.${i}`;
    const tier = targetTier(row.model);
    if (row.model === '') errors[`${at}.model`] = 'Choose a model.';
    else if (tier && row.scope === 'all') errors[`${at}.model`] = `The ${tier} rates for every request are the tier’s own, above.`;
    else if (!tier && !catalog.includes(row.model)) errors[`${at}.model`] = `${row.model} is not in the catalog.`;
    else if (seen.has(`${row.scope}:${row.model}`)) errors[`${at}.model`] = `${targetLabel(row.model)} already has a row${row.scope === 'long' ? ' for long context' : ''}.`;
    seen.add(`${row.scope}:${row.model}`);
    const given = KINDS.filter((k) => row.rates[k].trim() !== '');
    if (given.length === 0) errors[at] = 'Give at least one rate (a blank one is the tier’s).';
    for (const kind of given) {
      if (!isDecimal(row.rates[kind])) errors[`${at}.${kind}`] = decimalError(row.rates[kind], `The ${kindLabel(kind)} price`)!;
    }
  });
  const t = threshold.trim();
  if (t !== '' && !/^[1-9]\d{0,14}$/.test(t)) errors.threshold = 'A whole number of input tokens, more than 0.';
  else if (t === '' && rows.some((r) => r.scope === 'long')) errors.threshold = 'Long-context rates need the threshold they start above.';
  return errors;
}

function given(rates: Rates): Partial<Rates> {
  return Object.fromEntries(KINDS.filter((k) => rates[k].trim() !== '').map((k) => [k, rates[k].trim()]));
}

/** The `tiers` of the request for a form priceBookErrors found nothing wrong with (a blank default left out). */
export function tierRates(prices: Prices): Record<Tier, Schemas['TokenRates']> {
  const rates = (tier: Tier) => given(prices[tier]) as Schemas['TokenRates'];
  return { base: rates('base'), specialized: rates('specialized'), premier: rates('premier') };
}

/** The `models` and `long_context` of the request, for rows modelRateErrors found nothing wrong with. */
export function modelRates(rows: readonly ModelRateRow[], threshold: string): Pick<Schemas['CreatePriceBook'], 'models' | 'long_context'> {
  const by = (scope: ModelRateRow['scope'], tiers: boolean) =>
    Object.fromEntries(rows.filter((r) => r.scope === scope && (targetTier(r.model) !== undefined) === tiers).map((r) => [targetTier(r.model) ?? r.model, given(r.rates)]));
  const all = by('all', false);
  const long = by('long', false);
  const longTiers = by('long', true);
  const t = threshold.trim();
  return {
    ...(Object.keys(all).length > 0 ? { models: all } : {}),
    ...(t !== ''
      ? {
          long_context: {
            threshold_tokens: Number(t),
            ...(Object.keys(longTiers).length > 0 ? { tiers: longTiers } : {}),
            ...(Object.keys(long).length > 0 ? { models: long } : {}),
          },
        }
      : {}),
  };
}

function ratesOf(rates: Partial<Record<Kind, string>> | undefined): Rates {
  return { ...emptyRates(), ...Object.fromEntries(KINDS.filter((k) => rates?.[k] !== undefined).map((k) => [k, rates![k]])) };
}

/** A form prefilled from a published book (the next version usually changes a few rates of the latest). */
export function draftOf(book: Schemas['PriceBook']): { prices: Prices; rows: ModelRateRow[]; threshold: string } {
  const rows = (scope: ModelRateRow['scope'], models: Record<string, Partial<Record<Kind, string>>> | undefined) =>
    Object.entries(models ?? {}).map(([model, rates]) => ({ model, scope, rates: ratesOf(rates) }));
  return {
    prices: { base: ratesOf(book.tiers.base), specialized: ratesOf(book.tiers.specialized), premier: ratesOf(book.tiers.premier) },
    rows: [
      ...rows('all', book.models),
      ...TIERS.filter((t) => book.long_context?.tiers?.[t] !== undefined).map((t) => ({ model: tierTarget(t), scope: 'long' as const, rates: ratesOf(book.long_context!.tiers![t]) })),
      ...rows('long', book.long_context?.models),
    ],
    threshold: book.long_context ? String(book.long_context.threshold_tokens) : '',
  };
}

/** The form field an error of the service names, when the form has it (`models["gpt-4o"].output` → `models.2.output`). */
export function formField(field: string, rows: readonly ModelRateRow[]): string {
  if (field === 'long_context.threshold_tokens') return 'threshold';
  const tier = /^long_context\.tiers\.(\w+)(?:\.(\w+))?$/.exec(field);
  if (tier) {
    const i = rows.findIndex((r) => r.model === `tier:${tier[1]}` && r.scope === 'long');
    if (i >= 0) return tier[2] ? `models.${i}.${tier[2]}` : `models.${i}`;
  }
  const m = /^(long_context\.)?models(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[("(?:[^"\\]|\\.)*")\])(?:\.(\w+))?$/.exec(field);
  if (m) {
    const model = m[2] ?? (JSON.parse(m[3]!) as string);
    const i = rows.findIndex((r) => r.model === model && r.scope === (m[1] ? 'long' : 'all'));
    if (i >= 0) return m[4] ? `models.${i}.${m[4]}` : `models.${i}`;
  }
  return field.replace(/^tiers\./, '');
}

/** The model form as typed: the id, its tier, its provider and its aliases (comma-separated). */
export interface ModelForm {
  id: string;
  tier: string;
  provider: string;
  aliases: string;
}

export const emptyModelForm = (): ModelForm => ({ id: '', tier: 'base', provider: '', aliases: '' });

/** A catalog model as the form holds it: saving it unchanged sends back exactly its terms (aliases included). */
export function modelFormOf(model: { id: string; tier: string; provider: string; aliases: string[] }): ModelForm {
  return { id: model.id, tier: model.tier, provider: model.provider, aliases: model.aliases.join(', ') };
}

export const modelAliases = (form: ModelForm): string[] => form.aliases.split(',').map((a) => a.trim()).filter(Boolean);

// The API's own rules: a model id is a slug (the path), an alias a provider's model name.
const MODEL_ID = /^[a-z0-9][a-z0-9._-]*$/;
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@+/-]*$/;

/** What is wrong with the model form before it is sent, by field (the browser's own bubbles said nothing of the format). */
export function modelFormErrors(form: ModelForm): Partial<Record<'id' | 'provider' | 'aliases', string>> {
  const errors: Partial<Record<'id' | 'provider' | 'aliases', string>> = {};
  const id = form.id.trim();
  if (id === '') errors.id = 'A model id is required, like gpt-4o.';
  else if (id.length > 64 || !MODEL_ID.test(id)) errors.id = 'Lower-case letters, digits, “.”, “_” and “-”, at most 64, starting with a letter or digit (like gpt-4o).';
  if (form.provider.trim() === '') errors.provider = 'A provider is required, like openai.';
  else if (form.provider.trim().length > 200) errors.provider = 'At most 200 characters.';
  const aliases = modelAliases(form);
  const bad = aliases.find((a) => a.length > 200 || !MODEL_NAME.test(a));
  if (bad !== undefined) errors.aliases = `“${bad}” is not a model name: letters, digits and . _ : @ + / -, like gpt-4o-2024-08-06.`;
  else if (new Set(aliases).size !== aliases.length) errors.aliases = 'Each alias once.';
  return errors;
}
