// The event batch and its answer as JSON schemas (OpenAPI and types alike). The batch envelope is what
// SchemaPipe checks; each event is checked on its own against `eventSchema` (event-input.ts), so a bad
// event is answered in its own result. Token counts and costs are shared with the readings.
import { dateTimeSchema, decimalSchema, named } from '../../src/http/openapi.js';
import { TIERS } from '../../tiers/pricing/pricing.js';
import { SPEND_LABELS } from '../classification/classify.js';
import { eventSchema, MAX_BATCH } from './event-input.js';
import { RESERVATION_OUTCOMES } from './usage-counters.port.js';

export const EventSchema = named('Event', eventSchema);

export const EventBatchSchema = named('EventBatch', {
  type: 'object',
  additionalProperties: false,
  required: ['events'],
  properties: { events: { type: 'array', maxItems: MAX_BATCH, items: EventSchema } },
} as const);

const count = { type: 'integer', minimum: 0 } as const;

export const TokenCountsSchema = named('TokenCounts', {
  type: 'object',
  additionalProperties: false,
  required: ['input', 'cached_input', 'cache_write', 'output', 'reasoning', 'total'],
  properties: {
    input: { ...count, description: 'Uncached input' },
    cached_input: count,
    cache_write: count,
    output: { ...count, description: 'Output, reasoning included' },
    reasoning: { ...count, description: 'The part of output that was reasoning' },
    total: { ...count, description: 'input + cached_input + cache_write + output' },
  },
} as const);

export const EventCostSchema = named('EventCost', {
  type: 'object',
  additionalProperties: false,
  required: ['input', 'cached_input', 'cache_write', 'output', 'reasoning', 'total'],
  description: 'Exact cost by token kind, in the account’s currency',
  properties: {
    input: decimalSchema,
    cached_input: decimalSchema,
    cache_write: decimalSchema,
    output: { ...decimalSchema, description: 'Output other than reasoning' },
    reasoning: decimalSchema,
    total: decimalSchema,
  },
} as const);

const tier = { anyOf: [{ type: 'string', enum: [...TIERS] }, { type: 'null' }] } as const;
export const labelSchema = { type: 'string', enum: [...SPEND_LABELS] } as const;

export const AcceptedEventSchema = named('AcceptedEvent', {
  type: 'object',
  additionalProperties: false,
  required: ['index', 'id', 'status', 'timestamp', 'model', 'tier', 'priced', 'needs_pricing', 'tokens', 'cost', 'label', 'adjustment', 'reading'],
  properties: {
    index: count,
    id: { type: 'string' },
    status: { type: 'string', enum: ['accepted', 'duplicate'], description: 'duplicate: the same id and content, counted once; the original result' },
    timestamp: dateTimeSchema,
    model: { type: ['string', 'null'], description: 'The catalog id, or the reported name while unpriced' },
    tier,
    priced: { type: 'boolean' },
    needs_pricing: { type: 'boolean', description: 'Stored unpriced; priced once sales prices the model' },
    tokens: TokenCountsSchema,
    cost: { anyOf: [EventCostSchema, { type: 'null' }], description: 'null while unpriced' },
    label: labelSchema,
    adjustment: { type: 'boolean', description: 'The period was already invoiced: an adjustment on the next invoice' },
    reading: {
      type: 'object',
      additionalProperties: false,
      required: ['allowance_left', 'budget_left', 'budget_tokens_left'],
      properties: {
        allowance_left: { anyOf: [decimalSchema, { type: 'null' }], description: 'Allowance left this billing period; null without a subscription' },
        budget_left: {
          anyOf: [decimalSchema, { type: 'null' }],
          description:
            'Amount left (limit - spent - held, may be negative) on the tightest hard budget of the event\'s path at its time ' +
            '(person, units up to the account), after this event\'s write; null without a hard amount budget on the path, and on a duplicate',
        },
        budget_tokens_left: {
          type: ['integer', 'null'],
          description:
            'Tokens left (token_limit - spent - held, may be negative) on the tightest hard token budget of the event\'s path at its time, ' +
            'after this event\'s write; null without a hard token budget on the path, and on a duplicate',
        },
      },
    },
    reservation: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'outcome'],
      description:
        'Only on an accepted event that named a reservation: what happened to it. The event is metered in every case; only ' +
        '`committed` replaced the hold with its cost (the rest of the hold released). `unknown`: no such reservation in the ' +
        'account; `expired`: it ran out first (its hold released); `already_committed`: an earlier event committed it; ' +
        '`released`: it was released; `foreign`: the event may not commit it (another agent\'s, or a member\'s own hold and the event\'s agent acts for someone else; left alone)',
      properties: {
        id: { type: 'string' },
        outcome: { type: 'string', enum: [...RESERVATION_OUTCOMES] },
      },
    },
    ignored_usage_fields: {
      type: 'array',
      minItems: 1,
      items: { type: 'string' },
      description:
        'Usage fields tokenmeter does not know and did not count, as full paths (`usage.x`); only present when there are ' +
        'any. Listed by GET /v1/ignored-usage-fields',
    },
  },
} as const);

export const ConflictEventSchema = named('ConflictEvent', {
  type: 'object',
  additionalProperties: false,
  required: ['index', 'id', 'status', 'code', 'message', 'fields'],
  properties: {
    index: count,
    id: { type: 'string' },
    status: { type: 'string', enum: ['conflict'] },
    code: { type: 'string', enum: ['id_conflict'] },
    message: { type: 'string' },
    fields: { type: 'array', items: { type: 'string' }, description: 'The fields that differ from the stored event' },
  },
} as const);

export const RejectedEventSchema = named('RejectedEvent', {
  type: 'object',
  additionalProperties: false,
  required: ['index', 'id', 'status', 'code', 'message'],
  properties: {
    index: count,
    id: { type: ['string', 'null'], description: 'null when the event had no usable id' },
    status: { type: 'string', enum: ['rejected'] },
    code: { type: 'string' },
    message: { type: 'string' },
    field: { type: 'string', description: 'The offending field, e.g. `usage.input`' },
  },
} as const);

export const EventResultSchema = named('EventResult', { oneOf: [AcceptedEventSchema, ConflictEventSchema, RejectedEventSchema] } as const);

export const EventBatchResultSchema = named('EventBatchResult', {
  type: 'object',
  additionalProperties: false,
  required: ['results'],
  properties: { results: { type: 'array', items: EventResultSchema, description: 'One per event, in order' } },
} as const);
