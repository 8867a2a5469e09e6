// Response body and query of GET /v1/audit, as JSON schemas (OpenAPI and types alike).
import { dateTimeSchema, limitParam, named } from '../http/openapi.js';
import { slugSchema } from '../http/validation.js';

const nullableText = { type: ['string', 'null'] } as const;
const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

export const AuditRowSchema = named('AuditRow', {
  type: 'object',
  additionalProperties: false,
  required: [
    'seq', 'occurred_at', 'actor_key_id', 'actor_role', 'actor_account_id', 'on_behalf_of_person_id', 'action',
    'entity_type', 'entity_id', 'account_id', 'before', 'after', 'prev_hash', 'hash',
  ],
  properties: {
    seq: { type: 'integer', minimum: 1 },
    occurred_at: dateTimeSchema,
    actor_key_id: { ...nullableText, description: 'The key that made the change; null for the system' },
    actor_role: nullableText,
    actor_account_id: nullableText,
    on_behalf_of_person_id: { ...nullableText, description: 'For an agent key, the person it acts for' },
    action: { type: 'string', description: 'e.g. `account.create`, `price_book.correction`' },
    entity_type: { type: 'string' },
    entity_id: { type: 'string' },
    account_id: nullableText,
    before: { description: 'The entity before the change (null on create)' },
    after: { description: 'The entity after the change' },
    prev_hash: sha256,
    hash: { ...sha256, description: 'SHA-256 over the row’s content and prev_hash' },
  },
} as const);

export const ChainVerificationSchema = named('ChainVerification', {
  type: 'object',
  additionalProperties: false,
  required: ['valid', 'rows_checked'],
  properties: {
    valid: { type: 'boolean' },
    rows_checked: { type: 'integer', minimum: 0 },
    first_broken: {
      type: 'object',
      additionalProperties: false,
      required: ['seq', 'reason'],
      description: 'The first row whose hash or link does not hold',
      properties: { seq: { type: 'integer' }, reason: { type: 'string', enum: ['hash_mismatch', 'broken_link', 'sequence_gap'] } },
    },
  },
} as const);

export const AuditPageSchema = named('AuditPage', {
  type: 'object',
  additionalProperties: false,
  required: ['data', 'next_after_seq', 'verification'],
  properties: {
    data: { type: 'array', items: AuditRowSchema },
    next_after_seq: { type: ['integer', 'null'], description: 'Pass as `after_seq` for the next page; null on the last' },
    verification: ChainVerificationSchema,
  },
} as const);

export const auditQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after_seq: { type: 'integer', minimum: 0, description: 'Rows after this sequence number (default 0)' },
    limit: limitParam(),
    account: { ...slugSchema, description: 'Only rows about this account' },
    entity_type: { type: 'string', description: 'Only rows about this kind of entity, e.g. `api_key`' },
  },
} as const;
