// Response bodies of the readings (meter totals, the per-operation listing, the live stream's messages),
// as JSON schemas (OpenAPI and types alike). Token counts and costs are the ones ingest answers with.
import { dateTimeSchema, decimalSchema, named } from '../../src/http/openapi.js';
import { CHANNELS } from '../ingest/event-input.js';
import { EventCostSchema, labelSchema, TokenCountsSchema } from '../ingest/ingest.schemas.js';
import { TIERS } from '../../tiers/pricing/pricing.js';

const sumsProperties = {
  calls: { type: 'integer', minimum: 0, description: 'Operations, zero-token calls included' },
  tokens: TokenCountsSchema,
  cost: { ...decimalSchema, description: 'Exact; unpriced operations add nothing until they are priced (unpriced_tokens says how much that leaves out)' },
  unpriced_tokens: {
    type: 'integer',
    minimum: 0,
    description:
      "Tokens of operations whose model has no price yet (GET /v1/unpriced-models): counted in tokens, not yet in cost. Once sales prices the model they are priced and move into cost; while this is above 0, cost is not the whole bill",
  },
} as const;

export const MeterSumsSchema = named('MeterSums', {
  type: 'object',
  additionalProperties: false,
  required: ['calls', 'tokens', 'cost', 'unpriced_tokens', 'effective_ratio'],
  properties: {
    ...sumsProperties,
    effective_ratio: {
      type: ['number', 'null'],
      minimum: 0,
      maximum: 1,
      description: 'effective tokens / (effective + ineffective tokens); null when both are 0',
    },
  },
} as const);

export const MeterRowSchema = named('MeterRow', {
  type: 'object',
  additionalProperties: false,
  required: ['key', ...MeterSumsSchema.required],
  properties: {
    key: {
      type: 'object',
      additionalProperties: { type: ['string', 'null'] },
      description: 'One entry per group_by dimension; null where the dimension was absent',
    },
    ...MeterSumsSchema.properties,
  },
} as const);

export const MeterReadingSchema = named('MeterReading', {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to', 'group_by', 'rows', 'totals'],
  properties: {
    from: dateTimeSchema,
    to: dateTimeSchema,
    group_by: { type: 'array', items: { type: 'string' } },
    rows: { type: 'array', items: MeterRowSchema },
    totals: MeterSumsSchema,
  },
} as const);

const text = { type: ['string', 'null'] } as const;

export const MeteredEventSchema = named('MeteredEvent', {
  type: 'object',
  additionalProperties: false,
  required: [
    'id', 'timestamp', 'received_at', 'person_id', 'agent_id', 'unit_id', 'session_id', 'session_context', 'task_id', 'attempt_id',
    'outcome', 'error_signature', 'operation', 'channel', 'model', 'model_name', 'tier', 'priced', 'tokens', 'cost', 'label',
    'adjustment', 'metadata',
  ],
  properties: {
    id: { type: 'string' },
    timestamp: dateTimeSchema,
    received_at: dateTimeSchema,
    person_id: text,
    agent_id: text,
    unit_id: { ...text, description: 'The person’s unit at the event’s time' },
    session_id: text,
    session_context: { anyOf: [{ type: 'string', enum: ['internal', 'external'] }, { type: 'null' }] },
    task_id: text,
    attempt_id: text,
    outcome: { anyOf: [{ type: 'string', enum: ['success', 'failure'] }, { type: 'null' }] },
    error_signature: text,
    operation: text,
    channel: { anyOf: [{ type: 'string', enum: [...CHANNELS] }, { type: 'null' }] },
    model: { ...text, description: 'The catalog id, or the reported name while unpriced' },
    model_name: { ...text, description: 'The name as reported' },
    tier: { anyOf: [{ type: 'string', enum: [...TIERS] }, { type: 'null' }] },
    priced: { type: 'boolean' },
    tokens: TokenCountsSchema,
    cost: { anyOf: [EventCostSchema, { type: 'null' }], description: 'null while unpriced' },
    label: labelSchema,
    adjustment: { type: 'boolean' },
    metadata: { type: ['object', 'null'], description: 'As the event sent it' },
  },
} as const);

export const EventPageSchema = named('EventPage', {
  type: 'object',
  additionalProperties: false,
  required: ['data', 'next_cursor'],
  properties: {
    data: { type: 'array', items: MeteredEventSchema },
    next_cursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last' },
  },
} as const);

export const CsvSchema = { type: 'string', description: 'CSV with a header row' } as const;

// ---- The live stream's messages ----

export const StreamTotalsSchema = named('StreamTotals', {
  type: 'object',
  additionalProperties: false,
  required: ['calls', 'tokens', 'cost', 'unpriced_tokens'],
  description: 'Running totals of this calendar month (UTC) for the stream’s scope',
  properties: sumsProperties,
} as const);

export const MeterStreamReadySchema = named('MeterStreamReady', {
  type: 'object',
  additionalProperties: false,
  required: ['period', 'totals'],
  description: 'The data of the `ready` message',
  properties: {
    period: { type: 'object', additionalProperties: false, required: ['from', 'to'], properties: { from: dateTimeSchema, to: dateTimeSchema } },
    totals: StreamTotalsSchema,
  },
} as const);

export const MeterStreamOperationSchema = named('MeterStreamOperation', {
  type: 'object',
  additionalProperties: false,
  required: ['event', 'totals'],
  description: 'The data of each `operation` message',
  properties: { event: MeteredEventSchema, totals: StreamTotalsSchema },
} as const);

export const MeterStreamSchema = {
  type: 'string',
  description:
    'Server-sent events: `ready` (data: MeterStreamReady), then `operation` (data: MeterStreamOperation) per accepted ' +
    'operation; a `: keepalive` comment every 15 s',
} as const;
