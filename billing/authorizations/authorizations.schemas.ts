// Request and response bodies of the authorization and cap routes, as JSON schemas: requests are
// validated with them, and both feed the OpenAPI document by name.
import { dateTimeSchema, decimalSchema, described, listOf, named } from '../../src/http/openapi.js';
import type { JsonSchema } from '../../src/http/validation.js';

const tokenCount = { type: 'integer', minimum: 0 } as const;
const text = { type: 'string', minLength: 1, maxLength: 255 } as const;
const decimal = { type: 'string', minLength: 1, maxLength: 64, description: 'A decimal string, e.g. "12.50"' } as const;

const authorizeChecked = {
  type: 'object',
  additionalProperties: false,
  description:
    'Exactly one estimate: `usage` (tokens by kind, with `model`; priced by the price book in force), `amount` (money, with ' +
    'optional `tokens`), or `"estimate": "auto"` (with `model`, optionally `operation`): the 95th percentile of the ' +
    "agent's own last 50 priced events of that operation (without `operation`: of its events that have none) and model " +
    'within 7 days.',
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
    session_context: { type: 'string', enum: ['internal', 'external'], description: 'With `session_id`: the kind of that session (default internal)' },
    expires_in_seconds: { type: 'integer', minimum: 1, maximum: 86_400 },
  },
} as const satisfies JsonSchema;

// The three estimates the service takes, which the envelope above says in words (exactly one; the service
// names what is missing or extra): as variants, so a client cannot send two or none.
const shared = {
  operation: authorizeChecked.properties.operation,
  session_id: authorizeChecked.properties.session_id,
  session_context: authorizeChecked.properties.session_context,
  expires_in_seconds: authorizeChecked.properties.expires_in_seconds,
} as const;
const variant = (title: string, description: string, required: string[], properties: Record<string, unknown>) =>
  ({ type: 'object', additionalProperties: false, title, description, required, properties: { ...properties, ...shared } }) as const;

/** The request body of POST /v1/authorizations (see `described`: validated as the envelope, documented as its variants). */
export const authorizeSchema = described('Authorize', authorizeChecked, {
  description: authorizeChecked.description,
  oneOf: [
    variant('AuthorizeUsage', 'Tokens by kind, priced at `model` by the price book in force', ['usage', 'model'], {
      usage: authorizeChecked.properties.usage,
      model: authorizeChecked.properties.model,
    }),
    variant('AuthorizeAmount', 'Money, with optional tokens and an optional `model` (one the catalog knows; recorded with the hold)', ['amount'], {
      amount: { ...authorizeChecked.properties.amount, pattern: decimalSchema.pattern },
      tokens: authorizeChecked.properties.tokens,
      model: authorizeChecked.properties.model,
    }),
    variant('AuthorizeAuto', "The 95th percentile of the agent's own recent priced events of that operation and model", ['estimate', 'model'], {
      estimate: authorizeChecked.properties.estimate,
      model: authorizeChecked.properties.model,
    }),
  ],
});

export const capSchema = named('PutCap', {
  type: 'object',
  additionalProperties: false,
  properties: {
    amount_limit: { ...decimal, type: ['string', 'null'] },
    token_limit: { type: ['integer', 'null'], minimum: 0 },
    period: { type: 'string', enum: ['year', 'quarter', 'month'], description: 'Agent caps only; default month' },
  },
} as const satisfies JsonSchema);

// ---- Responses ----

const nullable = <const S extends JsonSchema>(schema: S) => ({ anyOf: [schema, { type: 'null' }] }) as const;
const measure = (amount: JsonSchema, tokens: JsonSchema) =>
  ({ type: 'object', additionalProperties: false, required: ['amount', 'tokens'], properties: { amount, tokens } }) as const;

export const EstimateSchema = named('AuthorizationEstimate', {
  type: 'object',
  additionalProperties: false,
  required: ['amount', 'tokens', 'source', 'model', 'tier'],
  properties: {
    amount: { ...decimalSchema, description: 'Money held, in the account’s currency' },
    tokens: tokenCount,
    source: { type: 'string', enum: ['usage', 'amount', 'auto'] },
    model: { type: ['string', 'null'] },
    tier: { type: ['string', 'null'], description: 'The model’s tier: a cap of the plan on it is held against too (level `tier/…`); null without a model' },
    events: { type: 'integer', minimum: 0, description: '`auto`: how many events it was sized from' },
  },
} as const);

export const LevelSchema = named('AuthorizationLevel', {
  type: 'object',
  additionalProperties: false,
  required: ['level', 'kind', 'limit', 'spent', 'held', 'left'],
  description: 'One level of the path the estimate was held against; a null limit is none',
  properties: {
    level: {
      type: 'string',
      description: 'e.g. `budget/<node>/<period>`, `agent/<id>/<period>`, `session/<context>/<id>`, `tier/<tier>/<billing period start>/<cap>`',
    },
    kind: { type: 'string', enum: ['budget', 'agent', 'session', 'sessioncap', 'credits', 'tier'] },
    limit: measure(nullable(decimalSchema), { type: ['integer', 'null'] }),
    spent: measure(decimalSchema, tokenCount),
    held: measure(decimalSchema, tokenCount),
    left: measure(nullable(decimalSchema), { type: ['integer', 'null'] }),
  },
} as const);

export const AuthorizationSchema = named('Authorization', {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['allowed', 'reservation_id', 'expires_at', 'estimate', 'levels'],
      properties: {
        allowed: { type: 'boolean', enum: [true] },
        reservation_id: { type: 'string', description: 'Send it on the event that commits the hold, or DELETE it' },
        expires_at: dateTimeSchema,
        estimate: EstimateSchema,
        levels: { type: 'array', items: LevelSchema },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['allowed', 'denied_by', 'estimate', 'levels'],
      properties: {
        allowed: { type: 'boolean', enum: [false] },
        denied_by: {
          type: 'object',
          additionalProperties: false,
          required: ['level', 'measure', 'short_by'],
          properties: {
            level: { type: 'string' },
            measure: { type: 'string', enum: ['amount', 'tokens'] },
            short_by: { type: 'string', description: 'How much more the estimate is than what is left there' },
          },
        },
        estimate: EstimateSchema,
        levels: { type: 'array', items: LevelSchema },
      },
    },
  ],
} as const);

export const ReleaseSchema = named('AuthorizationRelease', {
  type: 'object',
  additionalProperties: false,
  required: ['reservation_id', 'status'],
  properties: { reservation_id: { type: 'string' }, status: { type: 'string', enum: ['released', 'expired'] } },
} as const);

export const CapSchema = named('Cap', {
  type: 'object',
  additionalProperties: false,
  required: ['scope', 'amount_limit', 'token_limit', 'updated_at'],
  properties: {
    scope: { type: 'string', enum: ['agent', 'session'] },
    agent_id: { type: 'string', description: 'Agent caps' },
    session_context: { type: 'string', enum: ['internal', 'external'], description: 'Session caps' },
    period: { type: 'string', enum: ['year', 'quarter', 'month'], description: 'Agent caps' },
    amount_limit: nullable(decimalSchema),
    token_limit: { type: ['integer', 'null'], minimum: 0 },
    updated_at: dateTimeSchema,
  },
} as const);

export const CapListSchema = named('CapList', listOf(CapSchema));

export const TierCapSchema = named('TierCap', {
  type: 'object',
  additionalProperties: false,
  required: ['tier', 'level', 'period_start', 'period_end', 'token_limit', 'spent_tokens', 'held_tokens', 'left_tokens'],
  description: "One capped tier of the subscription's plan in the current billing period: the account's tokens of models of that tier",
  properties: {
    tier: { type: 'string', enum: ['base', 'specialized', 'premier'] },
    level: { type: 'string', description: 'The counter level authorizations name (`tier/<tier>/<period start>/<cap>`)' },
    period_start: dateTimeSchema,
    period_end: dateTimeSchema,
    token_limit: tokenCount,
    spent_tokens: tokenCount,
    held_tokens: tokenCount,
    left_tokens: { type: 'integer', description: 'token_limit - spent - held; negative once events passed the cap' },
  },
} as const);

export const TierCapListSchema = named('TierCapList', listOf(TierCapSchema));
