import { RequestError } from './domain-error.js';
import { currencySchema, decimalSchema } from './openapi.js';
import { compileSchema, findBadValue, sameWords, SchemaPipe, slugSchema, withoutRequired } from './validation.js';

const account = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'currency'],
  properties: {
    id: { type: 'string' },
    currency: { type: 'string' },
    limits: {
      type: 'object',
      additionalProperties: false,
      required: ['monthly'],
      properties: { monthly: { type: 'integer' }, yearly: { type: 'integer' } },
    },
  },
};

function errorOf(validate: (value: unknown) => unknown, value: unknown): { code: string; message: string; field?: unknown } {
  try {
    validate(value);
  } catch (error) {
    if (error instanceof RequestError) return { code: error.code, message: error.message, field: error.details.field };
    throw error;
  }
  throw new Error('expected a validation error');
}

describe('compileSchema: the most useful error', () => {
  const validate = compileSchema(account);

  it('names an unknown field before the missing one it is probably meant to be', () => {
    expect(errorOf(validate, { id: 'x', curency: 'EUR' })).toEqual({
      code: 'unknown_field',
      message: 'Unknown field "curency". Did you mean "currency"?',
      field: 'curency',
    });
  });

  it('guesses only a close missing field, and else names the fields the object has', () => {
    expect(errorOf(validate, { id: 'x', colour: 'red' })).toEqual({
      code: 'unknown_field',
      message: 'Unknown field "colour". The fields here are "id", "currency", "limits".',
      field: 'colour',
    });
    // An object of many fields: no list.
    const wide = compileSchema({ type: 'object', additionalProperties: false, properties: Object.fromEntries(Array.from({ length: 13 }, (_, i) => [`f${i}`, { type: 'string' }])) });
    expect(errorOf(wide, { colour: 'red' })).toEqual({ code: 'unknown_field', message: 'Unknown field "colour".', field: 'colour' });
  });

  it('guesses a field by its words when its spelling is too far from any', () => {
    const agent = compileSchema({ type: 'object', additionalProperties: false, required: ['id', 'owner_person_id'], properties: { id: { type: 'string' }, owner_person_id: { type: 'string' } } });
    expect(errorOf(agent, { id: 'bot', owner_id: 'ada' })).toEqual({ code: 'unknown_field', message: 'Unknown field "owner_id". Did you mean "owner_person_id"?', field: 'owner_id' });
    expect(sameWords('owner_id', ['owner_person_id', 'unit_id'])).toBe('owner_person_id');
    // Two fields with those words: no guess.
    expect(sameWords('limit', ['amount_limit', 'token_limit'])).toBeUndefined();
    expect(sameWords('_', ['a'])).toBeUndefined();
  });

  it('finds an unknown field nested below a missing one', () => {
    expect(errorOf(validate, { limits: { monthly: 1, yearl: 2 } })).toMatchObject({ code: 'unknown_field', field: 'limits.yearl' });
    expect(errorOf(validate, { id: 'x', currency: 'EUR', limits: { montly: 1 } })).toMatchObject({
      code: 'unknown_field',
      message: 'Unknown field "limits.montly". Did you mean "monthly"?',
    });
  });

  it('still names a missing field when nothing is unknown, and a wrong type as such', () => {
    expect(errorOf(validate, { id: 'x' })).toMatchObject({ code: 'missing_field', field: 'currency' });
    expect(errorOf(validate, { id: 'x', currency: true })).toEqual({ code: 'wrong_type', message: 'Field "currency" must be a string.', field: 'currency' });
    // A number where a string goes (money is a decimal string): shown as the string to send.
    expect(errorOf(validate, { id: 'x', currency: 1 })).toEqual({ code: 'wrong_type', message: 'Field "currency" must be a string: "1", in quotes.', field: 'currency' });
  });

  it('says the types a field takes in words', () => {
    const budget = compileSchema({ type: 'object', properties: { headcount: { type: ['integer', 'null'] }, hard: { type: 'boolean' } } });
    expect(errorOf(budget, { headcount: 1.5 })).toEqual({ code: 'wrong_type', message: 'Field "headcount" must be a whole number or null.', field: 'headcount' });
    expect(errorOf(budget, { hard: 'yes' })).toEqual({ code: 'wrong_type', message: 'Field "hard" must be true or false.', field: 'hard' });
  });

  it('says a string of a known shape as that shape when it gets another type: money sent as a number is told it is a decimal string', () => {
    const plan = compileSchema({
      type: 'object',
      properties: { base_fee: decimalSchema, limit: { ...decimalSchema, type: ['string', 'null'] }, currency: currencySchema, from: { type: 'string', format: 'date-time' } },
    });
    const checked = compileSchema({ type: 'object', properties: { base_fee: { type: 'string', maxLength: 64 }, cap: { type: ['string', 'null'] } } });
    expect(errorOf(checked, { base_fee: 49.5 })).toEqual({ code: 'wrong_type', message: 'Field "base_fee" must be a string: "49.5", in quotes.', field: 'base_fee' });
    expect(errorOf(checked, { cap: 100 })).toEqual({ code: 'wrong_type', message: 'Field "cap" must be a string, or null: "100", in quotes.', field: 'cap' });
    expect(errorOf(plan, { base_fee: 49 })).toEqual({ code: 'wrong_type', message: 'Field "base_fee" must be a decimal string, like "12.50".', field: 'base_fee' });
    expect(errorOf(plan, { limit: 100 })).toEqual({ code: 'wrong_type', message: 'Field "limit" must be a decimal string, like "12.50", or null.', field: 'limit' });
    // A long list of values is said by its description, as for a value of the right type.
    expect(errorOf(plan, { currency: 978 })).toEqual({ code: 'wrong_type', message: 'Field "currency" must be an ISO 4217 currency code, like "EUR".', field: 'currency' });
    expect(errorOf(plan, { from: 1767225600 })).toEqual({
      code: 'wrong_type',
      message: 'Field "from" must be an RFC 3339 time with an offset, like "2026-03-01T00:00:00Z".',
      field: 'from',
    });
  });

  it('lists the values a field allows, with the likely one, also for a value of the wrong type', () => {
    const budget = compileSchema({
      type: 'object',
      additionalProperties: false,
      properties: { period: { type: 'string', enum: ['year', 'quarter', 'month'] }, estimate: { type: 'string', enum: ['auto'] } },
    });
    expect(errorOf(budget, { period: 'monthly' })).toEqual({
      code: 'invalid_value',
      message: 'Field "period" must be one of "year", "quarter", "month". Did you mean "month"?',
      field: 'period',
    });
    expect(errorOf(budget, { period: 'weekly' })).toEqual({ code: 'invalid_value', message: 'Field "period" must be one of "year", "quarter", "month".', field: 'period' });
    expect(errorOf(budget, { estimate: { input: 1000 } })).toEqual({ code: 'wrong_type', message: 'Field "estimate" must be one of "auto".', field: 'estimate' });
  });

  it('refuses text PostgreSQL cannot store and numbers that lost their digits', () => {
    expect(errorOf(validate, { id: 'a\u0000', currency: 'EUR' })).toMatchObject({ code: 'nul_byte', field: 'id' });
    expect(errorOf(validate, { id: '\ud83d', currency: 'EUR' })).toMatchObject({ code: 'invalid_text', field: 'id' });
    expect(errorOf(validate, { id: 'x', currency: 'EUR', limits: { monthly: 2 ** 60 } })).toMatchObject({
      code: 'unsafe_integer',
      field: 'limits.monthly',
    });
  });
});

describe('patterns and formats in words', () => {
  const schema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      id: slugSchema,
      currency: { type: 'string', pattern: '^[A-Z]{3}$' },
      at: { type: 'string', format: 'date-time' },
      day: { type: 'string', format: 'date' },
      code: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    },
  } as const;
  const validate = compileSchema(schema);

  it('says what the API\'s own patterns and formats ask for, not the expression', () => {
    expect(errorOf(validate, { id: 'Acme Corp' })).toMatchObject({
      code: 'invalid_value',
      field: 'id',
      message: 'Field "id" must be an id of lowercase letters, digits, ".", "_" and "-", starting with a letter or digit (like "acme-eu").',
    });
    expect(errorOf(validate, { currency: 'eur' })?.message).toBe('Field "currency" must be an ISO 4217 currency code in capitals, like "EUR".');
    // A long list of allowed values is said by its description, with the nearest value.
    const currencies = compileSchema({ type: 'object', properties: { currency: currencySchema } } as const);
    expect(errorOf(currencies, { currency: 'EUE' })?.message).toBe('Field "currency" must be an ISO 4217 currency code, like "EUR". Did you mean "EUR"?');
    expect(() => currencies({ currency: 'USD' })).not.toThrow();
    // The same code in lowercase is the one suggested, however far the edit distance.
    expect(errorOf(currencies, { currency: 'gbp' })?.message).toBe('Field "currency" must be an ISO 4217 currency code, like "EUR". Did you mean "GBP"?');
    expect(errorOf(validate, { at: 'yesterday' })?.message).toBe('Field "at" must be an RFC 3339 time with an offset, like "2026-03-01T00:00:00Z".');
    expect(errorOf(validate, { day: '1 March' })?.message).toBe('Field "day" must be a date, like "2026-03-01".');
    // One the list does not know keeps the validator's own words.
    expect(errorOf(validate, { code: 'xyz' })?.message).toBe('Field "code" must match pattern "^[0-9a-f]{64}$".');
  });
});

describe('an empty change', () => {
  it('names the fields a body must have at least one of (was: must NOT have fewer than 1 properties)', () => {
    const patch = compileSchema({ type: 'object', additionalProperties: false, minProperties: 1, properties: { name: { type: 'string' }, active: { type: 'boolean' } } } as const);
    expect(errorOf(patch, {})).toMatchObject({ code: 'invalid_value', field: '(body)', message: 'The body must name at least one of its fields ("name", "active").' });
  });
});

describe('SchemaPipe', () => {
  const query = { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^[0-9]+$' }, format: { type: 'string', enum: ['json', 'csv'] } } } as const;
  const refused = (pipe: SchemaPipe<unknown>, value: unknown, type: 'query' | 'body') => {
    try {
      pipe.transform(value, { type, metatype: Object });
    } catch (error) {
      return [(error as RequestError).code, (error as RequestError).message];
    }
    return null;
  };

  it("names a query string's parameters as such, with the same codes", () => {
    const pipe = new SchemaPipe(query);
    expect(refused(pipe, { limt: '5' }, 'query')).toEqual(['unknown_field', 'Unknown query parameter "limt". Did you mean "limit"?']);
    expect(refused(pipe, { format: 'xml' }, 'query')).toEqual(['invalid_value', 'Query parameter "format" must be one of "json", "csv".']);
    expect(refused(pipe, { limt: '5' }, 'body')).toEqual(['unknown_field', 'Unknown field "limt". Did you mean "limit"?']);
    expect(refused(pipe, { limit: '5' }, 'query')).toBeNull();
  });
});

describe('findBadValue', () => {
  it('passes ordinary values and finds the first bad one by path', () => {
    expect(findBadValue({ a: [1, 'ok', { b: 2 ** 53 - 1, c: -1.5 }], d: null })).toBeNull();
    expect(findBadValue({ a: [1, { b: Infinity }] })).toEqual({ field: 'a[1].b', problem: 'not_finite' });
    expect(findBadValue({ a: -(2 ** 53) })).toEqual({ field: 'a', problem: 'unsafe_integer' });
    expect(findBadValue({ 'k\ud800': 1 })).toEqual({ field: 'k\ud800', problem: 'invalid_text' });
  });
});

describe('withoutRequired', () => {
  it('drops every required list and keeps properties named "required"', () => {
    const schema = {
      type: 'object',
      required: ['a'],
      properties: { required: { type: 'array', items: { type: 'object', required: ['x'] } }, a: { anyOf: [{ required: ['y'] }] } },
    };
    expect(withoutRequired(schema)).toEqual({
      type: 'object',
      properties: { required: { type: 'array', items: { type: 'object' } }, a: { anyOf: [{}] } },
    });
  });
});
