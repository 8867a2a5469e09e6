// Request bodies of the catalog routes, as JSON schemas (validation and OpenAPI alike).
import { nameSchema } from '../../src/http/validation.js';

/** A name a provider reports on an event: an id, an alias or a dated snapshot (`gpt-4o-2024-08-06`). */
export const modelNameSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:@+/-]*$',
} as const;

export const putModelSchema = {
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
} as const;

export interface PutModelBody {
  tier: string;
  provider: string;
  aliases?: string[];
}
