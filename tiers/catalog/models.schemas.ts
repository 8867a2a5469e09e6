// Request and response bodies of the catalog routes, as JSON schemas (validation, OpenAPI and types alike).
import { dateTimeSchema, listOf, named, type Body } from '../../src/http/openapi.js';
import { nameSchema, slugSchema } from '../../src/http/validation.js';
import { TIERS } from '../pricing/pricing.js';

/** A name a provider reports on an event: an id, an alias or a dated snapshot (`gpt-4o-2024-08-06`). */
export const modelNameSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:@+/-]*$',
} as const;

export const putModelSchema = named('PutModel', {
  type: 'object',
  additionalProperties: false,
  required: ['tier', 'provider'],
  properties: {
    // Checked by the service, so an unknown tier answers `unknown_tier` like it does in a price book.
    tier: { type: 'string', description: 'base, specialized or premier' },
    provider: nameSchema,
    aliases: {
      type: 'array',
      maxItems: 100,
      uniqueItems: true,
      items: modelNameSchema,
      description: 'Other names for this model, e.g. a dated snapshot that should map here explicitly',
    },
  },
} as const);

export type PutModelBody = Body<typeof putModelSchema>;

const modelProperties = {
  id: slugSchema,
  provider: nameSchema,
  tier: { type: 'string', enum: [...TIERS] },
  aliases: { type: 'array', items: modelNameSchema },
  created_at: dateTimeSchema,
  updated_at: dateTimeSchema,
} as const;
const modelRequired = ['id', 'provider', 'tier', 'aliases', 'created_at', 'updated_at'] as const;

export const ModelSchema = named('Model', { type: 'object', additionalProperties: false, required: modelRequired, properties: modelProperties } as const);

export const ResolvedModelSchema = named('ResolvedModel', {
  type: 'object',
  additionalProperties: false,
  required: [...modelRequired, 'requested_name', 'matched_by'],
  description: 'A model found through an alias or a dated snapshot name',
  properties: {
    ...modelProperties,
    requested_name: modelNameSchema,
    matched_by: { type: 'string', enum: ['id', 'alias', 'snapshot_id', 'snapshot_alias'] },
  },
} as const);

export const ModelListSchema = named('ModelList', listOf(ModelSchema));
