// The API contract as tests see it: the OpenAPI document the app serves, compiled once per app into
// validators (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses). Every response an e2e test receives through
// TestApp.request goes through `check`: its status must be one the route documents, its media type one
// documented for that status, and a JSON body must match the schema. A mismatch fails the test.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats ships CommonJS with a default export property; normalise across interop modes.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (
  ajv: Ajv2020,
) => Ajv2020;

type Json = Record<string, any>;

interface MediaDoc {
  schema?: Json;
}
interface ResponseDoc {
  content?: Record<string, MediaDoc>;
}
interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  params: number;
  responses: Record<string, ResponseDoc>;
}

export interface ObservedResponse {
  method: string;
  url: string;
  status: number;
  contentType: string | undefined;
  /** The parsed JSON body, or the text. */
  body: unknown;
  /** Whether the server has a route for this method and path (false: its 404 handler answered). */
  routed: boolean;
}

export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

const COMPONENT_BASE = 'urn:tokenmeter:components';
/** Routes that serve the contract itself, not part of it. */
const OUTSIDE = /^\/docs(?:-json|\/|$)/;

/** `#/components/schemas/X` as a reference into the one schema holding every component. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', `${COMPONENT_BASE}#/$defs/`) : rebase(v),
    ]),
  );
}

export class Contract {
  private readonly ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  private readonly routes: Route[] = [];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly document: Json) {
    addFormats(this.ajv);
    // OpenAPI's own annotations on a Schema Object.
    this.ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
    this.ajv.addSchema({ $id: COMPONENT_BASE, $defs: rebase(document.components?.schemas ?? {}) as Json });
    for (const [template, item] of Object.entries(document.paths as Record<string, Json>)) {
      for (const [method, op] of Object.entries(item)) {
        if (!['get', 'put', 'post', 'delete', 'patch'].includes(method)) continue;
        const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^/}]+\}/g, '[^/]+');
        this.routes.push({
          method: method.toUpperCase(),
          template,
          pattern: new RegExp(`^${source}$`),
          params: (template.match(/\{/g) ?? []).length,
          responses: (op as Json).responses ?? {},
        });
      }
    }
  }

  /** The documented route a request lands on; a literal segment wins over a parameter, as in the router. */
  route(method: string, path: string): Route | null {
    const matches = this.routes.filter((r) => r.method === method && r.pattern.test(path));
    matches.sort((a, b) => a.params - b.params);
    return matches[0] ?? null;
  }

  /** A validator for a schema of the document, compiled on first use. */
  validator(key: string, schema: unknown): ValidateFunction {
    let validate = this.validators.get(key);
    if (validate === undefined) {
      validate = this.ajv.compile(rebase(schema) as Json);
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** Checks a value against a named component (e.g. a server-sent event's data). */
  checkComponent(name: string, value: unknown): void {
    if (this.document.components?.schemas?.[name] === undefined) throw new ContractViolation(`No component schema "${name}"`);
    this.assertValid(this.validator(`component ${name}`, { $ref: `#/components/schemas/${name}` }), value, `component ${name}`);
  }

  check(response: ObservedResponse): void {
    const path = response.url.split('?')[0]!;
    if (OUTSIDE.test(path)) return;
    const route = this.route(response.method, path);
    const what = `${response.method} ${route?.template ?? path} answered ${response.status}`;
    if (route === null) {
      if (response.routed) throw new ContractViolation(`${response.method} ${path} is served but not in the OpenAPI document`);
      // No such route: the 404 handler's answer is the error body like any other; a 405 when the path is
      // served under other methods (src/http/route-hints.ts).
      const servedOtherwise = this.routes.some((r) => r.method !== response.method && r.pattern.test(path));
      const status = servedOtherwise ? 405 : 404;
      if (response.status !== status) throw new ContractViolation(`${what}: an unrouted request must answer ${status}`);
      this.checkJson(what, this.document.components?.schemas?.Error ? { $ref: '#/components/schemas/Error' } : undefined, response, `unrouted ${status}`);
      return;
    }
    const documented = route.responses[String(response.status)];
    if (documented === undefined) {
      throw new ContractViolation(`${what}, a status the document does not list (it lists ${Object.keys(route.responses).join(', ')})`);
    }
    const media = (response.contentType ?? '').split(';')[0]!.trim().toLowerCase();
    const content = documented.content ?? {};
    if (media === '' && response.body === '') {
      if (Object.keys(content).length > 0) throw new ContractViolation(`${what} with no body; the document describes one`);
      return;
    }
    if (content[media] === undefined) {
      throw new ContractViolation(`${what} as ${media || 'no media type'}; documented: ${Object.keys(content).join(', ') || 'no body'}`);
    }
    if (media === 'application/json') {
      this.checkJson(what, content[media]!.schema, response, `${route.method} ${route.template} ${response.status}`);
    }
  }

  private checkJson(what: string, schema: unknown, response: ObservedResponse, key: string): void {
    if (schema === undefined) throw new ContractViolation(`${what}: the document has no JSON schema for it`);
    this.assertValid(this.validator(key, schema), response.body, what);
  }

  private assertValid(validate: ValidateFunction, value: unknown, what: string): void {
    if (validate(value)) return;
    const problems = (validate.errors ?? [])
      .slice(0, 8)
      .map((e) => `  ${e.instancePath || '(body)'} ${e.message ?? ''}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`)
      .join('\n');
    const shown = JSON.stringify(value);
    throw new ContractViolation(
      `${what}: the body does not match the documented schema\n${problems}\nbody: ${shown.length > 2000 ? `${shown.slice(0, 2000)}…` : shown}`,
    );
  }
}
