// Response body of GET /v1/unpriced-models, as a JSON schema (OpenAPI and types alike).
import { dateTimeSchema, listOf, named } from '../../src/http/openapi.js';

export const UnpricedModelSchema = named('UnpricedModel', {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'events', 'accounts', 'first_seen', 'last_seen'],
  properties: {
    model: { type: 'string', description: 'The name as reported' },
    events: { type: 'integer', minimum: 1, description: 'Events stored unpriced' },
    accounts: { type: 'integer', minimum: 1 },
    first_seen: dateTimeSchema,
    last_seen: dateTimeSchema,
  },
} as const);

export const UnpricedModelListSchema = named('UnpricedModelList', listOf(UnpricedModelSchema));
