// Request and response bodies of the budget routes, as JSON schemas: requests are validated with them,
// and both feed the OpenAPI document by name.
import { dateTimeSchema, decimalSchema, described, listOf, named } from '../../src/http/openapi.js';
import type { JsonSchema } from '../../src/http/validation.js';

const periodKind = { type: 'string', enum: ['year', 'quarter', 'month'] } as const;
const day = { type: 'string', maxLength: 10, description: 'YYYY-MM-DD: the first day of a period of the account’s fiscal calendar' } as const;
const nodeText = { type: 'string', minLength: 1, maxLength: 80, description: '`account`, `unit:<id>` or `person:<id>`' } as const;
const count = { type: 'integer', minimum: 0 } as const;
const decimalInputChecked = { type: 'string', minLength: 1, maxLength: 64, description: 'A decimal string, e.g. "1200.00"' } as const;
const nullable = <const S extends JsonSchema>(schema: S) => ({ anyOf: [schema, { type: 'null' }] }) as const;

const putBudgetChecked = {
  type: 'object',
  additionalProperties: false,
  required: ['period'],
  description:
    'Replaces the budget of the node for the period. At least one of headcount, token_limit and amount_limit. ' +
    '`period_start` defaults to the current period of that kind. `enforcement` defaults to soft (alerts only); ' +
    'hard denies authorizations past the limit. `thresholds` (percent of the limits) default to 50, 80, 100.',
  properties: {
    period: periodKind,
    period_start: day,
    headcount: { type: ['integer', 'null'], minimum: 0, maximum: 10_000_000, description: 'Whole people; at most 1 on a person' },
    token_limit: { type: ['integer', 'null'], minimum: 0 },
    amount_limit: { ...decimalInputChecked, type: ['string', 'null'] },
    enforcement: { type: 'string', enum: ['soft', 'hard'] },
    thresholds: { type: 'array', minItems: 1, maxItems: 10, items: { type: 'integer', minimum: 1, maximum: 1000 } },
  },
} as const satisfies JsonSchema;

export const deleteBudgetQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['period'],
  properties: { period: { ...periodKind, description: 'Which period kind' }, period_start: day },
} as const satisfies JsonSchema;

const transferChecked = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to', 'period'],
  description:
    'Moves unused allocation (allocation less what is spent, held, allocated further down, or for headcount the ' +
    'people in it now) from `from` to a sibling or back to its parent. At least one of headcount, tokens, amount.',
  properties: {
    from: nodeText,
    to: nodeText,
    period: periodKind,
    period_start: day,
    headcount: count,
    tokens: count,
    amount: decimalInputChecked,
  },
} as const satisfies JsonSchema;

export const listBudgetsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    period: { ...periodKind, description: 'Only budgets of this period kind' },
    period_start: {
      ...day,
      description:
        'With `period`: the budgets of the period starting that day (a first day of the fiscal calendar), which may have ended or be still to come, instead of those in force now',
    },
    format: { type: 'string', enum: ['json', 'csv'] },
  },
} as const satisfies JsonSchema;

export const alertsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'string', maxLength: 8, description: 'At most this many, newest first (1 to 1000, default 100)' },
    period: { ...periodKind, description: 'Only the alerts of the period of this kind in force now (or, with `period_start`, of the one starting that day)' },
    period_start: {
      ...day,
      description: 'With `period`: only the alerts of the period starting that day (a first day of the fiscal calendar; ended, in force or to come)',
    },
  },
} as const satisfies JsonSchema;

// As documented: amounts as decimal strings and the period's first day as a date, which the envelope above
// leaves to the budget code (its errors name the field). "At least one of" stays in words: as variants it
// would make every caller that fills a body from optional flags (the CLI, the console's forms) cast.
const decimalInput = { ...decimalInputChecked, pattern: decimalSchema.pattern } as const;
const dayInput = { ...day, format: 'date' } as const;

/** The request body of PUT .../budgets/:node (see `described`). */
export const putBudgetSchema = described('PutBudget', putBudgetChecked, {
  ...putBudgetChecked,
  properties: { ...putBudgetChecked.properties, period_start: dayInput, amount_limit: { anyOf: [decimalInput, { type: 'null' }], description: decimalInputChecked.description } },
});

/** The request body of POST .../budgets/transfers (see `described`). */
export const transferSchema = described('BudgetTransfer', transferChecked, {
  ...transferChecked,
  properties: { ...transferChecked.properties, period_start: dayInput, amount: decimalInput },
});

// ---- Responses ----

const periodOut = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'start', 'end'],
  properties: { kind: periodKind, start: { type: 'string' }, end: { type: 'string', description: 'Exclusive' } },
} as const;
const measure = (amount: JsonSchema, tokens: JsonSchema) =>
  ({ type: 'object', additionalProperties: false, required: ['amount', 'tokens'], properties: { amount, tokens } }) as const;

export const BudgetSchema = named('Budget', {
  type: 'object',
  additionalProperties: false,
  required: ['node', 'period', 'headcount', 'token_limit', 'amount_limit', 'enforcement', 'thresholds', 'updated_at'],
  properties: {
    node: { type: 'string' },
    period: periodOut,
    headcount: { type: ['integer', 'null'] },
    token_limit: { type: ['integer', 'null'] },
    amount_limit: nullable(decimalSchema),
    enforcement: { type: 'string', enum: ['soft', 'hard'] },
    thresholds: { type: 'array', items: { type: 'integer' } },
    updated_at: dateTimeSchema,
  },
} as const);

export const TransferResultSchema = named('BudgetTransferResult', {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to', 'moved'],
  properties: {
    from: BudgetSchema,
    to: { anyOf: [BudgetSchema, { type: 'null' }], description: 'The receiving budget; the parent’s (unchanged) or null when it has none' },
    moved: {
      type: 'object',
      additionalProperties: false,
      required: ['headcount', 'tokens', 'amount'],
      properties: { headcount: count, tokens: count, amount: decimalSchema },
    },
  },
} as const);

export const BudgetBurnSchema = named('BudgetBurn', {
  type: 'object',
  additionalProperties: false,
  required: [
    'node',
    'period',
    'enforcement',
    'thresholds',
    'headcount',
    'agents',
    'limit',
    'spent',
    'held',
    'left',
    'effective_ratio',
    'per_head',
    'forecast',
  ],
  properties: {
    node: { type: 'string' },
    period: periodOut,
    enforcement: { type: 'string', enum: ['soft', 'hard'] },
    thresholds: { type: 'array', items: { type: 'integer' } },
    headcount: {
      type: 'object',
      additionalProperties: false,
      required: ['allocated', 'people'],
      properties: { allocated: { type: ['integer', 'null'] }, people: { ...count, description: 'Active people in the node now' } },
    },
    agents: { ...count, description: 'Active agents of those people' },
    limit: measure(nullable(decimalSchema), { type: ['integer', 'null'] }),
    spent: measure(decimalSchema, { type: 'integer' }),
    held: measure(decimalSchema, { type: 'integer' }),
    left: measure(nullable(decimalSchema), { type: ['integer', 'null'] }),
    effective_ratio: { type: ['number', 'null'] },
    per_head: measure(nullable(decimalSchema), { type: ['integer', 'null'] }),
    forecast: {
      type: 'object',
      additionalProperties: false,
      required: ['burn_per_day', 'amount_at_period_end', 'tokens_at_period_end', 'limit_reached_at'],
      properties: {
        burn_per_day: measure(decimalSchema, { type: 'integer' }),
        amount_at_period_end: decimalSchema,
        tokens_at_period_end: { type: 'integer' },
        limit_reached_at: { ...nullable(dateTimeSchema), description: 'Now when already reached; null when not reached within the period at this rate' },
      },
    },
  },
} as const);

export const BudgetBurnListSchema = named('BudgetBurnList', {
  type: 'object',
  additionalProperties: false,
  required: ['data', 'period', 'as_of'],
  properties: {
    data: { type: 'array', items: BudgetBurnSchema },
    period: {
      ...nullable(periodOut),
      description:
        'With `period`: the period listed, the one of that kind in force at `as_of` or the one `period_start` names. Null when every kind in force is listed',
    },
    as_of: { ...dateTimeSchema, description: 'The service’s time of the listing: whether the period is in force, ended or to come is measured against it' },
  },
} as const);

export const BudgetAlertSchema = named('BudgetAlert', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'node', 'period', 'kind', 'threshold', 'fired_at', 'data'],
  properties: {
    id: { type: 'string' },
    node: { type: 'string' },
    period: { type: 'object', additionalProperties: false, required: ['kind', 'start'], properties: { kind: periodKind, start: { type: 'string' } } },
    kind: { type: 'string', enum: ['threshold', 'forecast'] },
    threshold: { type: ['integer', 'null'], description: 'Percent, for a threshold alert' },
    fired_at: dateTimeSchema,
    data: { type: 'object', description: 'The figures when it fired (the webhook’s data)' },
  },
} as const);

export const BudgetAlertListSchema = named('BudgetAlertList', listOf(BudgetAlertSchema));
