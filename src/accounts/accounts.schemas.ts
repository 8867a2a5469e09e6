// Request bodies of the accounts and org-tree routes, as JSON schemas (validation and OpenAPI alike).
import { nameSchema, slugSchema } from '../http/validation.js';

export const createAccountSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'currency'],
  properties: {
    id: slugSchema,
    name: nameSchema,
    currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' },
    paid_enterprise: { type: 'boolean' },
    fiscal_year_start_month: { type: 'integer', minimum: 1, maximum: 12 },
    task_inactivity_timeout_seconds: { type: 'integer', minimum: 60, maximum: 31_536_000 },
  },
} as const;

export const updateAccountSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    name: nameSchema,
    paid_enterprise: { type: 'boolean' },
    fiscal_year_start_month: { type: 'integer', minimum: 1, maximum: 12 },
    task_inactivity_timeout_seconds: { type: 'integer', minimum: 60, maximum: 31_536_000 },
  },
} as const;

export const createUnitSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'kind'],
  properties: {
    id: slugSchema,
    name: nameSchema,
    kind: { type: 'string', enum: ['department', 'team'] },
    parent_id: { anyOf: [slugSchema, { type: 'null' }] },
  },
} as const;

export const createPersonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'unit_id'],
  properties: { id: slugSchema, name: nameSchema, unit_id: slugSchema },
} as const;

export const updatePersonSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    name: nameSchema,
    unit_id: slugSchema,
    effective_from: { type: 'string', format: 'date-time', description: 'When a unit move took effect; default now' },
  },
} as const;

export const createAgentSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'owner_person_id'],
  properties: { id: slugSchema, name: nameSchema, owner_person_id: slugSchema },
} as const;

export interface CreateAccountBody {
  id: string;
  name: string;
  currency: string;
  paid_enterprise?: boolean;
  fiscal_year_start_month?: number;
  task_inactivity_timeout_seconds?: number;
}
export type UpdateAccountBody = Partial<Omit<CreateAccountBody, 'id' | 'currency'>>;
export interface CreateUnitBody {
  id: string;
  name: string;
  kind: 'department' | 'team';
  parent_id?: string | null;
}
export interface CreatePersonBody {
  id: string;
  name: string;
  unit_id: string;
}
export interface UpdatePersonBody {
  name?: string;
  unit_id?: string;
  effective_from?: string;
}
export interface CreateAgentBody {
  id: string;
  name: string;
  owner_person_id: string;
}
