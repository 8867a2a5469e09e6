// Request and response bodies of the API-key routes, as JSON schemas (validation, OpenAPI and types alike).
import { dateTimeSchema, listOf, named, type Body } from '../http/openapi.js';
import { nameSchema, slugSchema } from '../http/validation.js';
import { ROLES } from './principal.js';

export const createApiKeySchema = named('CreateApiKey', {
  type: 'object',
  additionalProperties: false,
  required: ['role', 'name'],
  properties: {
    role: { type: 'string', enum: [...ROLES] },
    account: { ...slugSchema, description: 'finance, member and agent keys: the account (an admin issuing one must name it)' },
    person_id: { ...slugSchema, description: 'member keys: the person' },
    agent_id: { ...slugSchema, description: 'agent keys: the agent' },
    name: nameSchema,
  },
} as const);

export type CreateApiKeyBody = Body<typeof createApiKeySchema>;

const keyProperties = {
  id: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$', description: 'The `<id>` part of the key; revoke with it' },
  role: { type: 'string', enum: [...ROLES] },
  account: { anyOf: [slugSchema, { type: 'null' }], description: 'null for operator keys' },
  person_id: { anyOf: [slugSchema, { type: 'null' }], description: 'The person of a member key' },
  agent_id: { anyOf: [slugSchema, { type: 'null' }], description: 'The agent of an agent key' },
  name: nameSchema,
  created_at: dateTimeSchema,
  revoked_at: { anyOf: [dateTimeSchema, { type: 'null' }] },
} as const;
const keyRequired = ['id', 'role', 'account', 'person_id', 'agent_id', 'name', 'created_at', 'revoked_at'] as const;

export const ApiKeySchema = named('ApiKey', { type: 'object', additionalProperties: false, required: keyRequired, properties: keyProperties } as const);

export const IssuedApiKeySchema = named('IssuedApiKey', {
  type: 'object',
  additionalProperties: false,
  required: [...keyRequired, 'secret'],
  properties: {
    ...keyProperties,
    secret: { type: 'string', description: 'The whole key, `tm_<env>_<id>_<secret>`: shown this once, never stored' },
  },
} as const);

export const ApiKeyListSchema = named('ApiKeyList', listOf(ApiKeySchema));

export const listApiKeysQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { account: { ...slugSchema, description: 'Only the keys bound to this account' } },
} as const;
