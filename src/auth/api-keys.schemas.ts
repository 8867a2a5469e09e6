import { nameSchema, slugSchema } from '../http/validation.js';
import { ROLES, type Role } from './principal.js';

export const createApiKeySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['role', 'name'],
  properties: {
    role: { type: 'string', enum: [...ROLES] },
    account: slugSchema,
    person_id: slugSchema,
    agent_id: slugSchema,
    name: nameSchema,
  },
} as const;

export interface CreateApiKeyBody {
  role: Role;
  account?: string;
  person_id?: string;
  agent_id?: string;
  name: string;
}
