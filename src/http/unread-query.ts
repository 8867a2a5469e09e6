// A query parameter sent to a route that reads none is refused, not ignored: `POST .../budgets/transfers?dry_run=1`
// would otherwise move the money its caller meant only to try. Which routes read a query string, and which
// fields their bodies take, come from the OpenAPI document, so a parameter the body takes is pointed there.
import { RequestError } from './domain-error.js';

/** What a route reads besides its path: whether a query string, and the fields of its JSON body. */
export interface RouteInputs {
  query: boolean;
  body: ReadonlySet<string>;
}

interface DocumentLike {
  paths: Record<string, object | undefined>;
  components?: { schemas?: Record<string, unknown> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Every documented route's inputs, keyed as Fastify names the route: `POST /v1/accounts/:account/units`. */
export function routeInputs(document: DocumentLike): Map<string, RouteInputs> {
  const inputs = new Map<string, RouteInputs>();
  for (const [path, item] of Object.entries(document.paths)) {
    // The API's routes; the operational ones (health, metrics) take what probes send.
    if (!path.startsWith('/v1/')) continue;
    for (const method of METHODS) {
      const op = (item as Record<string, { parameters?: { in: string }[]; requestBody?: unknown } | undefined> | undefined)?.[method];
      if (op === undefined) continue;
      const schema = (op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)?.content?.['application/json']?.schema;
      inputs.set(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`, {
        query: (op.parameters ?? []).some((p) => p.in === 'query'),
        body: fieldsOf(schema, document.components?.schemas ?? {}),
      });
    }
  }
  return inputs;
}

/** The property names of a body schema, through `$ref`s and the variants of `oneOf` / `anyOf` / `allOf`. */
function fieldsOf(schema: unknown, components: Record<string, unknown>, seen = new Set<unknown>()): Set<string> {
  const fields = new Set<string>();
  if (schema === null || typeof schema !== 'object' || seen.has(schema)) return fields;
  seen.add(schema);
  const s = schema as { $ref?: string; properties?: Record<string, unknown>; oneOf?: unknown[]; anyOf?: unknown[]; allOf?: unknown[] };
  if (typeof s.$ref === 'string') return fieldsOf(components[s.$ref.replace('#/components/schemas/', '')], components, seen);
  for (const name of Object.keys(s.properties ?? {})) fields.add(name);
  for (const variant of [...(s.oneOf ?? []), ...(s.anyOf ?? []), ...(s.allOf ?? [])]) for (const name of fieldsOf(variant, components, seen)) fields.add(name);
  return fields;
}

/**
 * The error for a query string sent to a route that reads none (null: it reads one, or none was sent). The
 * first parameter is named; one the body takes is pointed there.
 */
export function unreadQuery(route: string, inputs: RouteInputs | undefined, query: Record<string, unknown>): RequestError | null {
  if (inputs === undefined || inputs.query) return null;
  let name: string | undefined;
  for (const key in query) {
    name = key;
    break;
  }
  if (name === undefined) return null;
  if (inputs.body.has(name)) {
    return new RequestError('unknown_field', `Query parameter "${name}" is not read here: send "${name}" as a field of the body.`, { field: name });
  }
  return new RequestError('unknown_field', `Unknown query parameter "${name}": ${route.replace(/:([^/]+)/g, '{$1}')} takes no query parameters.`, { field: name });
}
