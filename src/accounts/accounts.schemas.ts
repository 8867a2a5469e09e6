// Request and response bodies of the accounts and org-tree routes, as JSON schemas: SchemaPipe validates
// requests with them, the OpenAPI document shows them by name, and the TypeScript types come from them.
import { currencySchema, dateTimeSchema, limitParam, listOf, named, type Body } from '../http/openapi.js';
import { nameSchema, slugSchema } from '../http/validation.js';

export const createAccountSchema = named('CreateAccount', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'currency'],
  properties: {
    id: slugSchema,
    name: nameSchema,
    currency: currencySchema,
    paid_enterprise: { type: 'boolean' },
    fiscal_year_start_month: { type: 'integer', minimum: 1, maximum: 12 },
    task_inactivity_timeout_seconds: { type: 'integer', minimum: 60, maximum: 31_536_000 },
  },
} as const);

export const updateAccountSchema = named('UpdateAccount', {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    name: nameSchema,
    paid_enterprise: { type: 'boolean' },
    fiscal_year_start_month: { type: 'integer', minimum: 1, maximum: 12 },
    task_inactivity_timeout_seconds: { type: 'integer', minimum: 60, maximum: 31_536_000 },
  },
} as const);

export const createUnitSchema = named('CreateUnit', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'kind'],
  properties: {
    id: slugSchema,
    name: nameSchema,
    kind: { type: 'string', enum: ['department', 'team'] },
    parent_id: { anyOf: [slugSchema, { type: 'null' }] },
  },
} as const);

export const createPersonSchema = named('CreatePerson', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'unit_id'],
  properties: { id: slugSchema, name: nameSchema, unit_id: slugSchema },
} as const);

export const updatePersonSchema = named('UpdatePerson', {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    name: nameSchema,
    unit_id: slugSchema,
    effective_from: { type: 'string', format: 'date-time', description: 'When a unit move took effect; default now' },
  },
} as const);

export const createAgentSchema = named('CreateAgent', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'owner_person_id'],
  properties: { id: slugSchema, name: nameSchema, owner_person_id: slugSchema },
} as const);

export type CreateAccountBody = Body<typeof createAccountSchema>;
export type UpdateAccountBody = Body<typeof updateAccountSchema>;
export type CreateUnitBody = Body<typeof createUnitSchema>;
export type CreatePersonBody = Body<typeof createPersonSchema>;
export type UpdatePersonBody = Body<typeof updatePersonSchema>;
export type CreateAgentBody = Body<typeof createAgentSchema>;

const fiscalYearStartMonth = { type: 'integer', minimum: 1, maximum: 12 } as const;
const taskTimeout = { type: 'integer', minimum: 60, maximum: 31_536_000, description: 'An open task with no event for this long closes as abandoned' } as const;

export const AccountSchema = named('Account', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'currency', 'paid_enterprise', 'fiscal_year_start_month', 'task_inactivity_timeout_seconds', 'created_at', 'updated_at'],
  properties: {
    id: slugSchema,
    name: nameSchema,
    currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' },
    paid_enterprise: { type: 'boolean' },
    fiscal_year_start_month: fiscalYearStartMonth,
    task_inactivity_timeout_seconds: taskTimeout,
    created_at: dateTimeSchema,
    updated_at: dateTimeSchema,
  },
} as const);

export const UnitSchema = named('Unit', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'kind', 'parent_id', 'created_at'],
  properties: {
    id: slugSchema,
    name: nameSchema,
    kind: { type: 'string', enum: ['department', 'team'] },
    parent_id: { anyOf: [slugSchema, { type: 'null' }], description: 'null: directly under the account' },
    created_at: dateTimeSchema,
  },
} as const);

const personProperties = {
  id: slugSchema,
  name: nameSchema,
  unit_id: { ...slugSchema, description: 'The unit the person is in now' },
  active: { type: 'boolean' },
  created_at: dateTimeSchema,
  deactivated_at: { anyOf: [dateTimeSchema, { type: 'null' }] },
} as const;
const personRequired = ['id', 'name', 'unit_id', 'active', 'created_at', 'deactivated_at'] as const;

export const PersonSchema = named('Person', {
  type: 'object',
  additionalProperties: false,
  required: personRequired,
  properties: personProperties,
} as const);

export const UnitMembershipSchema = named('UnitMembership', {
  type: 'object',
  additionalProperties: false,
  required: ['unit_id', 'effective_from', 'recorded_at'],
  properties: { unit_id: slugSchema, effective_from: dateTimeSchema, recorded_at: dateTimeSchema },
} as const);

export const PersonWithUnitsSchema = named('PersonWithUnits', {
  type: 'object',
  additionalProperties: false,
  required: [...personRequired, 'units'],
  properties: {
    ...personProperties,
    units: { type: 'array', items: UnitMembershipSchema, description: 'Every unit the person was in, oldest first' },
  },
} as const);

export const AgentSchema = named('Agent', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'owner_person_id', 'active', 'created_at'],
  properties: { id: slugSchema, name: nameSchema, owner_person_id: slugSchema, active: { type: 'boolean' }, created_at: dateTimeSchema },
} as const);

export const AccountListSchema = named('AccountList', listOf(AccountSchema));
export const UnitListSchema = named('UnitList', listOf(UnitSchema));
export const PersonListSchema = named('PersonList', listOf(PersonSchema));
export const AgentListSchema = named('AgentList', listOf(AgentSchema));

export const listAccountsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { ...slugSchema, description: 'The last id of the previous page' },
    limit: limitParam(),
  },
} as const;
export const listPeopleQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { unit_id: { ...slugSchema, description: 'Only the people in this unit now' } },
} as const;
export const listAgentsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { owner_person_id: { ...slugSchema, description: 'Only the agents this person owns' } },
} as const;
