// Request and response bodies of the webhook routes, as JSON schemas: requests are validated with them
// (src/http/validation.ts), both feed the OpenAPI document by name, and the types come from them.
import { dateTimeSchema, limitParam, named, type Body } from '../../src/http/openapi.js';
import { slugSchema, type JsonSchema } from '../../src/http/validation.js';
import { WEBHOOK_EVENT_TYPES } from './event-types.js';
import { URL_MAX } from './endpoint-url.js';

export const MAX_EXPIRE_PREVIOUS_SECONDS = 7 * 86_400;

// Event types are checked by the service, so an unknown one is answered with its own code and the list.
const eventTypes = {
  type: 'array',
  minItems: 1,
  maxItems: 20,
  uniqueItems: true,
  items: { type: 'string', minLength: 1, maxLength: 64 },
  description: `Any of ${WEBHOOK_EVENT_TYPES.join(', ')}. Default: all but task.classified (opt-in).`,
} as const;
const url = { type: 'string', minLength: 1, maxLength: URL_MAX, description: 'http or https; must reach a public address' } as const;
const description = { type: 'string', maxLength: 500 } as const;

export const createEndpointSchema = named('CreateWebhookEndpoint', {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    account: { ...slugSchema, description: "The endpoint's account (an admin must name it; finance defaults to its own)" },
    url,
    event_types: eventTypes,
    description,
  },
} as const satisfies JsonSchema);

export const updateEndpointSchema = named('UpdateWebhookEndpoint', {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { url, event_types: eventTypes, description, enabled: { type: 'boolean' } },
} as const satisfies JsonSchema);

export const rotateSecretSchema = named('RotateWebhookSecret', {
  type: 'object',
  additionalProperties: false,
  properties: {
    expire_previous_in_seconds: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_EXPIRE_PREVIOUS_SECONDS,
      description: 'How long the old secret keeps signing beside the new one (default 86400; 0 ends it now)',
    },
  },
} as const satisfies JsonSchema);

export type CreateEndpointBody = Body<typeof createEndpointSchema>;
export type UpdateEndpointBody = Body<typeof updateEndpointSchema>;
export type RotateSecretBody = Body<typeof rotateSecretSchema>;

// Responses

const time = dateTimeSchema;
const nullable = <const S extends JsonSchema>(schema: S) => ({ anyOf: [schema, { type: 'null' }] }) as const;

export const endpointResponseSchema = named('WebhookEndpoint', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'account', 'url', 'description', 'event_types', 'enabled', 'created_at', 'updated_at', 'previous_secret_expires_at'],
  properties: {
    id: { type: 'string', example: 'we_5f0c8a3e9b1d4c7a2e6f8b01' },
    account: { type: 'string' },
    url: { type: 'string' },
    description: { type: 'string' },
    event_types: { type: 'array', items: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES] } },
    enabled: { type: 'boolean' },
    created_at: time,
    updated_at: time,
    previous_secret_expires_at: { ...nullable(time), description: 'Until then deliveries are signed with the previous secret too' },
  },
} as const satisfies JsonSchema);

export const endpointWithSecretResponseSchema = named('WebhookEndpointWithSecret', {
  ...endpointResponseSchema,
  required: [...endpointResponseSchema.required, 'secret'],
  properties: {
    ...endpointResponseSchema.properties,
    secret: { type: 'string', description: 'The signing secret, shown only in this answer', example: 'whsec_…' },
  },
} as const satisfies JsonSchema);

export const endpointListResponseSchema = named('WebhookEndpointList', {
  type: 'object',
  additionalProperties: false,
  required: ['data', 'next_after'],
  properties: {
    data: { type: 'array', items: endpointResponseSchema },
    next_after: { ...nullable({ type: 'string' }), description: 'Pass as `after` for the next page; null on the last' },
  },
} as const satisfies JsonSchema);

const attemptSchema = named('WebhookAttempt', {
  type: 'object',
  additionalProperties: false,
  required: ['attempt', 'started_at', 'status_code', 'duration_ms', 'error', 'response_excerpt'],
  properties: {
    attempt: { type: 'integer' },
    started_at: time,
    status_code: nullable({ type: 'integer' }),
    duration_ms: { type: 'integer' },
    error: nullable({ type: 'string' }),
    response_excerpt: { ...nullable({ type: 'string' }), description: 'The first KiB of the answer' },
  },
} as const satisfies JsonSchema);

export const deliveryResponseSchema = named('WebhookDelivery', {
  type: 'object',
  additionalProperties: false,
  required: [
    'id', 'endpoint_id', 'event_id', 'event_type', 'replay_of', 'status', 'attempt_count', 'next_attempt_at', 'deadline_at',
    'last_status_code', 'last_error', 'last_duration_ms', 'created_at', 'completed_at', 'attempts',
  ],
  properties: {
    id: { type: 'string' },
    endpoint_id: { type: 'string' },
    event_id: { type: 'string', description: 'Also sent as the tokenmeter-event-id header: the same on every attempt and replay' },
    event_type: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES] },
    replay_of: nullable({ type: 'string' }),
    status: { type: 'string', enum: ['pending', 'succeeded', 'failed', 'canceled'] },
    attempt_count: { type: 'integer' },
    next_attempt_at: { ...nullable(time), description: 'When the next attempt is due (pending only)' },
    deadline_at: { ...time, description: 'No attempt is made after this; then the delivery has failed' },
    last_status_code: nullable({ type: 'integer' }),
    last_error: nullable({ type: 'string' }),
    last_duration_ms: nullable({ type: 'integer' }),
    created_at: time,
    completed_at: nullable(time),
    attempts: { type: 'array', items: attemptSchema },
    payload: { description: 'The body sent (single delivery only)' },
  },
} as const satisfies JsonSchema);

export const deliveryListResponseSchema = named('WebhookDeliveryList', {
  type: 'object',
  additionalProperties: false,
  required: ['data', 'next_cursor'],
  properties: {
    data: { type: 'array', items: deliveryResponseSchema },
    next_cursor: { ...nullable({ type: 'string' }), description: 'Pass as `cursor` for the next page; null on the last' },
  },
} as const satisfies JsonSchema);

export const listEndpointsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    account: { ...slugSchema, description: 'An admin: only this account’s endpoints' },
    after: { type: 'string', description: 'The last id of the previous page' },
    limit: limitParam(100),
  },
} as const;

export const listDeliveriesQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['pending', 'succeeded', 'failed', 'canceled'] },
    cursor: { type: 'string', description: 'The `next_cursor` of the previous page' },
    limit: limitParam(200, 50),
  },
} as const;
