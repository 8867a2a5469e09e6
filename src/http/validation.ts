// Request bodies and queries are checked by JSON schemas compiled once with ajv (the validator Fastify
// itself uses); the same schema objects feed the OpenAPI document. Unknown fields are refused.
import { Injectable, type PipeTransform } from '@nestjs/common';
import { ApiBody, type SchemaObject } from '@nestjs/swagger';

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { RequestError } from './domain-error.js';

export type JsonSchema = Record<string, unknown>;

// ajv-formats ships CommonJS with a default export property; normalise across interop modes.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

const ajv = new Ajv({ allErrors: false, strict: true, coerceTypes: false, useDefaults: false });
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

function describe(error: ErrorObject): RequestError {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const field = fieldPath(error.instancePath, String(p.additionalProperty));
      return new RequestError('unknown_field', `Unknown field "${field}".`, { field });
    }
    case 'required': {
      const field = fieldPath(error.instancePath, String(p.missingProperty));
      return new RequestError('missing_field', `Field "${field}" is required.`, { field });
    }
    case 'type': {
      const field = fieldPath(error.instancePath) || '(body)';
      return new RequestError('wrong_type', `Field "${field}" must be ${String(p.type)}.`, { field });
    }
    case 'maxLength':
    case 'maxItems':
    case 'maxProperties': {
      const field = fieldPath(error.instancePath);
      return new RequestError('too_long', `Field "${field}" ${error.message ?? 'is too long'}.`, { field });
    }
    default: {
      const field = fieldPath(error.instancePath) || '(body)';
      return new RequestError('invalid_value', `Field "${field}" ${error.message ?? 'is invalid'}.`, { field });
    }
  }
}

/** Finds the first string holding a NUL byte: PostgreSQL text cannot store one and logs choke on it. */
export function findNulByte(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path || '(body)' : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNulByte(value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const here = path === '' ? key : `${path}.${key}`;
      if (key.includes('\u0000')) return here;
      const found = findNulByte(item, here);
      if (found !== null) return found;
    }
  }
  return null;
}

export interface SchemaOptions {
  /** Off for envelopes whose items are checked one by one (a NUL byte then rejects only its item). */
  scanNul?: boolean;
}

export function compileSchema<T>(schema: JsonSchema, options: SchemaOptions = {}): (value: unknown) => T {
  const validate: ValidateFunction = ajv.compile(schema);
  const scanNul = options.scanNul ?? true;
  return (value: unknown): T => {
    const nul = scanNul ? findNulByte(value) : null;
    if (nul !== null) {
      throw new RequestError('nul_byte', `Field "${nul}" contains a NUL byte.`, { field: nul });
    }
    if (!validate(value)) {
      const first = validate.errors?.[0];
      throw first ? describe(first) : new RequestError('invalid_value', 'The request body is invalid.');
    }
    return value as T;
  };
}

/** `@Body(new SchemaPipe(schema))`: validates against a schema compiled once per route. */
@Injectable()
export class SchemaPipe<T> implements PipeTransform<unknown, T> {
  private readonly validate: (value: unknown) => T;
  constructor(schema: JsonSchema, options: SchemaOptions = {}) {
    this.validate = compileSchema<T>(schema, options);
  }
  transform(value: unknown): T {
    return this.validate(value ?? {});
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

/** Path ids are slugs: anything else (too long, NUL bytes, odd characters) is a 400 naming the parameter. */
export class SlugPipe implements PipeTransform<string, string> {
  constructor(private readonly name: string) {}
  transform(value: string): string {
    if (typeof value !== 'string' || value.length > SLUG_MAX || !SLUG.test(value)) {
      throw new RequestError('invalid_id', `Path parameter "${this.name}" must be a slug of at most ${SLUG_MAX} characters.`, {
        field: this.name,
      });
    }
    return value;
  }
}

export const slugParam = (name: string) => new SlugPipe(name);

/** Parses a `limit` query value with a default and a ceiling. */
export function parseLimit(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new RequestError('invalid_value', `Query parameter "limit" must be a whole number from 1 to ${max}.`, { field: 'limit' });
  }
  return Number(raw);
}

/** Documents a JSON-schema body in OpenAPI; pair it with `@Body(new SchemaPipe(schema))`. */
export const ApiJsonBody = (schema: JsonSchema) => ApiBody({ schema: schema as SchemaObject });
