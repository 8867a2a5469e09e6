// Request and response bodies of the price-book routes, as JSON schemas (validation, OpenAPI and types
// alike). Only the request envelope is checked here; rates are checked by the pure validatePriceBookInput,
// which names the exact bad field (`tiers.base.input`, `models["gpt-4o"].output`).
import { currencySchema, dateTimeSchema, decimalSchema, described, limitParam, listOf, named, type Body } from '../../src/http/openapi.js';

const rate = (description: string) => ({ ...decimalSchema, description }) as const;

export const RateOverridesSchema = named('RateOverrides', {
  type: 'object',
  additionalProperties: false,
  description: 'Prices per 1,000,000 tokens by token kind; a kind left out falls back (see TokenRates)',
  properties: {
    input: rate('Uncached input'),
    cached_input: rate('Cache reads; default: the input price'),
    cache_write: rate('Cache writes; default: the input price'),
    output: rate('Output other than reasoning'),
    reasoning: rate('Reasoning (a part of output); default: the output price'),
  },
} as const);

export const TokenRatesSchema = named('TokenRates', {
  ...RateOverridesSchema,
  required: ['input', 'output'],
  description: 'Prices per 1,000,000 tokens by token kind; cached_input and cache_write default to input, reasoning to output',
} as const);

const createPriceBookChecked = {
  type: 'object',
  additionalProperties: false,
  required: ['tiers'],
  properties: {
    effective_from: {
      type: 'string',
      description: 'RFC 3339 instant the version prices events from (default now). In the past only with "correction": true.',
    },
    currency: { type: 'string', description: 'Optional ISO 4217 code the prices are in' },
    tiers: {
      type: 'object',
      description:
        'base, specialized and premier: prices per 1,000,000 tokens as decimal strings (at most 12 dp) by kind ' +
        '(input, cached_input, cache_write, output, reasoning); input and output required',
    },
    models: { type: 'object', description: 'Per-model rate overrides by catalog id' },
    long_context: {
      type: 'object',
      description: '`threshold_tokens`, and `tiers` / `models` rates for whole requests whose input exceeds it',
    },
    correction: { type: 'boolean', description: 'Allows an effective_from in the past (reprices history); audited' },
    reason: { type: 'string', minLength: 1, maxLength: 1000, description: 'Why, for the audit log' },
  },
} as const;

const byModel = { type: 'object', additionalProperties: RateOverridesSchema, description: 'Rate overrides by catalog model id' } as const;
const tierProperties = <S extends object>(s: S) => ({ base: s, specialized: s, premier: s }) as const;

const longContextSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['threshold_tokens'],
  properties: {
    threshold_tokens: { type: 'integer', minimum: 0, description: 'A request whose input is above this is priced whole at these rates' },
    tiers: { type: 'object', additionalProperties: false, properties: tierProperties(RateOverridesSchema) },
    models: byModel,
  },
} as const;

// The body as validatePriceBookInput accepts it: what the envelope says of `tiers`, `models` and
// `long_context` in words, as schemas (the response's own: a book reads back as it was sent).
/** The request body of POST /v1/price-books (see `described`: validated as the envelope, documented whole). */
export const createPriceBookSchema = described('CreatePriceBook', createPriceBookChecked, {
  ...createPriceBookChecked,
  properties: {
    ...createPriceBookChecked.properties,
    effective_from: { ...createPriceBookChecked.properties.effective_from, format: 'date-time' },
    currency: { ...currencySchema, description: 'Optional ISO 4217 code the prices are in' },
    tiers: {
      type: 'object',
      additionalProperties: false,
      required: ['base', 'specialized', 'premier'],
      description: 'Prices per 1,000,000 tokens by tier, as decimal strings of at most 12 decimals',
      properties: tierProperties(TokenRatesSchema),
    },
    models: byModel,
    long_context: { ...longContextSchema, description: 'Rates for whole requests whose input is above `threshold_tokens`' },
  },
});

export type CreatePriceBookBody = Body<typeof createPriceBookSchema>;

export const PriceBookSchema = named('PriceBook', {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'effective_from', 'currency', 'tiers', 'models', 'long_context', 'correction', 'reason', 'created_at', 'created_by'],
  properties: {
    version: { type: 'integer', minimum: 1 },
    effective_from: dateTimeSchema,
    currency: { type: ['string', 'null'] },
    tiers: { type: 'object', additionalProperties: false, required: ['base', 'specialized', 'premier'], properties: tierProperties(TokenRatesSchema) },
    models: byModel,
    long_context: { anyOf: [longContextSchema, { type: 'null' }] },
    correction: { type: 'boolean' },
    reason: { type: ['string', 'null'] },
    created_at: dateTimeSchema,
    created_by: { type: ['string', 'null'], description: 'The key that published it' },
  },
} as const);

export const PriceBookListSchema = named('PriceBookList', listOf(PriceBookSchema));

export const listPriceBooksQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { type: 'integer', minimum: 0, description: 'Versions after this one (default 0)' },
    limit: limitParam(),
    at: { ...dateTimeSchema, description: 'Only the version in force at this instant (then `after` and `limit` are ignored)' },
  },
} as const;
