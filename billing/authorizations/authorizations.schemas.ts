// Request bodies of the authorization routes, as compiled JSON schemas (they also feed the OpenAPI document).
import type { JsonSchema } from '../../src/http/validation.js';

const tokenCount = { type: 'integer', minimum: 0 } as const;
const text = { type: 'string', minLength: 1, maxLength: 255 } as const;
const decimal = { type: 'string', minLength: 1, maxLength: 64, description: 'A decimal string, e.g. "12.50"' } as const;

export const authorizeSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'Exactly one estimate: `usage` (tokens by kind, with `model`; priced by the price book in force), `amount` (money, with ' +
    'optional `tokens`), or `"estimate": "auto"` (with `model`, optionally `operation`): the 95th percentile of the ' +
    "agent's own last 50 priced events of that operation and model within 7 days.",
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 200 },
    usage: {
      type: 'object',
      additionalProperties: false,
      properties: { input: tokenCount, cached_input: tokenCount, cache_write: tokenCount, output: tokenCount, reasoning: tokenCount },
    },
    amount: decimal,
    tokens: tokenCount,
    estimate: { type: 'string', enum: ['auto'] },
    operation: { type: 'string', minLength: 1, maxLength: 200 },
    session_id: text,
    session_context: { type: 'string', enum: ['internal', 'external'] },
    expires_in_seconds: { type: 'integer', minimum: 1, maximum: 86_400 },
  },
} as const satisfies JsonSchema;

export const capSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    amount_limit: { ...decimal, type: ['string', 'null'] },
    token_limit: { type: ['integer', 'null'], minimum: 0 },
    period: { type: 'string', enum: ['year', 'quarter', 'month'], description: 'Agent caps only; default month' },
  },
} as const satisfies JsonSchema;
