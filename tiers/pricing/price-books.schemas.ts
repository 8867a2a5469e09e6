// Request body of POST /v1/price-books. Only the envelope is checked here; rates are checked by the pure
// validatePriceBookInput, which names the exact bad field (`tiers.base.input`, `models["gpt-4o"].output`).
export const createPriceBookSchema = {
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

export interface CreatePriceBookBody {
  effective_from?: string;
  currency?: string;
  tiers: unknown;
  models?: unknown;
  long_context?: unknown;
  correction?: boolean;
  reason?: string;
}
