// Bad input gets a 400 with a machine-readable code and the offending field, and nothing is half-written.
import { DataSource } from 'typeorm';
import { newOrg, startTestApp, type TestApp } from './support/test-app.js';

describe('request validation', () => {
  let t: TestApp;
  let org: Awaited<ReturnType<typeof newOrg>>;
  beforeAll(async () => {
    t = await startTestApp();
    org = await newOrg(t);
  });
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
    expect(res.body.error.code).toBe('route_not_found');
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
