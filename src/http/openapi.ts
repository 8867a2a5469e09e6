// The API contract: JSON schemas registered under stable component names, the decorators a route documents
// itself with, and the pass that completes the OpenAPI document (errors every route shares, components).
//
// A route says what it answers and what its own service refuses; the rest follows from the document:
//   @Responds(201, AccountSchema)   the success body (and its status: no separate @HttpCode)
//   @Fails(404, 409)                what the service answers besides; the body is always `Error`
//   @ApiJsonBody(s) / @ApiJsonQuery(s)   the request, from the schema SchemaPipe checks
// `@Allow` adds 401 (and 403 unless every role may call); completeDocument adds 404 on keyed routes under
// /accounts/{account}, 400 where a route takes path or query parameters or a body, 413 and 415 where it
// may take a body, 500 and 503 everywhere.
import { applyDecorators, HttpCode } from '@nestjs/common';
import { ApiBody, ApiQuery, ApiResponse, type OpenAPIObject } from '@nestjs/swagger';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { CURRENCIES } from '../money/currency.js';

export type JsonSchema = Record<string, unknown>;

// ---- Registry -------------------------------------------------------------------------------------

const nameOf = new Map<object, string>();
const schemaOf = new Map<string, JsonSchema>();

/**
 * Registers `schema` as `components.schemas[name]` and returns it unchanged, so the same object is what
 * SchemaPipe validates, what the document shows (as a `$ref` wherever it appears) and what `Body<>` types.
 */
export function named<const S extends JsonSchema>(name: string, schema: S): S {
  if (!/^[A-Z][A-Za-z0-9]*$/.test(name)) throw new Error(`OpenAPI schema name "${name}" must be PascalCase`);
  const known = schemaOf.get(name);
  if (known !== undefined && known !== schema) throw new Error(`OpenAPI schema name "${name}" is registered twice`);
  const other = nameOf.get(schema);
  if (other !== undefined && other !== name) throw new Error(`One schema is registered as "${other}" and "${name}"`);
  schemaOf.set(name, schema);
  nameOf.set(schema, name);
  return schema;
}

const shapeOf = new Map<object, JsonSchema>();

/**
 * A request body whose inner parts the service checks in code after the envelope, so that an error names
 * the exact field and why (`tiers.base.input`, `too_many_decimals`): SchemaPipe keeps validating `checked`,
 * exactly as before, while the document (and so the typed client) shows `shape` under `name`: the body as the
 * code accepts it, where `checked` could only say it in words. Returns `checked`; wherever it is documented
 * (`@ApiJsonBody`), the document refers to `shape`. `shape` may be narrower than `checked`, never wider: every
 * property it names must be one `checked` allows (checked here, at start), and a body it accepts passes `checked`
 * (checked by the tests with examples).
 */
export function described<const C extends JsonSchema>(name: string, checked: C, shape: JsonSchema): C {
  const allowed = new Set(Object.keys((checked.properties ?? {}) as object));
  const variants = [shape, ...((shape.oneOf ?? shape.anyOf ?? []) as JsonSchema[])];
  for (const variant of variants) {
    for (const key of Object.keys((variant.properties ?? {}) as object)) {
      if (!allowed.has(key)) throw new Error(`OpenAPI schema "${name}" documents "${key}", which the request's own schema does not allow`);
    }
  }
  named(name, shape);
  const other = nameOf.get(checked);
  if (other !== undefined && other !== name) throw new Error(`One schema is registered as "${other}" and "${name}"`);
  nameOf.set(checked, name);
  shapeOf.set(checked, shape);
  return checked;
}

/** The documented shape of a request schema registered with `described` (the schema itself otherwise). */
export function documentedShape(schema: JsonSchema): JsonSchema {
  return shapeOf.get(schema) ?? schema;
}

const COMPONENTS = '#/components/schemas/';

/** A schema as the document shows it: every registered part (and itself, when `asRef`) becomes a `$ref`. */
export function documented(schema: unknown, asRef = true): unknown {
  if (Array.isArray(schema)) return schema.map((item) => documented(item));
  if (schema === null || typeof schema !== 'object') return schema;
  const name = nameOf.get(schema);
  if (asRef && name !== undefined) return { $ref: `${COMPONENTS}${name}` };
  return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, documented(value)]));
}

/** `components.schemas`: every registered schema, its registered parts as `$ref`s. */
export function componentSchemas(): Record<string, unknown> {
  return Object.fromEntries([...schemaOf].sort(([a], [b]) => a.localeCompare(b)).map(([name, s]) => [name, documented(s, false)]));
}

// ---- Types from schemas ---------------------------------------------------------------------------

type Deserialize = [{ pattern: { type: 'string'; format: 'date-time' }; output: Date | string }];

/**
 * The TypeScript type of a body a schema describes (`FromSchema`), so a controller's return type is
 * checked against its documented schema by the compiler. Timestamps may be Dates: they serialise to RFC 3339.
 */
export type Body<S> = S extends JSONSchema ? FromSchema<S, { deserialize: Deserialize }> : never;

// What a handler may return for a body: readonly data is fine (it is only serialised), and enum members
// are plain strings (internal types often are; the e2e harness checks the values against the enums).
type Served<T> = T extends Date
  ? T
  : T extends string
    ? string
    : T extends (infer U)[]
      ? readonly Served<U>[]
      : T extends object
        ? { readonly [K in keyof T]: Served<T[K]> }
        : T;

declare const jsonOf: unique symbol;
/**
 * A JSON answer already written: the bytes JSON.stringify of a T gives, sent as they are (the handler sets
 * the content type). Typed by the T it encodes, so the compiler checks it against the route's schema too;
 * only the code that proves its bytes equal that T's JSON makes one (a cast there, and a law in its spec).
 */
export type JsonOf<T> = Buffer & { readonly [jsonOf]: T };

// Any parameter list: a handler with parameters of any type is assignable to it.
type Handler<R> = (...args: never[]) => Served<R> | JsonOf<Served<R>> | Promise<Served<R> | JsonOf<Served<R>>>;

// ---- Shared schemas ---------------------------------------------------------------------------------

export const dateTimeSchema = { type: 'string', format: 'date-time' } as const;
/** A currency in a request (src/money/currency.ts): one of the ISO 4217 codes in use. */
export const currencySchema = { type: 'string', enum: CURRENCIES as string[], description: 'An ISO 4217 currency code, like "EUR"' } as const;

/** Money, prices and exact costs: a plain decimal string, never a binary float. */
export const decimalSchema = { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]+)?$' } as const;

/**
 * The one error body. `code` is machine-readable, `message` a sentence for people, `field` the offending
 * field as a path into the request, `index` the bad item of a batch; the rest are details some codes add.
 */
export const ErrorSchema = named('Error', {
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'message', 'request_id'],
      properties: {
        code: { type: 'string', description: 'Machine-readable, e.g. `unknown_field`, `account_not_found`' },
        message: { type: 'string', description: 'What went wrong, for people' },
        field: { type: 'string', description: 'The offending field as a path into the request: `events[3].usage.input`' },
        index: { type: 'integer', minimum: 0, description: 'For batch input, the index of the bad item' },
        request_id: { type: 'string', description: 'The request id (the `x-request-id` header), for support' },
        reason: { type: 'string', description: 'The pricing validator’s own code, e.g. `too_many_decimals`' },
        name: { type: 'string', description: 'A model name that already names another model' },
        plan_currency: { type: 'string' },
        account_currency: { type: 'string' },
        now: { ...dateTimeSchema, description: 'The server’s time, when a time was refused for being in the past' },
        node: { type: 'string', description: 'A budget node (`account`, `unit:<id>`, `person:<id>`) the error is about' },
        parent: { type: 'string', description: 'The budget node whose allocation its children would exceed' },
        measure: { type: 'string', enum: ['headcount', 'tokens', 'amount'], description: 'Which measure of a budget' },
        over: { type: 'string', description: 'By how much the children’s allocations would exceed the parent’s (decimal)' },
        period: { type: 'string', description: 'A budget period, as `month:2026-03-01` (its kind and its first day)' },
        unused: { type: 'string', description: 'What is left to move: allocation less what is spent and held (decimal)' },
        used: { type: 'string', description: 'What is spent and held, which a hard limit may not go below (decimal)' },
        task_status: { type: 'string', enum: ['succeeded', 'failed', 'abandoned'], description: 'The status a task was already closed with' },
        closed_at: { ...dateTimeSchema, description: 'When that task closed' },
        billing_anchor_day: { type: 'integer', minimum: 1, maximum: 28, description: 'The subscription’s billing anchor day, which may not change' },
        invoiced_until: { ...dateTimeSchema, description: 'The end of the account’s last invoiced billing period' },
      },
    },
  },
} as const);

/** What a domain error may carry besides its code and message: the error schema's optional fields. */
export type ErrorDetails = Omit<Body<typeof ErrorSchema>['error'], 'code' | 'message' | 'request_id'>;

/** The `limit` query parameter of a paged listing (parsed by parseLimit). */
export const limitParam = (max = 1000, fallback = 100) =>
  ({ type: 'integer', minimum: 1, maximum: max, default: fallback, description: `Page size, 1 to ${max}` }) as const;

/** `{ "data": [...] }`, the shape of every listing. */
export function listOf<const S extends JsonSchema>(items: S) {
  return { type: 'object', additionalProperties: false, required: ['data'], properties: { data: { type: 'array', items } } } as const;
}

// ---- Decorators -----------------------------------------------------------------------------------

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is invalid: `code` says why and `field` names the offending field or parameter',
  401: 'No API key, or one that is malformed, unknown, revoked, or whose person or agent is no longer active',
  403: 'The key’s role may not do this',
  404: 'Not found; another account’s resources answer exactly as missing ones',
  409: 'Conflicts with what is stored',
  422: 'Understood but not done: `code` says why',
  413: 'The body (or the batch) is larger than allowed',
  415: 'The body is not sent as `application/json`',
  500: 'Something went wrong on our side; the body names only the request id',
  503: 'Not available now (shutting down, or a dependency is down); retry',
};

const errorContent = () => ({ 'application/json': { schema: documented(ErrorSchema) as object } });

export interface RespondsOptions {
  description?: string;
  /** The body's media type when it is not JSON (`text/plain`, `text/event-stream`). */
  contentType?: string;
  /** The same answer in other media types, picked by `Accept` (e.g. `text/csv`); the handler returns text. */
  alternatives?: Record<string, JsonSchema>;
  /** Response headers the handler sets (on `reply`), by name: what each says and its schema. */
  headers?: Record<string, { description: string; schema: JsonSchema }>;
}

type Answer<S, O> = O extends { contentType: string } ? unknown : Body<S> | (O extends { alternatives: object } ? string : never);

/**
 * Documents an answer of a route and, for a success status, makes it the route's status. The handler's
 * return type must fit the schema (checked by the compiler, through `Body<>`), unless the answer is
 * written to the reply directly (`contentType`).
 */
export function Responds<const S extends JsonSchema, const O extends RespondsOptions = Record<never, never>>(
  status: number,
  schema: S,
  options?: O,
) {
  const type = options?.contentType ?? 'application/json';
  const content: Record<string, { schema: object }> = { [type]: { schema: documented(schema) as object } };
  for (const [media, alt] of Object.entries(options?.alternatives ?? {})) content[media] = { schema: documented(alt) as object };
  const description = options?.description ?? (status < 300 ? 'Success' : (ERROR_DESCRIPTIONS[status] ?? 'Error'));
  const headers = options?.headers === undefined ? undefined : Object.fromEntries(Object.entries(options.headers).map(([name, h]) => [name, { description: h.description, schema: documented(h.schema) as object }]));
  const decorators: MethodDecorator[] = [ApiResponse({ status, description, content, ...(headers === undefined ? {} : { headers }) })];
  if (status >= 200 && status < 300) decorators.push(HttpCode(status));
  const apply = applyDecorators(...decorators);
  return <T extends Handler<Answer<S, O>>>(target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<T>): void => {
    apply(target, key, descriptor);
  };
}

/** A success without a body (204): documented, and made the route's status. */
export function NoContent(description = 'Done; no body'): MethodDecorator {
  return applyDecorators(ApiResponse({ status: 204, description }), HttpCode(204));
}

/** Error statuses the route's own logic answers, each with the one error body. */
export function Fails(...statuses: number[]): MethodDecorator {
  return applyDecorators(
    ...statuses.map((status) => {
      if (ERROR_DESCRIPTIONS[status] === undefined) throw new Error(`No error description for status ${status}`);
      return ApiResponse({ status, description: ERROR_DESCRIPTIONS[status], content: errorContent() });
    }),
  );
}

/** Documents a JSON body; pair it with `@Body(new SchemaPipe(schema))`. */
export const ApiJsonBody = (schema: JsonSchema) => ApiBody({ required: true, schema: documented(schema) as object });

/** Documents each property of a query schema as a query parameter; pair it with `@Query(new SchemaPipe(schema))`. */
export function ApiJsonQuery(schema: JsonSchema): MethodDecorator {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema & { description?: string }>;
  const required = new Set((schema.required ?? []) as string[]);
  return applyDecorators(
    ...Object.entries(properties).map(([name, property]) =>
      ApiQuery({ name, required: required.has(name), description: property.description, schema: documented(property) as object }),
    ),
  );
}

// ---- The document -----------------------------------------------------------------------------------

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

interface Operation {
  summary?: string;
  parameters?: { in: string; name: string }[];
  requestBody?: unknown;
  security?: unknown[];
  responses?: Record<string, unknown>;
}

/** The error statuses a route answers by what it is: its parameters, its body, whether it needs a key. */
export function sharedFailures(path: string, method: string, op: Operation): number[] {
  const statuses = new Set<number>([500, 503]);
  // Any API route can answer 400: a query string it does not read is refused (src/http/unread-query.ts).
  if (path.startsWith('/v1/')) statuses.add(400);
  if ((op.parameters ?? []).some((p) => p.in === 'path' || p.in === 'query')) statuses.add(400);
  // Another account's key is answered as if the account did not exist.
  if (op.security?.length && path.includes('{account}')) statuses.add(404);
  // Fastify reads a body on these methods whenever one is sent, so its errors can answer on all of them.
  if (op.requestBody !== undefined || method !== 'get') for (const s of [400, 413, 415]) statuses.add(s);
  return [...statuses];
}

/** Completes the document Nest built: components, the errors every route shares, security. */
export function completeDocument(document: OpenAPIObject): OpenAPIObject {
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...componentSchemas() } as never };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (op === undefined) continue;
      op.responses ??= {};
      for (const status of sharedFailures(path, method, op)) {
        op.responses[String(status)] ??= { description: ERROR_DESCRIPTIONS[status], content: errorContent() };
      }
    }
  }
  return document;
}
