// The OpenAPI document is a contract a client can be generated from: valid OpenAPI 3.1, every operation
// summarised with a schema for every status it answers, and responses that do not match it are caught.
import { Validator } from '@seriousme/openapi-schema-validator';
import { CLOCK, type Clock } from '../src/clock/clock.js';
import { ContractViolation, type Contract } from './support/contract.js';
import { newOrg, startTestApp, type TestApp } from './support/test-app.js';

type Json = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

function operations(doc: Json): { path: string; method: string; op: Json }[] {
  return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ path, method, op: op as Json })),
  );
}

describe('the API contract', () => {
  let t: TestApp;
  let doc: Json;
  let contract: Contract;
  beforeAll(async () => {
    t = await startTestApp();
    doc = (await t.get('/docs-json', null)).body;
    contract = await t.contract();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // The validator is real: a document without `info` is refused.
    const { info: _info, ...broken } = doc;
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('compiles every schema it holds (JSON Schema 2020-12, strict), so every $ref resolves', () => {
    for (const name of Object.keys(doc.components.schemas)) {
      expect(() => contract.validator(`component ${name}`, { $ref: `#/components/schemas/${name}` })).not.toThrow();
    }
    for (const { path, method, op } of operations(doc)) {
      const schemas = [
        ...Object.values(op.requestBody?.content ?? {}).map((m: any) => m.schema),
        ...(op.parameters ?? []).map((p: Json) => p.schema),
        ...Object.values(op.responses as Json).flatMap((r: Json) => Object.values(r.content ?? {}).map((m: any) => m.schema)),
      ];
      schemas.forEach((schema, i) => expect(() => contract.validator(`${method} ${path} ${i}`, schema)).not.toThrow());
    }
  });

  it('documents every operation: a summary, a unique id, a schema for every status and media type', () => {
    const ids = new Set<string>();
    for (const { path, method, op } of operations(doc)) {
      const where = `${method.toUpperCase()} ${path}`;
      expect([where, typeof op.summary === 'string' && op.summary.length > 0]).toEqual([where, true]);
      expect(ids.has(op.operationId)).toBe(false);
      ids.add(op.operationId);
      const declared = new Set((op.parameters ?? []).filter((p: Json) => p.in === 'path').map((p: Json) => p.name));
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) expect([where, name, declared.has(name)]).toEqual([where, name, true]);
      const statuses = Object.keys(op.responses);
      expect(statuses.some((s) => s.startsWith('2'))).toBe(true);
      for (const status of statuses) {
        const content = op.responses[status].content ?? {};
        // Only a 204 has no body.
        expect([where, status, Object.keys(content).length > 0]).toEqual([where, status, status !== '204']);
        for (const media of Object.values(content) as Json[]) expect(media.schema).toBeDefined();
        // Every error is the one error body (readiness also answers 503 with its own body).
        if (Number(status) >= 400 && !(path === '/health/ready' && status === '503')) {
          expect([where, status, content['application/json']?.schema]).toEqual([where, status, { $ref: '#/components/schemas/Error' }]);
        }
      }
      for (const status of ['500', '503']) expect([where, statuses.includes(status)]).toEqual([where, true]);
      if (op.security?.length) {
        expect([where, statuses.includes('401'), Array.isArray(op['x-roles'])]).toEqual([where, true, true]);
        if (path.includes('{account}')) expect([where, statuses.includes('404')]).toEqual([where, true]);
      }
      if ((op.parameters ?? []).length > 0 || op.requestBody) expect([where, statuses.includes('400')]).toEqual([where, true]);
      if (op.requestBody) {
        expect(op.requestBody.content['application/json'].schema.$ref).toMatch(/^#\/components\/schemas\/[A-Z]/);
        for (const status of ['413', '415']) expect([where, statuses.includes(status)]).toEqual([where, true]);
      }
      const success = statuses.filter((s) => s.startsWith('2'));
      for (const status of success) {
        const json = op.responses[status].content?.['application/json']?.schema;
        // Named success bodies give a generated client readable types.
        if (json) expect([where, json.$ref ?? json.oneOf?.map((s: Json) => s.$ref)]).not.toEqual([where, undefined]);
      }
    }
    // Every /v1 route needs a key (but Stripe's signed webhook); operations do not.
    for (const { path, op } of operations(doc)) {
      expect([path, Boolean(op.security?.length)]).toEqual([path, path.startsWith('/v1/') && path !== '/v1/stripe/webhook']);
    }
  });

  it('says the bearer key is ours, not a JWT', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.bearer.bearerFormat).not.toMatch(/jwt/i);
  });

  it('marks optional query parameters optional and declares the filters with their types', () => {
    // The one query parameter a route refuses to go without (400 missing_field; test/budgets.e2e-spec.ts).
    const required = new Set(['delete /v1/accounts/{account}/budgets/{node} period']);
    for (const { path, method, op } of operations(doc)) {
      for (const p of (op.parameters ?? []).filter((p: Json) => p.in === 'query')) {
        expect([method, path, p.name, p.required]).toEqual([method, path, p.name, required.has(`${method} ${path} ${p.name}`)]);
        expect(p.schema?.type ?? p.schema?.$ref).toBeDefined();
      }
    }
    const query = (path: string) =>
      Object.fromEntries(doc.paths[path].get.parameters.filter((p: Json) => p.in === 'query').map((p: Json) => [p.name, p.schema]));
    const meter = query('/v1/accounts/{account}/meter');
    for (const name of ['from', 'to', 'group_by', 'person', 'unit', 'agent', 'model', 'format']) expect(meter[name]?.type).toBe('string');
    expect(meter.channel.enum).toEqual(['cli', 'mcp', 'chat', 'api', 'program']);
    expect(meter.label.enum).toEqual(['effective', 'ineffective', 'pending', 'unclassified']);
    const listing = query('/v1/accounts/{account}/events');
    for (const name of ['from', 'to', 'person', 'unit', 'agent', 'model', 'channel', 'label', 'task', 'operation', 'session', 'cursor', 'limit']) {
      expect([name, listing[name]]).not.toEqual([name, undefined]);
    }
    expect(Object.keys(query('/v1/price-books')).sort()).toEqual(['after', 'at', 'limit']);
    expect(query('/v1/plans').limit).toMatchObject({ type: 'integer', maximum: 1000 });
  });

  it('documents the CSV, SSE and Prometheus answers by media type', () => {
    for (const path of ['/v1/accounts/{account}/meter', '/v1/accounts/{account}/events']) {
      expect(Object.keys(doc.paths[path].get.responses['200'].content).sort()).toEqual(['application/json', 'text/csv']);
    }
    expect(Object.keys(doc.paths['/v1/accounts/{account}/meter/stream'].get.responses['200'].content)).toEqual(['text/event-stream']);
    expect(Object.keys(doc.paths['/metrics'].get.responses['200'].content)).toEqual(['text/plain']);
    for (const name of ['MeterStreamReady', 'MeterStreamOperation']) expect(doc.components.schemas[name]).toBeDefined();
  });

  it('declares the response header a route sets: the next cursor of a CSV page of events, as the route sends it', async () => {
    const events = '/v1/accounts/{account}/events';
    const declared = doc.paths[events].get.responses['200'].headers;
    expect(declared).toEqual({ 'x-next-cursor': { description: expect.stringMatching(/cursor/), schema: { type: 'string' } } });
    for (const { path, method, op } of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses as Json)) {
        if (!(path === events && method === 'get' && status === '200')) expect([method, path, status, (response as Json).headers]).toEqual([method, path, status, undefined]);
      }
    }
    // A first page of two events, one per page: the header named is the one sent, and it leads to the second.
    const org = await newOrg(t);
    const at = t.app.get<Clock>(CLOCK).now().toISOString();
    const sent = await t.post('/v1/events', { events: ['c1', 'c2'].map((id) => ({ id, timestamp: at, operation: 'code.edit', channel: 'cli' })) }, org.keys.agent);
    expect(sent.body.results).toEqual([expect.objectContaining({ status: 'accepted' }), expect.objectContaining({ status: 'accepted' })]);
    const page = (cursor?: string) =>
      t.request('GET', `/v1/accounts/${org.account}/events?format=csv&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { key: org.keys.finance });
    const first = await page();
    const [name] = Object.keys(declared);
    expect(first.headers[name!]).toEqual(expect.any(String));
    const second = await page(String(first.headers[name!]));
    expect([second.status, second.text.trim().split('\r\n')]).toEqual([200, [expect.stringMatching(/^id,/), expect.stringMatching(/^c[12],/)]]);
    expect(second.headers[name!]).toBeUndefined();
  });

  describe('the check every e2e response goes through', () => {
    let account: Json;
    beforeAll(async () => {
      const org = await newOrg(t);
      account = (await t.get(`/v1/accounts/${org.account}`)).body;
    });
    const json = (method: string, url: string, status: number, body: unknown, routed = true) =>
      contract.check({ method, url, status, contentType: 'application/json; charset=utf-8', body, routed });

    it('passes what the app really answers', () => {
      expect(() => json('GET', `/v1/accounts/${account.id}`, 200, account)).not.toThrow();
      expect(() => json('GET', '/v1/nothing', 404, { error: { code: 'route_not_found', message: 'x', request_id: 'r' } }, false)).not.toThrow();
    });

    it.each([
      ['a missing field', (a: Json) => ({ ...a, currency: undefined }), /must have required property 'currency'/],
      ['an undocumented field', (a: Json) => ({ ...a, secret_notes: 'x' }), /must NOT have additional properties/],
      ['a wrong type', (a: Json) => ({ ...a, paid_enterprise: 'no' }), /paid_enterprise must be boolean/],
      ['null where none is allowed', (a: Json) => ({ ...a, name: null }), /name must be string/],
      ['a timestamp that is not one', (a: Json) => ({ ...a, created_at: 'yesterday' }), /created_at must match format "date-time"/],
    ])('refuses a body with %s', (_, mutate, message) => {
      expect(() => json('GET', `/v1/accounts/${account.id}`, 200, JSON.parse(JSON.stringify(mutate(account))))).toThrow(message);
    });

    it('refuses an error body that is not the error format', () => {
      expect(() => json('GET', `/v1/accounts/${account.id}`, 404, { error: 'Not Found', statusCode: 404 })).toThrow(ContractViolation);
    });

    it('refuses a status, a media type or a route the document does not list', () => {
      expect(() => json('GET', `/v1/accounts/${account.id}`, 409, { error: { code: 'x', message: 'x', request_id: 'r' } })).toThrow(/does not list/);
      expect(() =>
        contract.check({ method: 'GET', url: `/v1/accounts/${account.id}`, status: 200, contentType: 'text/html', body: '<p>', routed: true }),
      ).toThrow(/as text\/html/);
      expect(() => json('GET', '/v1/secret-route', 200, {}, true)).toThrow(/not in the OpenAPI document/);
      expect(() => json('GET', '/v1/nothing', 200, {}, false)).toThrow(/must answer 404/);
    });

    it('picks a literal path segment over a parameter, as the router does', () => {
      expect(contract.route('GET', '/v1/accounts/acme/meter/stream')?.template).toBe('/v1/accounts/{account}/meter/stream');
      expect(contract.route('GET', '/v1/plans/team/versions')?.template).toBe('/v1/plans/{plan}/versions');
    });

    it('is applied by TestApp.request to every response', async () => {
      // The request itself passes; a violation inside request() would have rejected it.
      const res = await t.get(`/v1/accounts/${account.id}`);
      expect(res.status).toBe(200);
      await expect(
        t.checkResponse({ method: 'GET', url: `/v1/accounts/${account.id}`, status: 200, contentType: 'application/json', body: { ...res.body, extra: 1 } }),
      ).rejects.toThrow(ContractViolation);
    });
  });
});
