// Response body of GET /v1/ignored-usage-fields, as a JSON schema (OpenAPI and types alike).
import { dateTimeSchema, listOf, named } from '../../src/http/openapi.js';

export const IgnoredUsageFieldSchema = named('IgnoredUsageField', {
  type: 'object',
  additionalProperties: false,
  required: ['path', 'format', 'events', 'first_seen', 'last_seen'],
  properties: {
    path: { type: 'string', description: 'The field’s path in the usage object, e.g. `usage.prompt_tokens_details.new_tokens`' },
    format: { type: 'string', description: 'The usage format the events were read as' },
    events: { type: 'integer', minimum: 1, description: 'Events that carried it' },
    first_seen: dateTimeSchema,
    last_seen: dateTimeSchema,
  },
} as const);

export const IgnoredUsageFieldListSchema = named('IgnoredUsageFieldList', listOf(IgnoredUsageFieldSchema));
