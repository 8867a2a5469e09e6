// Request bodies and queries are checked by JSON schemas compiled once with ajv (the validator Fastify
// itself uses); the same schema objects feed the OpenAPI document. Unknown fields are refused.
import { type ArgumentMetadata, Injectable, type PipeTransform } from '@nestjs/common';

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { closestMatch } from 'leven';
import { RequestError } from './domain-error.js';
import type { JsonSchema } from './openapi.js';
import { textError, textProblem } from './request-guards.js';

export type { JsonSchema };

// ajv-formats ships CommonJS with a default export property; normalise across interop modes.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

// `verbose` gives each error its schema, which is how an unknown field is found when the first error
// is another one; it costs nothing on valid input.
const ajv = new Ajv({ allErrors: false, verbose: true, strict: true, coerceTypes: false, useDefaults: false });
addFormats(ajv);

/** A path like `/events/3/model` as `events[3].model`. */
export function fieldPath(pointer: string, extra?: string): string {
  const parts = pointer.split('/').slice(1);
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const raw of parts) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

/** What a validated value's keys are called in messages: a body's `Field`, a query string's `Query parameter`. */
export type Noun = 'Field' | 'Query parameter';

/** The most names an unknown key's message lists when it has no guess (a longer list helps nobody read it). */
const KNOWN_LISTED = 12;

/**
 * An unknown key: with the name it is probably a misspelling of, or else (for an object of a few keys) the
 * names it may have, so a caller who guessed a name (`estimated_tokens`) learns the right one (`usage`).
 */
function unknownField(field: string, suggestion: string | undefined, noun: Noun, known: readonly string[] = []): RequestError {
  const names = noun === 'Field' ? 'fields' : 'query parameters';
  const hint =
    suggestion !== undefined
      ? ` Did you mean "${suggestion}"?`
      : known.length > 0 && known.length <= KNOWN_LISTED
        ? ` The ${names} here are ${known.map((k) => `"${k}"`).join(', ')}.`
        : '';
  return new RequestError('unknown_field', `Unknown ${noun.toLowerCase()} "${field}".${hint}`, { field });
}

function describe(error: ErrorObject, noun: Noun): RequestError {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required': {
      const field = fieldPath(error.instancePath, String(p.missingProperty));
      return new RequestError('missing_field', `${noun} "${field}" is required.`, { field });
    }
    case 'type': {
      const field = fieldPath(error.instancePath) || '(body)';
      const allowed = allowedOf(error.parentSchema);
      if (allowed) return new RequestError('wrong_type', `${noun} "${field}" must be ${expectedOf(allowed, error.parentSchema)}.`, { field });
      // A string of a known shape is said as that shape: money sent as a JSON number (49) is told it is a
      // decimal string ("49.00"), not only that it must be a string.
      const orNull = nullable(p.type) ? ', or null' : '';
      const shape = shapeWords(error.parentSchema);
      if (shape) return new RequestError('wrong_type', `${noun} "${field}" must be ${shape}${orNull}.`, { field });
      // Money and other decimals are strings, checked in code after the envelope: a number is shown quoted.
      if (typeof error.data === 'number' && Number.isFinite(error.data) && typeNames(p.type).includes('string')) {
        return new RequestError('wrong_type', `${noun} "${field}" must be a string${orNull}: "${String(error.data)}", in quotes.`, { field });
      }
      return new RequestError('wrong_type', `${noun} "${field}" must be ${typeWords(p.type)}.`, { field });
    }
    case 'enum': {
      const field = fieldPath(error.instancePath) || '(body)';
      const allowed = allowedOf(error.parentSchema) ?? [];
      const given = error.data;
      const strings = allowed.filter((v): v is string => typeof v === 'string');
      // The same word in other capitals ("eur", "Hard") first: the edit distance counts each letter.
      const guess =
        typeof given === 'string'
          ? (strings.find((v) => v.toLowerCase() === given.toLowerCase()) ?? closestMatch(given, strings, { maxDistance: Math.min(3, Math.ceil(given.length / 2)) }))
          : undefined;
      const hint = guess === undefined ? '' : ` Did you mean "${guess}"?`;
      return new RequestError('invalid_value', `${noun} "${field}" must be ${expectedOf(allowed, error.parentSchema)}.${hint}`, { field });
    }
    case 'pattern':
    case 'format': {
      // A regular expression or a format name is no answer for a person: the ones the API uses, in words.
      const words = error.keyword === 'pattern' ? PATTERN_WORDS[String(p.pattern)] : FORMAT_WORDS[String(p.format)];
      const field = fieldPath(error.instancePath) || '(body)';
      return new RequestError('invalid_value', `${noun} "${field}" ${words === undefined ? (error.message ?? 'is invalid') : `must be ${words}`}.`, { field });
    }
    case 'minProperties': {
      // The PATCH bodies: an empty one changes nothing, which is what the caller is told.
      const field = fieldPath(error.instancePath);
      const where = field === '' ? (noun === 'Field' ? 'The body' : 'The query string') : `${noun} "${field}"`;
      const fields = Object.keys((error.parentSchema?.properties ?? {}) as Record<string, unknown>);
      const named = fields.length === 0 ? '' : ` (${fields.map(quoted).join(', ')})`;
      return new RequestError('invalid_value', `${where} must name at least ${p.limit === 1 ? 'one' : String(p.limit)} of its fields${named}.`, { field: field || '(body)' });
    }
    case 'maxLength':
    case 'maxItems':
    case 'maxProperties': {
      const field = fieldPath(error.instancePath);
      return new RequestError('too_long', `${noun} "${field}" ${error.message ?? 'is too long'}.`, { field });
    }
    default: {
      const field = fieldPath(error.instancePath) || '(body)';
      return new RequestError('invalid_value', `${noun} "${field}" ${error.message ?? 'is invalid'}.`, { field });
    }
  }
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

/** A schema's `type` (one name, or ajv's comma list of them) in words: `integer,null` is "a whole number or null". */
/** A string schema's pattern or format in words (PATTERN_WORDS, FORMAT_WORDS), when the API uses it. */
function shapeWords(schema: unknown): string | undefined {
  const { pattern, format } = (schema ?? {}) as { pattern?: unknown; format?: unknown };
  if (typeof pattern === 'string' && PATTERN_WORDS[pattern] !== undefined) return PATTERN_WORDS[pattern];
  if (typeof format === 'string' && FORMAT_WORDS[format] !== undefined) return FORMAT_WORDS[format];
  return undefined;
}

/** A schema's `type` (Ajv's error gives a list as "string,null") as names. */
function typeNames(type: unknown): string[] {
  return Array.isArray(type) ? type.map(String) : String(type).split(',');
}

function nullable(type: unknown): boolean {
  return typeNames(type).includes('null');
}

function typeWords(type: unknown): string {
  return typeNames(type)
    .map((name) => TYPE_WORDS[name] ?? name)
    .join(' or ');
}

/** How many allowed values an error lists; a longer list is said by its schema's description. */
const LISTED_VALUES = 20;

/** What a field of listed values must be: one of them, or a long list (the currencies) by its schema's description. */
function expectedOf(allowed: unknown[], schema: unknown): string {
  const description = (schema as { description?: unknown } | undefined)?.description;
  return allowed.length > LISTED_VALUES && typeof description === 'string'
    ? `${description.charAt(0).toLowerCase()}${description.slice(1)}`
    : `one of ${allowed.map(quoted).join(', ')}`;
}

/** The values a schema allows (its `enum`), when it lists them. */
function allowedOf(schema: unknown): unknown[] | null {
  const list = (schema as { enum?: unknown } | undefined)?.enum;
  return Array.isArray(list) && list.length > 0 ? list : null;
}

function quoted(value: unknown): string {
  return JSON.stringify(value);
}

/** The value at a JSON pointer ajv reported (always one into `root`). */
function valueAt(root: unknown, pointer: string): unknown {
  let value = root;
  for (const raw of pointer.split('/').slice(1)) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return value;
}

/** The same schema without any `required`: its first error is then never a missing field. */
export function withoutRequired(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutRequired);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'required' && Array.isArray(value)) continue;
    if (key === 'properties' && value !== null && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, withoutRequired(sub)]));
    } else if (['items', 'additionalProperties', 'not', 'anyOf', 'oneOf', 'allOf'].includes(key)) {
      out[key] = withoutRequired(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** An unknown key, with the missing field of the same object it is probably a misspelling of. */
function unknownWithGuess(instancePath: string, key: string, schema: unknown, root: unknown, noun: Noun): RequestError {
  const known = (schema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  const object = valueAt(root, instancePath);
  const present = object !== null && typeof object === 'object' ? object : {};
  const missing = Object.keys(known).filter((name) => !Object.hasOwn(present, name));
  const guess = closestMatch(key, missing, { maxDistance: Math.min(3, Math.ceil(key.length / 3)) }) ?? sameWords(key, missing);
  return unknownField(fieldPath(instancePath, key), guess, noun, Object.keys(known));
}

/**
 * The one name among `names` that has every word of `key` (words split on "_"), for a key too far from
 * any by spelling: "owner_id" for "owner_person_id", "limit" for "amount_limit" when that is the only one.
 */
export function sameWords(key: string, names: readonly string[]): string | undefined {
  const words = key.toLowerCase().split('_').filter(Boolean);
  if (words.length === 0) return undefined;
  const found = names.filter((name) => {
    const theirs = new Set(name.toLowerCase().split('_'));
    return words.every((w) => theirs.has(w));
  });
  return found.length === 1 ? found[0] : undefined;
}

/**
 * The error to report. ajv stops at the first and checks `required` before unknown keys, so a misspelt
 * field (`curency`) would read as a missing one (`currency`). An unknown key is reported first: one in
 * the object that failed, else the first one a check without `required` finds anywhere in the body.
 */
function mostUseful(error: ErrorObject, root: unknown, lenient: () => ValidateFunction, noun: Noun): RequestError {
  if (error.keyword === 'additionalProperties') {
    return unknownWithGuess(error.instancePath, String(error.params.additionalProperty), error.parentSchema, root, noun);
  }
  if (error.keyword === 'required') {
    const schema = error.parentSchema as { properties?: Record<string, unknown>; additionalProperties?: unknown } | undefined;
    const object = valueAt(root, error.instancePath);
    if (schema?.additionalProperties === false && object !== null && typeof object === 'object' && !Array.isArray(object)) {
      const unknown = Object.keys(object).find((key) => !Object.hasOwn(schema.properties ?? {}, key));
      if (unknown !== undefined) return unknownWithGuess(error.instancePath, unknown, schema, root, noun);
    }
    const relaxed = lenient();
    const other = relaxed(root) ? undefined : relaxed.errors?.[0];
    if (other?.keyword === 'additionalProperties') {
      return unknownWithGuess(other.instancePath, String(other.params.additionalProperty), other.parentSchema, root, noun);
    }
  }
  return describe(error, noun);
}

/**
 * Finds the first value no route can take as it is: a string (value or key) PostgreSQL cannot store as
 * text (a NUL byte, or a lone surrogate from a `\ud800` escape: not a character at all), or a number
 * past 2^53 - 1 (it has lost digits already) or infinite (JSON's `1e400`), named with the codes usage
 * normalisation uses for token counts.
 */
export function findBadValue(value: unknown, path = ''): { field: string; problem: ValueProblem } | null {
  if (typeof value === 'string') {
    const problem = textProblem(value);
    return problem === null ? null : { field: path || '(body)', problem };
  }
  if (typeof value === 'number') {
    if (Math.abs(value) <= Number.MAX_SAFE_INTEGER) return null;
    return { field: path || '(body)', problem: Number.isFinite(value) ? 'unsafe_integer' : 'not_finite' };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findBadValue(value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const here = path === '' ? key : `${path}.${key}`;
      const problem = textProblem(key);
      if (problem !== null) return { field: here, problem };
      const found = findBadValue(item, here);
      if (found !== null) return found;
    }
  }
  return null;
}

type ValueProblem = 'nul_byte' | 'invalid_text' | 'unsafe_integer' | 'not_finite';

function valueError(problem: ValueProblem, field: string, noun: Noun): RequestError {
  switch (problem) {
    case 'unsafe_integer':
      return new RequestError(problem, `${noun} "${field}" is past 2^53 - 1 (Number.MAX_SAFE_INTEGER): its digits are lost.`, { field });
    case 'not_finite':
      return new RequestError(problem, `${noun} "${field}" is not a finite number.`, { field });
    default:
      return textError(problem, field, noun);
  }
}

export interface SchemaOptions {
  /** Off for envelopes whose items are checked one by one (a bad value then rejects only its item). */
  scanNul?: boolean;
}

/** A validator whose errors name the value's keys with `noun` (a body's fields by default). */
export function compileSchema<T>(schema: JsonSchema, options: SchemaOptions = {}): (value: unknown, noun?: Noun) => T {
  const validate: ValidateFunction = ajv.compile(schema);
  // Compiled on the first failure that needs it: a valid request never pays for it.
  let relaxed: ValidateFunction | null = null;
  const lenient = () => (relaxed ??= ajv.compile(withoutRequired(schema) as JsonSchema));
  const scan = options.scanNul ?? true;
  return (value: unknown, noun: Noun = 'Field'): T => {
    const bad = scan ? findBadValue(value) : null;
    if (bad !== null) throw valueError(bad.problem, bad.field, noun);
    if (!validate(value)) {
      const first = validate.errors?.[0];
      throw first ? mostUseful(first, value, lenient, noun) : new RequestError('invalid_value', 'The request body is invalid.');
    }
    return value as T;
  };
}

/** `@Body(new SchemaPipe(schema))`: validates against a schema compiled once per route. */
@Injectable()
export class SchemaPipe<T> implements PipeTransform<unknown, T> {
  private readonly validate: (value: unknown, noun?: Noun) => T;
  constructor(schema: JsonSchema, options: SchemaOptions = {}) {
    this.validate = compileSchema<T>(schema, options);
  }
  transform(value: unknown, metadata?: ArgumentMetadata): T {
    // No body at all reads as an empty object, so the schema names the first field that is missing.
    return this.validate(value === undefined ? {} : value, metadata?.type === 'query' ? 'Query parameter' : 'Field');
  }
}

// Shared schema pieces.
export const SLUG_MAX = 64;
export const slugSchema = {
  type: 'string',
  minLength: 1,
  maxLength: SLUG_MAX,
  pattern: '^[a-z0-9][a-z0-9._-]*$',
} as const;
export const nameSchema = { type: 'string', minLength: 1, maxLength: 200 } as const;

const SLUG = new RegExp(slugSchema.pattern);

/** What the schemas' patterns and formats ask for, in words (one the list lacks keeps ajv's own message). */
const PATTERN_WORDS: Record<string, string> = {
  [slugSchema.pattern]: 'an id of lowercase letters, digits, ".", "_" and "-", starting with a letter or digit (like "acme-eu")',
  '^[A-Z]{3}$': 'an ISO 4217 currency code in capitals, like "EUR"',
  '^-?[0-9]+(\\.[0-9]+)?$': 'a decimal string, like "12.50"',
  '^[0-9]+(\\.[0-9]+)?$': 'a decimal string of zero or more, like "12.50"',
};
const FORMAT_WORDS: Record<string, string> = {
  'date-time': 'an RFC 3339 time with an offset, like "2026-03-01T00:00:00Z"',
  date: 'a date, like "2026-03-01"',
};

/** Ids are slugs: anything else (too long, NUL bytes, odd characters) is a 400 naming the parameter (a path's, or with `noun` a query's). */
export class SlugPipe implements PipeTransform<string, string> {
  constructor(
    private readonly name: string,
    private readonly noun: 'Path parameter' | 'Query parameter' = 'Path parameter',
  ) {}
  transform(value: string): string {
    if (typeof value !== 'string' || value.length > SLUG_MAX || !SLUG.test(value)) {
      throw new RequestError('invalid_id', `${this.noun} "${this.name}" must be a slug of at most ${SLUG_MAX} characters.`, {
        field: this.name,
      });
    }
    return value;
  }
}

export const slugParam = (name: string) => new SlugPipe(name);

/**
 * A query schema's parameter names and nothing else, each taken as the string it arrives as: for a route
 * that refuses unknown (say misspelt) parameters by name and checks each value itself, with its own
 * message, while the documented schema (with each value's type) stays the one place that names them.
 */
export function parameterNames<const K extends string>(schema: { properties: Record<K, unknown> }) {
  const properties = Object.fromEntries(Object.keys(schema.properties).map((k) => [k, { type: 'string' }])) as Record<K, { type: 'string' }>;
  return { type: 'object', additionalProperties: false, properties } as const satisfies JsonSchema;
}

/** Parses a `limit` query value with a default and a ceiling. */
export function parseLimit(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new RequestError('invalid_value', `Query parameter "limit" must be a whole number from 1 to ${max}.`, { field: 'limit' });
  }
  return Number(raw);
}
