// Bad input gets a 400 with a machine-readable code and the offending field, and nothing is half-written.
import { DataSource } from 'typeorm';
import { newOrg, newPerson, startTestApp, type TestApp } from './support/test-app.js';

describe('request validation', () => {
  let t: TestApp;
  let org: Awaited<ReturnType<typeof newOrg>>;
  beforeAll(async () => {
    t = await startTestApp();
    org = await newOrg(t);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  async function counts(): Promise<{ accounts: number; people: number; audit: number }> {
    const [row] = await t.app.get(DataSource).query(
      `SELECT (SELECT count(*)::int FROM accounts) AS accounts, (SELECT count(*)::int FROM people) AS people,
              (SELECT count(*)::int FROM audit_log) AS audit`,
    );
    return row;
  }

  it('malformed JSON', async () => {
    const res = await t.request('POST', '/v1/accounts', { rawBody: '{"id": "x",' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'malformed_json' });
    expect(res.body.error.request_id).toEqual(expect.any(String));
  });

  it.each([
    [{ id: 'ok-id', name: 'x', currency: 'EUR', colour: 'red' }, 'unknown_field', 'colour'],
    [{ id: 'a'.repeat(65), name: 'x', currency: 'EUR' }, 'too_long', 'id'],
    [{ id: 'Bad Id!', name: 'x', currency: 'EUR' }, 'invalid_value', 'id'],
    [{ id: 'ok-id', name: 'x\u0000y', currency: 'EUR' }, 'nul_byte', 'name'],
    [{ id: 'ok-id', name: 42, currency: 'EUR' }, 'wrong_type', 'name'],
    [{ id: 'ok-id', name: 'x', currency: 'euro' }, 'invalid_value', 'currency'],
    [{ id: 'ok-id', name: 'x' }, 'missing_field', 'currency'],
    [{ id: 'ok-id', name: 'x', currency: 'EUR', paid_enterprise: 'yes' }, 'wrong_type', 'paid_enterprise'],
    [{ id: 'ok-id', name: 'x', currency: 'EUR', fiscal_year_start_month: 13 }, 'invalid_value', 'fiscal_year_start_month'],
  ])('account body %j -> %s on %s', async (body, code, field) => {
    const before = await counts();
    const res = await t.post('/v1/accounts', body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code, field });
    expect(await counts()).toEqual(before);
  });

  it('money sent as a JSON number is told to send it as a string, and changes nothing', async () => {
    const plan = await t.request('PUT', '/v1/plans/number-fee', { body: { currency: 'EUR', base_fee: 49, included_allowance: '20.00', overage_policy: 'bill' } });
    expect(plan.status).toBe(400);
    expect(plan.body.error).toEqual(expect.objectContaining({ code: 'wrong_type', field: 'base_fee', message: 'Field "base_fee" must be a string: "49", in quotes.' }));
    expect((await t.get('/v1/plans/number-fee/versions')).status).toBe(404);
    const grant = await t.post(`/v1/accounts/${org.account}/credits/grants`, { amount: 5.5 });
    expect(grant.body.error).toEqual(expect.objectContaining({ code: 'wrong_type', field: 'amount', message: 'Field "amount" must be a string: "5.5", in quotes.' }));
  });

  it('an unknown field is named before the field it was probably meant to be', async () => {
    const res = await t.post('/v1/accounts', { id: 'x', name: 'X', curency: 'EUR' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'unknown_field', field: 'curency', message: 'Unknown field "curency". Did you mean "currency"?' });
    // Far from every missing field: named, without a guess, with the fields the body has.
    const far = await t.post(`/v1/accounts/${org.account}/units`, { id: 'u', name: 'U', colour: 'red' });
    expect(far.body.error).toMatchObject({ code: 'unknown_field', field: 'colour', message: 'Unknown field "colour". The fields here are "id", "name", "kind", "parent_id".' });
    // A guessed name on the authorization: told the names it takes.
    const guessed = await t.post('/v1/authorizations', { model: 'gpt-4o', estimated_tokens: { input: 100 } }, org.keys.agent);
    expect(guessed.status).toBe(400);
    expect(guessed.body.error.message).toMatch(/^Unknown field "estimated_tokens"\. The fields here are .*"usage"/);
    // Nested bodies too.
    const nested = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { overrides: { included_alowance: '1' } } });
    expect(nested.body.error).toMatchObject({ code: 'unknown_field', field: 'overrides.included_alowance' });
  });

  it('an event with an unknown field is rejected naming it, the others in its batch accepted', async () => {
    const res = await t.post(
      '/v1/events',
      {
        events: [
          { id: 'ok-1', timestamp: '2026-03-15T11:00:00Z', operation: 'approval.create' },
          { id: 'typo-1', timestmap: '2026-03-15T11:00:00Z' },
          { id: 'big-1', timestamp: '2026-03-15T11:00:00Z', metadata: { n: 1e300 } },
        ],
      },
      org.keys.agent,
    );
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'rejected', 'rejected']);
    expect(res.body.results[1]).toMatchObject({ code: 'unknown_field', field: 'timestmap', message: 'Unknown field "timestmap". Did you mean "timestamp"?' });
    expect(res.body.results[2]).toMatchObject({ code: 'unsafe_integer', field: 'metadata.n' });
  });

  it('a key of another role is told which key a route takes, in plain words', async () => {
    const events = await t.post('/v1/events', { events: [] }, t.adminKey);
    expect(events.status).toBe(403);
    expect(events.body.error.message).toMatch(/^Events are reported with an agent key\b.*This is an admin key\.$/);
    const audit = await t.get('/v1/audit', org.keys.agent);
    expect(audit.body.error.message).toBe('This takes an admin key. This is an agent key.');
    const units = await t.post(`/v1/accounts/${org.account}/units`, { id: 'x', name: 'x', kind: 'team' }, org.keys.member);
    expect(units.body.error.message).toBe('This takes an admin or a finance key. This is a member key.');
    const unbound = await t.post('/v1/api-keys', { role: 'admin', account: org.account, name: 'x' });
    expect(unbound.body.error.message).toBe('An admin key is not bound to an account, a person or an agent.');
  });

  it('a body that is not an object', async () => {
    const res = await t.request('POST', '/v1/accounts', { rawBody: '[1,2]' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('wrong_type');
  });

  it('over-long and odd path ids', async () => {
    const long = await t.get(`/v1/accounts/${'a'.repeat(65)}`);
    expect(long.status).toBe(400);
    expect(long.body.error).toMatchObject({ code: 'invalid_id', field: 'account' });
    const nul = await t.get('/v1/accounts/ab%00cd');
    expect(nul.status).toBe(400);
  });

  it('a person in a unit that does not exist: 400 and nothing written', async () => {
    const before = await counts();
    const res = await t.post(`/v1/accounts/${org.account}/people`, { id: 'ghost', name: 'Ghost', unit_id: 'nowhere' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'unit_not_found', field: 'unit_id' });
    expect(await counts()).toEqual(before);
  });

  it('a currency that is no ISO 4217 code is refused, with the code it was probably meant to be, and nothing written', async () => {
    const account = await t.post('/v1/accounts', { id: 'typo-currency', name: 'Typo', currency: 'EUE' });
    expect([account.status, account.body.error]).toEqual([
      400,
      expect.objectContaining({ code: 'invalid_value', field: 'currency', message: 'Field "currency" must be an ISO 4217 currency code, like "EUR". Did you mean "EUR"?' }),
    ]);
    expect((await t.get('/v1/accounts/typo-currency')).status).toBe(404);
    const plan = await t.request('PUT', '/v1/plans/typo-currency', { body: { currency: 'XYZ', base_fee: '1.00', included_allowance: '1.00', overage_policy: 'bill' } });
    expect([plan.status, plan.body.error?.field]).toEqual([400, 'currency']);
    const book = await t.post('/v1/price-books', {
      effective_from: '2030-01-01T00:00:00Z',
      currency: 'ABC',
      tiers: { base: { input: '1', output: '1' }, specialized: { input: '1', output: '1' }, premier: { input: '1', output: '1' } },
    });
    expect([book.status, book.body.error?.field]).toEqual([400, 'currency']);
    // A code in use is taken, whatever its minor units.
    expect((await t.post('/v1/accounts', { id: 'yen-account', name: 'Yen', currency: 'JPY' })).status).toBe(201);
  });

  it('a query string sent to a route that reads none is refused, not ignored, and nothing is written', async () => {
    const before = await counts();
    const unit = await t.post(`/v1/accounts/${org.account}/units?dry_run=1`, { id: 'trial', name: 'Trial', kind: 'team' });
    expect([unit.status, unit.body.error]).toEqual([
      400,
      expect.objectContaining({ code: 'unknown_field', field: 'dry_run', message: 'Unknown query parameter "dry_run": POST /v1/accounts/{account}/units takes no query parameters.' }),
    ]);
    // One the body takes is pointed there.
    const misplaced = await t.post(`/v1/accounts/${org.account}/units?kind=team`, { id: 'trial', name: 'Trial' });
    expect(misplaced.body.error.message).toBe('Query parameter "kind" is not read here: send "kind" as a field of the body.');
    expect(await counts()).toEqual(before);
    expect((await t.get(`/v1/accounts/${org.account}?expand=units`)).status).toBe(400);
    // Operational routes take what probes send.
    expect((await t.get('/health/live?probe=k8s', null)).status).toBe(200);
  });

  it('a duplicate id is a 409 and leaves the first one untouched', async () => {
    const res = await t.post('/v1/accounts', { id: org.account, name: 'Impostor', currency: 'USD' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'account_exists', field: 'id' });
    expect((await t.get(`/v1/accounts/${org.account}`)).body.currency).toBe('EUR');
  });

  it('a unit under a missing parent', async () => {
    const res = await t.post(`/v1/accounts/${org.account}/units`, { id: 'orphan', name: 'x', kind: 'team', parent_id: 'missing' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'parent_unit_not_found', field: 'parent_id' });
  });

  it('units nest to any depth', async () => {
    let parent: string | null = null;
    for (let depth = 0; depth < 8; depth++) {
      const res = await t.post(`/v1/accounts/${org.account}/units`, { id: `level-${depth}`, name: `L${depth}`, kind: depth === 0 ? 'department' : 'team', parent_id: parent });
      expect(res.status).toBe(201);
      parent = `level-${depth}`;
    }
    const units = (await t.get(`/v1/accounts/${org.account}/units`)).body.data;
    expect(units.find((u: { id: string }) => u.id === 'level-7').parent_id).toBe('level-6');
  });

  it('unknown routes are a 404 in the same error shape', async () => {
    const res = await t.get('/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'route_not_found', message: 'Cannot GET /v1/nothing-here.', request_id: expect.any(String) });
  });

  it('a mistyped or misplaced route is a 404 that names the route it is close to', async () => {
    const typo = await t.get(`/v1/acounts/${org.account}/meter?group_by=model`);
    expect([typo.status, typo.body.error.message]).toEqual([404, `Cannot GET /v1/acounts/${org.account}/meter. Did you mean GET /v1/accounts/{account}/meter?`]);
    const misplaced = await t.post(`/v1/accounts/${org.account}/webhook-endpoints`, { url: 'https://example.com/hook' });
    expect(misplaced.body.error.message).toBe(`Cannot POST /v1/accounts/${org.account}/webhook-endpoints. Did you mean POST /v1/webhook-endpoints?`);
    // Where other services keep their OpenAPI document: this one's is named, and is there.
    const document = await t.get('/docs/json', null);
    expect([document.status, document.body.error.message]).toEqual([404, 'Cannot GET /docs/json. The OpenAPI document is at /docs-json (interactive at /docs).']);
    expect((await t.get('/docs-json', null)).body.openapi).toMatch(/^3\.1/);
  });

  it("a query string's unknown or bad parameter is named as a query parameter", async () => {
    const typo = await t.get(`/v1/accounts/${org.account}/events?limt=5`);
    expect([typo.status, typo.body.error]).toEqual([
      400,
      { code: 'unknown_field', field: 'limt', message: 'Unknown query parameter "limt". Did you mean "limit"?', request_id: expect.any(String) },
    ]);
    const format = await t.get(`/v1/accounts/${org.account}/meter?format=xml`);
    expect([format.status, format.body.error.message]).toEqual([400, expect.stringMatching(/^Query parameter "format" must be one of /)]);
  });

  it('a route under the wrong method is a 405 that names the methods its path takes', async () => {
    const res = await t.get('/v1/events');
    expect([res.status, res.headers.allow, res.body.error]).toEqual([
      405,
      'POST',
      { code: 'method_not_allowed', message: '/v1/events takes POST, not GET.', request_id: expect.any(String) },
    ]);
    const account = await t.request('DELETE', `/v1/accounts/${org.account}`);
    expect([account.status, account.headers.allow]).toEqual([405, 'GET, HEAD, PATCH']);
  });

  it('a 5xx names only the request id', async () => {
    const db = t.app.get(DataSource);
    await db.query('ALTER TABLE units RENAME TO units_gone');
    try {
      const res = await t.request('GET', `/v1/accounts/${org.account}/units`, { headers: { 'x-request-id': 'req-123' } });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: { code: 'internal', message: 'Something went wrong on our side.', request_id: 'req-123' } });
      expect(res.headers['x-request-id']).toBe('req-123');
    } finally {
      await db.query('ALTER TABLE units_gone RENAME TO units');
    }
  });
});

// Every route of the app, from its OpenAPI document, meets hostile input: none may answer 5xx, and every
// refusal carries a code. A new route is probed by being added; a new route with a body must say below
// what a valid body looks like, so its fields are probed too.
describe('hostile input on every route', () => {
  let t: TestApp;
  let org: Awaited<ReturnType<typeof newOrg>>;
  let routes: Route[];
  let webhookId: string;
  let invoiceId: string;
  let voidableId: string;
  const keyOf = new Map<string, string>();

  interface Route {
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
    path: string;
    params: string[];
    query: string[];
    hasBody: boolean;
    streams: boolean;
  }

  beforeAll(async () => {
    // Webhook URLs must reach a public address unless allowed: this one is never called.
    t = await startTestApp({ env: { TOKENMETER_WEBHOOK_ALLOW_PRIVATE: '127.0.0.1' } });
    org = await newOrg(t);
    const endpoint = await t.post('/v1/webhook-endpoints', { account: org.account, url: 'http://127.0.0.1:9/hook' });
    expect(endpoint.status).toBe(201);
    webhookId = endpoint.body.id;
    // Invoices to probe the invoice routes with (one to void, one that other probes may pay): a subscription
    // from January, its periods closed.
    expect((await t.request('PUT', '/v1/plans/setup-plan', { body: { currency: 'EUR', base_fee: '10', included_allowance: '0', overage_policy: 'bill' } })).status).toBe(200);
    expect((await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { plan_id: 'setup-plan', start_date: '2026-01-01', billing_anchor_day: 1 } })).status).toBe(200);
    const invoice = await t.post(`/v1/accounts/${org.account}/invoices/close`, { finalize: true });
    expect(invoice.status).toBe(201);
    invoiceId = invoice.body.id;
    voidableId = (await t.get(`/v1/accounts/${org.account}/invoices`)).body.data[1].id;
    // Budgets a transfer can move between (the unit's back to the account).
    for (const [node, amount] of [['account', '100'], [`unit:${org.unit}`, '50']]) {
      expect((await t.request('PUT', `/v1/accounts/${org.account}/budgets/${node}`, { body: { period: 'month', amount_limit: amount } })).status).toBe(200);
    }
    const doc = (await t.get('/docs-json', null)).body as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; requestBody?: unknown }>>;
    };
    routes = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const params = op.parameters ?? [];
        routes.push({
          method: method.toUpperCase() as Route['method'],
          path,
          params: params.filter((p) => p.in === 'path').map((p) => p.name),
          query: params.filter((p) => p.in === 'query').map((p) => p.name),
          hasBody: op.requestBody !== undefined,
          // Server-sent events: the route answers and never ends on its own.
          streams: /text\/event-stream|server-sent events/i.test(JSON.stringify(op)),
        });
      }
    }
    // The key each route is probed with: the first role it admits, so a probe reaches its validation.
    const keys = [t.adminKey, org.keys.agent, org.keys.member, org.keys.finance];
    for (const route of routes) {
      for (const key of keys) {
        const res = await send(route, { key });
        if (res.status !== 401 && res.status !== 403) {
          keyOf.set(`${route.method} ${route.path}`, key);
          break;
        }
      }
    }
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  /** Real values for path parameters, so a probe gets past "not found" to the body and query checks. */
  function pathOf(route: Route, override: Record<string, string> = {}): string {
    const real: Record<string, string> = {
      account: org.account,
      person: route.method === 'DELETE' ? 'nobody' : org.person,
      agent: route.method === 'DELETE' ? 'nobody' : org.agent,
      model: 'gpt-probe',
      plan: 'probe-plan',
      task: 'probe-task',
      version: '1',
      context: 'external',
      node: route.method === 'DELETE' ? 'person:nobody' : 'account',
      id: route.path.startsWith('/v1/webhook-endpoints') && route.method !== 'DELETE' ? webhookId : route.path === '/v1/invoices/{id}/void' ? voidableId : route.path.startsWith('/v1/invoices') ? invoiceId : 'nokey',
    };
    return route.path.replace(/\{(\w+)\}/g, (_, name: string) => override[name] ?? real[name] ?? 'x1');
  }

  async function send(
    route: Route,
    options: { key?: string; path?: string; query?: string; body?: string | Buffer; contentType?: string | null },
  ): Promise<{ status: number; body: any; text: string }> {
    const headers: Record<string, string> = { authorization: `Bearer ${options.key ?? keyOf.get(`${route.method} ${route.path}`) ?? t.adminKey}` };
    if (options.body !== undefined && options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
    const url = `${options.path ?? pathOf(route)}${options.query === undefined ? '' : `?${options.query}`}`;
    try {
      // A stream that opens never ends on its own: it is a 200, and the probe moves on.
      const res = await t.app.inject({ method: route.method, url, headers, payload: options.body, signal: AbortSignal.timeout(route.streams ? 1000 : 10_000) });
      let body: any = res.body;
      if (String(res.headers['content-type'] ?? '').includes('application/json') && res.body !== '') body = res.json();
      return { status: res.statusCode, body, text: res.body };
    } catch (error) {
      if (route.streams && (error as Error).name === 'AbortError') return { status: 200, body: null, text: '' };
      throw error;
    }
  }

  const failures: string[] = [];
  beforeEach(() => {
    failures.length = 0;
  });
  function check(what: string, res: { status: number; body: any; text: string }): void {
    if (res.status >= 500) failures.push(`${what}: ${res.status} ${res.text.slice(0, 200)}`);
    else if (res.status >= 400 && typeof res.body?.error?.code !== 'string') failures.push(`${what}: ${res.status} without a code: ${res.text.slice(0, 200)}`);
  }

  const future = '2026-04-01T00:00:00Z';
  /** A valid body per route; its every field is then replaced, one at a time, by hostile values. */
  const validBodies = (): Record<string, unknown> => ({
    'POST /v1/accounts': { id: 'probe-acct', name: 'Probe', currency: 'EUR', paid_enterprise: false, fiscal_year_start_month: 1, task_inactivity_timeout_seconds: 3600 },
    // The org's own calendar (January): the probe sets budgets on it, under which it may not change.
    'PATCH /v1/accounts/{account}': { name: 'Renamed', paid_enterprise: true, fiscal_year_start_month: 1, task_inactivity_timeout_seconds: 7200 },
    'POST /v1/accounts/{account}/units': { id: 'probe-unit', name: 'Unit', kind: 'team', parent_id: org.unit },
    'POST /v1/accounts/{account}/people': { id: 'probe-person', name: 'Person', unit_id: org.unit },
    'PATCH /v1/accounts/{account}/people/{person}': { name: 'Person', unit_id: org.unit, effective_from: '2026-03-15T12:00:00Z' },
    'POST /v1/accounts/{account}/agents': { id: 'probe-agent', name: 'Agent', owner_person_id: org.person },
    'POST /v1/api-keys': { role: 'member', account: org.account, person_id: org.person, name: 'probe key' },
    'PUT /v1/models/{model}': { tier: 'base', provider: 'openai', aliases: ['gpt-probe-alias'] },
    'POST /v1/price-books': {
      effective_from: future,
      currency: 'EUR',
      tiers: {
        base: { input: '1', cached_input: '0.5', output: '2', reasoning: '2' },
        specialized: { input: '2', output: '4' },
        premier: { input: '3', output: '6' },
      },
      models: { 'gpt-probe': { input: '1.5', output: '3' } },
      long_context: { threshold_tokens: 100000, tiers: { base: { input: '2', output: '4' } } },
      reason: 'probe',
    },
    'PUT /v1/plans/{plan}': {
      name: 'Probe',
      currency: 'EUR',
      base_fee: '10',
      included_allowance: '5',
      overage_policy: 'bill',
      topup_packs: [{ id: 'pack', allowance: '5', price: '4', validity_days: 30 }],
      tier_caps: { base: 1000000 },
      volume_discount: [{ up_to: '100', discount_pct: '0' }, { up_to: null, discount_pct: '5' }],
      ineffective_credit_pct: '10',
      invoice_grace_minutes: 30,
    },
    'POST /v1/plans/{plan}/rollback': { version: 1 },
    'PUT /v1/accounts/{account}/subscription': { plan_id: 'probe-plan', plan_version: 'latest', start_date: '2026-03-01', billing_anchor_day: 1, overrides: { included_allowance: '3' } },
    'POST /v1/events': {
      events: [
        {
          id: 'probe-event',
          timestamp: '2026-03-15T11:00:00Z',
          operation: 'code.edit',
          channel: 'cli',
          model: 'gpt-probe',
          task_id: 'probe-task',
          attempt_id: 'a1',
          outcome: 'success',
          learned_from: ['a0'],
          usage: { prompt_tokens: 12, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 2 } },
          metadata: { ticket: 'T-1' },
        },
      ],
    },
    'POST /v1/tasks/{task}/close': { status: 'succeeded' },
    'POST /v1/webhook-endpoints': { account: org.account, url: 'http://127.0.0.1:9/other', event_types: ['task.classified'], description: 'probe' },
    'PATCH /v1/webhook-endpoints/{id}': { url: 'http://127.0.0.1:9/hook', event_types: ['allowance.exhausted'], description: 'probe', enabled: true },
    'POST /v1/webhook-endpoints/{id}/rotate-secret': { expire_previous_in_seconds: 60 },
    'POST /v1/authorizations': { amount: '0.50', tokens: 1000, operation: 'probe.op', session_id: 'probe-session', session_context: 'internal', expires_in_seconds: 60 },
    'PUT /v1/accounts/{account}/caps/agents/{agent}': { amount_limit: '10.00', token_limit: 100000, period: 'month' },
    'PUT /v1/accounts/{account}/caps/sessions/{context}': { amount_limit: '2.00', token_limit: null },
    'POST /v1/accounts/{account}/credits/grants': { amount: '5.00', priority: 10, validity_days: 30, reason: 'probe' },
    'POST /v1/accounts/{account}/credits/topups': { id: 'probe-topup', pack: 'pack' },
    'POST /v1/accounts/{account}/invoices/close': { finalize: true },
    'POST /v1/invoices/{id}/void': { reason: 'probe' },
    'PUT /v1/accounts/{account}/budgets/{node}': {
      period: 'month',
      period_start: '2026-03-01',
      headcount: 5,
      token_limit: 1_000_000,
      amount_limit: '100.00',
      enforcement: 'soft',
      thresholds: [50, 90],
    },
    'POST /v1/accounts/{account}/budgets/transfers': { from: `unit:${org.unit}`, to: 'account', period: 'month', period_start: '2026-03-01', amount: '1.00', tokens: 0, headcount: 0 },
  });

  const HOSTILE = [
    '"a\\u0000b"',
    '"\\ud800"',
    '1e400',
    '123456789012345678901234567890',
    '1099511627776',
    '-1.5',
    '"123"',
    '[]',
    '{}',
    'null',
    `"${'x'.repeat(5000)}"`,
    `${'{"a":'.repeat(60)}1${'}'.repeat(60)}`,
  ];

  /** Every place in a value: the paths of its members and items, nested. */
  function pathsIn(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
    if (value === null || typeof value !== 'object') return [];
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
    return entries.flatMap(([key, item]) => [[...prefix, key], ...pathsIn(item, [...prefix, key])]);
  }

  function withFragment(base: unknown, path: (string | number)[], fragment: string): string {
    const copy = structuredClone(base) as Record<string | number, unknown>;
    let node = copy;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
    node[path[path.length - 1]!] = '\u0001HOSTILE\u0001';
    return JSON.stringify(copy).replace('"\\u0001HOSTILE\\u0001"', fragment);
  }

  it('every route is probed with a key it admits', () => {
    expect(routes.length).toBeGreaterThan(30);
    const unprobed = routes.filter((r) => !r.path.startsWith('/health') && r.path !== '/metrics' && !keyOf.has(`${r.method} ${r.path}`));
    expect(unprobed).toEqual([]);
  });

  it('every route with a body has a valid body to probe from, and it is accepted', async () => {
    const bodies = validBodies();
    const missing = routes.filter((r) => r.hasBody && !(`${r.method} ${r.path}` in bodies)).map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
    for (const route of routes.filter((r) => r.hasBody)) {
      const res = await send(route, { body: JSON.stringify(bodies[`${route.method} ${route.path}`]) });
      expect([`${route.method} ${route.path}`, res.status < 300 ? 'ok' : res.text]).toEqual([`${route.method} ${route.path}`, 'ok']);
    }
  }, 180_000);

  it('path parameters: NUL bytes, bad or overlong encodings, odd numbers', async () => {
    for (const route of routes.filter((r) => r.params.length > 0)) {
      for (const name of route.params) {
        for (const value of ['a%00b', '%ED%A0%80', '%FF', '%F0%9F%98%80', 'a'.repeat(2000), '1e400', '99999999999999999999', '-1', '%20']) {
          check(`${route.method} ${route.path} ${name}=${value.slice(0, 20)}`, await send(route, { path: pathOf(route, { [name]: value }) }));
        }
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('query parameters: NUL bytes, lone surrogates, bad encodings, repeats, long and odd values', async () => {
    for (const route of routes) {
      for (const name of new Set([...route.query, 'zz'])) {
        const values = ['a%00b', '%ED%A0%80', '%FF%FE', '99999999999999999999', '', 'a'.repeat(5000)];
        for (const value of values) check(`${route.method} ${route.path} ?${name}=${value.slice(0, 20)}`, await send(route, { query: `${name}=${value}` }));
        check(`${route.method} ${route.path} ?${name} twice`, await send(route, { query: `${name}=1&${name}=2` }));
        check(`${route.method} ${route.path} ?${name}[]`, await send(route, { query: `${name}[a]=1` }));
      }
      check(`${route.method} ${route.path} NUL in a name`, await send(route, { query: 'a%00b=1' }));
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('every route with query parameters refuses a misspelt one by name (never ignores it and answers as if unfiltered)', async () => {
    const ignored: string[] = [];
    for (const route of routes.filter((r) => r.query.length > 0)) {
      const typo = `${route.query[0]}x`;
      const res = await send(route, { query: `${typo}=1` });
      const error = res.body?.error;
      if (res.status !== 400 || error?.code !== 'unknown_field' || error.field !== typo || !String(error.message).startsWith(`Unknown query parameter "${typo}".`)) {
        ignored.push(`${route.method} ${route.path} ?${typo}: ${res.status} ${res.text.slice(0, 120)}`);
      }
    }
    expect(ignored).toEqual([]);
  }, 60_000);

  it('bodies: too deep, empty, not JSON, not UTF-8, not an object, other content types', async () => {
    const raw: (string | Buffer)[] = [
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`,
      '',
      '{',
      'null',
      '[]',
      '"text"',
      '1e400',
      '{}',
      '{"__proto__":{"x":1}}',
      '{"constructor":{"prototype":{"x":1}}}',
      '{"a\\u0000":1}',
      Buffer.from([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    ];
    // A body on GET is ignored (one GET route shows it); every other method is probed.
    for (const route of routes.filter((r) => r.method !== 'GET' || r.path === '/v1/accounts')) {
      for (const body of raw) check(`${route.method} ${route.path} body ${String(body).slice(0, 20)}`, await send(route, { body }));
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', null]) {
        check(`${route.method} ${route.path} as ${contentType}`, await send(route, { body: '{"id":"x"}', contentType }));
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('each field of each body replaced by hostile values', async () => {
    const bodies = validBodies();
    let probes = 0;
    for (const route of routes.filter((r) => r.hasBody)) {
      const base = bodies[`${route.method} ${route.path}`];
      for (const path of pathsIn(base)) {
        for (const fragment of HOSTILE) {
          probes++;
          check(`${route.method} ${route.path} ${path.join('.')}=${fragment.slice(0, 20)}`, await send(route, { body: withFragment(base, path, fragment) }));
        }
      }
    }
    expect(probes).toBeGreaterThan(500);
    expect(failures).toEqual([]);
  }, 300_000);

  it('a body in another content type, or none, is a 415 naming application/json; a DELETE needs none', async () => {
    const withBody = routes.filter((r) => r.hasBody);
    expect(withBody.length).toBeGreaterThan(10);
    for (const route of withBody) {
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', null]) {
        const res = await send(route, { body: '{"id":"x"}', contentType });
        expect([route.path, contentType, res.status, res.body.error.code]).toEqual([route.path, contentType, 415, 'unsupported_media_type']);
        expect(res.body.error.message).toContain('content-type: application/json');
      }
    }
    // A route that takes no body works without a content type, and with an empty JSON one.
    const person = await newPerson(t, org.account, org.unit);
    const deleted = await t.app.inject({ method: 'DELETE', url: `/v1/accounts/${org.account}/people/${person.id}`, headers: { authorization: `Bearer ${t.adminKey}` } });
    expect(deleted.statusCode).toBe(200);
    const again = await t.app.inject({
      method: 'DELETE',
      url: `/v1/accounts/${org.account}/people/${person.id}`,
      headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
    });
    expect(again.statusCode).toBe(200);
  });

  it('no body, or an empty one with a JSON content type, reads as no body: the first missing field is named', async () => {
    const route = routes.find((r) => r.method === 'POST' && r.path === '/v1/tasks/{task}/close')!;
    const empty = await send(route, { body: '' });
    expect(empty.status).toBe(400);
    expect(empty.body.error).toMatchObject({ code: 'missing_field', field: 'status' });
    // Without a body there is no content type to check: a POST is answered by its schema, not with a 415.
    const none = await send(route, {});
    expect(none.status).toBe(400);
    expect(none.body.error).toMatchObject({ code: 'missing_field', field: 'status' });
  });

  it('the probed 500s: a NUL byte in a listing query, a body nested thousands deep', async () => {
    const nul = await t.get('/v1/accounts?after=a%00b');
    expect(nul.status).toBe(400);
    expect(nul.body.error).toMatchObject({ code: 'nul_byte', field: 'after' });
    const deep = await t.request('POST', '/v1/accounts', { rawBody: `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}` });
    expect(deep.status).toBe(400);
    expect(deep.body.error.code).toBe('too_deep');
    const repeated = await t.get('/v1/accounts?limit=1&limit=2');
    expect(repeated.status).toBe(400);
    expect(repeated.body.error).toMatchObject({ code: 'repeated_parameter', field: 'limit' });
  });

  it('a request line and headers over Node\'s limit get the error shape too', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.getHttpServer().address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${address.port}/v1/accounts?after=${'a'.repeat(20_000)}`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    expect(res.status).toBe(431);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('headers_too_large');
  });
});
