// Every role against every route group, cross-account access, revocation and agent keys that can never
// do more than their owner.
import { newAccount, newAgent, newKey, newOrg, newPerson, newUnit, startTestApp, type TestApp } from './support/test-app.js';

type Org = Awaited<ReturnType<typeof newOrg>>;
type RoleName = keyof Org['keys'];
const ROLES: RoleName[] = ['admin', 'sales', 'finance', 'member', 'agent'];

describe('access control', () => {
  let t: TestApp;
  let org: Org;
  let other: Org;

  beforeAll(async () => {
    t = await startTestApp();
    org = await newOrg(t);
    other = await newOrg(t);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  // Each route group with the roles that may use it; the rest must get 403.
  const routeGroups: {
    name: string;
    allowed: RoleName[];
    call: (key: string) => Promise<{ status: number }>;
    okStatus: number;
  }[] = [
    { name: 'create account', allowed: ['admin', 'sales'], okStatus: 201, call: (key) => t.post('/v1/accounts', { id: `a-${Math.random().toString(36).slice(2, 10)}`, name: 'x', currency: 'USD' }, key) },
    { name: 'list accounts', allowed: ['admin', 'sales'], okStatus: 200, call: (key) => t.get('/v1/accounts', key) },
    { name: 'read account', allowed: ['admin', 'sales', 'finance', 'member', 'agent'], okStatus: 200, call: (key) => t.get(`/v1/accounts/${org.account}`, key) },
    { name: 'update account', allowed: ['admin', 'sales'], okStatus: 200, call: (key) => t.request('PATCH', `/v1/accounts/${org.account}`, { key, body: { name: 'Renamed' } }) },
    { name: 'create unit', allowed: ['admin', 'finance'], okStatus: 201, call: (key) => t.post(`/v1/accounts/${org.account}/units`, { id: `u-${Math.random().toString(36).slice(2, 10)}`, name: 'u', kind: 'team' }, key) },
    { name: 'read org tree', allowed: ['admin', 'sales', 'finance', 'member', 'agent'], okStatus: 200, call: (key) => t.get(`/v1/accounts/${org.account}/people`, key) },
    { name: 'create person', allowed: ['admin', 'finance'], okStatus: 201, call: (key) => t.post(`/v1/accounts/${org.account}/people`, { id: `p-${Math.random().toString(36).slice(2, 10)}`, name: 'p', unit_id: org.unit }, key) },
    { name: 'current key', allowed: ['admin', 'sales', 'finance', 'member', 'agent'], okStatus: 200, call: (key) => t.get('/v1/api-keys/current', key) },
    { name: 'list api keys', allowed: ['admin', 'member'], okStatus: 200, call: (key) => t.get('/v1/api-keys', key) },
    { name: 'audit log', allowed: ['admin'], okStatus: 200, call: (key) => t.get('/v1/audit?limit=1', key) },
  ];

  for (const group of routeGroups) {
    for (const role of ROLES) {
      const allowed = group.allowed.includes(role);
      it(`${group.name}: ${role} ${allowed ? 'allowed' : 'denied'}`, async () => {
        const res = await group.call(org.keys[role]);
        expect(res.status).toBe(allowed ? group.okStatus : 403);
      });
    }
  }

  it('issuing keys: only an admin, or a person for their own agents', async () => {
    for (const role of ['sales', 'finance', 'agent'] as const) {
      const res = await t.post('/v1/api-keys', { role: 'agent', account: org.account, agent_id: org.agent, name: 'x' }, org.keys[role]);
      expect(res.status).toBe(403);
    }
    const own = await t.post('/v1/api-keys', { role: 'agent', agent_id: org.agent, name: 'mine' }, org.keys.member);
    expect(own.status).toBe(201);
    expect(own.body).toMatchObject({ role: 'agent', account: org.account, agent_id: org.agent });
    const colleague = await newPerson(t, org.account, org.unit);
    const theirAgent = await newAgent(t, org.account, colleague.id);
    const notMine = await t.post('/v1/api-keys', { role: 'agent', agent_id: theirAgent.id, name: 'x' }, org.keys.member);
    expect(notMine.status).toBe(400);
    expect(notMine.body.error).toMatchObject({ code: 'invalid_key_request', field: 'agent_id' });
    const escalate = await t.post('/v1/api-keys', { role: 'finance', name: 'x' }, org.keys.member);
    expect(escalate.status).toBe(403);
  });

  it('tells a key what it is: its role and what it is bound to (how the console learns its account)', async () => {
    const member = await t.get('/v1/api-keys/current', org.keys.member);
    expect(member.body).toMatchObject({ role: 'member', account: org.account, person_id: org.person, agent_id: null, revoked_at: null });
    const agent = await t.get('/v1/api-keys/current', org.keys.agent);
    expect(agent.body).toMatchObject({ role: 'agent', account: org.account, agent_id: org.agent });
    const sales = await t.get('/v1/api-keys/current', org.keys.sales);
    expect(sales.body).toMatchObject({ role: 'sales', account: null, person_id: null });
    expect(JSON.stringify(member.body)).not.toContain(org.keys.member.split('_').pop());
  });

  it('shows a secret once and stores only a digest', async () => {
    const key = await newKey(t, { role: 'finance', account: org.account });
    expect(key.secret).toMatch(/^tm_live_[A-Za-z0-9]{16}_[A-Za-z0-9]{40}$/);
    const listed = await t.get(`/v1/api-keys?account=${org.account}`);
    const row = listed.body.data.find((k: { id: string }) => k.id === key.id);
    expect(row).toBeDefined();
    expect(JSON.stringify(listed.body)).not.toContain(key.secret);
    const { DataSource } = await import('typeorm');
    const rows = await t.app.get(DataSource).query('SELECT secret_digest FROM api_keys WHERE id = $1', [key.id]);
    expect(Buffer.from(rows[0].secret_digest).toString('hex')).toHaveLength(64);
    expect(Buffer.from(rows[0].secret_digest).toString('utf8')).not.toContain(key.secret.slice(-40));
  });

  describe('another account', () => {
    it.each(['finance', 'member', 'agent'] as const)('a %s key of account A reading account B gets 404', async (role) => {
      for (const path of ['', '/people', '/units', '/agents', `/people/${other.person}`]) {
        const res = await t.get(`/v1/accounts/${other.account}${path}`, org.keys[role]);
        expect(res.status).toBe(404);
        expect(JSON.stringify(res.body)).not.toContain(other.person);
      }
    });

    it('another account is answered with the code a missing account gets, for every key', async () => {
      const missing = await t.get('/v1/accounts/no-such-account/units');
      expect([missing.status, missing.body.error.code]).toEqual([404, 'account_not_found']);
      for (const role of ['finance', 'member', 'agent'] as const) {
        for (const account of [other.account, 'no-such-account']) {
          const res = await t.get(`/v1/accounts/${account}/units`, org.keys[role]);
          expect([role, res.status, res.body.error]).toEqual([role, 404, { code: 'account_not_found', message: `Account "${account}" was not found.`, request_id: expect.any(String) }]);
        }
      }
      const key = await t.post('/v1/api-keys', { role: 'finance', account: 'no-such-account', name: 'x' });
      expect([key.status, key.body.error.code, key.body.error.field]).toEqual([404, 'account_not_found', 'account']);
    });

    it('a finance key of account A cannot change account B', async () => {
      const res = await t.post(`/v1/accounts/${other.account}/units`, { id: 'intruder', name: 'x', kind: 'team' }, org.keys.finance);
      expect(res.status).toBe(404);
      expect((await t.get(`/v1/accounts/${other.account}/units`)).body.data.map((u: { id: string }) => u.id)).not.toContain('intruder');
    });

    it('a member cannot revoke another account\'s agent key (404, key still works)', async () => {
      const victim = await newKey(t, { role: 'agent', account: other.account, agent_id: other.agent });
      const res = await t.request('DELETE', `/v1/api-keys/${victim.id}`, { key: org.keys.member });
      expect(res.status).toBe(404);
      expect((await t.get(`/v1/accounts/${other.account}`, victim.secret)).status).toBe(200);
    });
  });

  describe('authentication', () => {
    it('refuses a missing, malformed or unknown key with 401', async () => {
      expect((await t.get(`/v1/accounts/${org.account}`, null)).body.error.code).toBe('missing_api_key');
      const malformed = await t.request('GET', `/v1/accounts/${org.account}`, { key: null, headers: { authorization: 'Basic abc' } });
      expect(malformed.status).toBe(401);
      const unknown = await t.get(`/v1/accounts/${org.account}`, `tm_live_${'A'.repeat(16)}_${'b'.repeat(40)}`);
      expect(unknown.status).toBe(401);
      expect(unknown.body.error.code).toBe('invalid_api_key');
      const tampered = org.keys.finance.slice(0, -1) + (org.keys.finance.endsWith('a') ? 'b' : 'a');
      expect((await t.get(`/v1/accounts/${org.account}`, tampered)).status).toBe(401);
    });

    it('revocation takes effect at once and is audited', async () => {
      const key = await newKey(t, { role: 'finance', account: org.account });
      expect((await t.get(`/v1/accounts/${org.account}`, key.secret)).status).toBe(200);
      const revoked = await t.request('DELETE', `/v1/api-keys/${key.id}`);
      expect(revoked.status).toBe(200);
      expect(revoked.body.revoked_at).not.toBeNull();
      const after = await t.get(`/v1/accounts/${org.account}`, key.secret);
      expect(after.status).toBe(401);
      expect(after.body.error.code).toBe('revoked_api_key');
      const audit = await t.get('/v1/audit?entity_type=api_key&limit=1000');
      expect(audit.body.data.some((r: { action: string; entity_id: string }) => r.action === 'api_key.revoke' && r.entity_id === key.id)).toBe(true);
    });

    it('a person lists the keys of their own agents only, to find the one to revoke', async () => {
      const o = await newOrg(t);
      const colleague = await newPerson(t, o.account, o.unit);
      const theirAgent = await newAgent(t, o.account, colleague.id);
      await newKey(t, { role: 'agent', account: o.account, agent_id: theirAgent.id });
      const mine = await t.post('/v1/api-keys', { role: 'agent', agent_id: o.agent, name: 'ci runner' }, o.keys.member);
      const listed = await t.get('/v1/api-keys', o.keys.member);
      expect(listed.status).toBe(200);
      // The agent key newOrg issued and the one just issued (this app's clock stands still: both issued at one
      // instant): no member, finance or colleague's key.
      const rows = listed.body.data.map((k: { id: string; role: string; agent_id: string | null; name: string }) => [k.role, k.agent_id, k.name, k.id === mine.body.id]);
      expect(rows.sort()).toEqual([
        ['agent', o.agent, 'agent key', false],
        ['agent', o.agent, 'ci runner', true],
      ]);
      expect(JSON.stringify(listed.body)).not.toContain('secret');
      expect((await t.get(`/v1/api-keys?account=${o.account}`, o.keys.member)).status).toBe(200);
      const other = await t.get(`/v1/api-keys?account=${org.account}`, o.keys.member);
      expect([other.status, other.body.error?.code]).toEqual([404, 'account_not_found']);
    });

    it('a person can revoke the keys of their own agents only', async () => {
      const own = await t.post('/v1/api-keys', { role: 'agent', agent_id: org.agent, name: 'short-lived' }, org.keys.member);
      expect((await t.request('DELETE', `/v1/api-keys/${own.body.id}`, { key: org.keys.member })).status).toBe(200);
      const finance = await newKey(t, { role: 'finance', account: org.account });
      expect((await t.request('DELETE', `/v1/api-keys/${finance.id}`, { key: org.keys.member })).status).toBe(404);
    });
  });

  describe('agent keys act within their owner', () => {
    it('records the person an agent acts for in the audit log', async () => {
      const account = await newAccount(t);
      const unit = await newUnit(t, account.id);
      const person = await newPerson(t, account.id, unit.id);
      const member = await newKey(t, { role: 'member', account: account.id, person_id: person.id });
      // A member creating their own agent, then acting through it: the audit names both.
      const agentRes = await t.post(`/v1/accounts/${account.id}/agents`, { id: 'helper', name: 'helper', owner_person_id: person.id }, member.secret);
      expect(agentRes.status).toBe(201);
      const audit = await t.get(`/v1/audit?account=${account.id}&entity_type=agent`);
      expect(audit.body.data[0]).toMatchObject({ action: 'agent.create', actor_role: 'member', actor_key_id: member.id });
    });

    it('a member cannot create an agent for someone else', async () => {
      const colleague = await newPerson(t, org.account, org.unit);
      const res = await t.post(`/v1/accounts/${org.account}/agents`, { id: 'sneaky', name: 'x', owner_person_id: colleague.id }, org.keys.member);
      expect([res.status, res.body.error.code, res.body.error.field]).toEqual([403, 'forbidden', 'owner_person_id']);
      expect(res.body.error.message).toContain(org.person);
      expect((await t.get(`/v1/accounts/${org.account}/agents/sneaky`, t.adminKey)).status).toBe(404);
    });

    it('stops working when its owner is deactivated, and so does the owner\'s key', async () => {
      const person = await newPerson(t, org.account, org.unit);
      const agent = await newAgent(t, org.account, person.id);
      const memberKey = await newKey(t, { role: 'member', account: org.account, person_id: person.id });
      const agentKey = await newKey(t, { role: 'agent', account: org.account, agent_id: agent.id });
      expect((await t.get(`/v1/accounts/${org.account}`, agentKey.secret)).status).toBe(200);
      expect((await t.request('DELETE', `/v1/accounts/${org.account}/people/${person.id}`, { key: org.keys.finance })).status).toBe(200);
      const agentAfter = await t.get(`/v1/accounts/${org.account}`, agentKey.secret);
      expect(agentAfter.status).toBe(401);
      expect(agentAfter.body.error.code).toBe('inactive_key_owner');
      expect((await t.get(`/v1/accounts/${org.account}`, memberKey.secret)).status).toBe(401);
      // And no new key can be issued for the inactive person's agent.
      const reissue = await t.post('/v1/api-keys', { role: 'agent', account: org.account, agent_id: agent.id, name: 'x' });
      expect(reissue.status).toBe(201); // the agent itself is still active...
      expect((await t.get(`/v1/accounts/${org.account}`, reissue.body.secret)).status).toBe(401); // ...but acts for nobody
    });

    it('stops working when the agent is deactivated', async () => {
      const agent = await newAgent(t, org.account, org.person);
      const agentKey = await newKey(t, { role: 'agent', account: org.account, agent_id: agent.id });
      expect((await t.request('DELETE', `/v1/accounts/${org.account}/agents/${agent.id}`, { key: org.keys.finance })).status).toBe(200);
      expect((await t.get(`/v1/accounts/${org.account}`, agentKey.secret)).status).toBe(401);
    });

    it('every route open to agents is open to members too', async () => {
      const { Reflector } = await import('@nestjs/core');
      const { ALLOW_ROLES } = await import('../src/auth/access.decorators.js');
      const doc = await t.get('/docs-json', null);
      expect(doc.status).toBe(200);
      const reflector = t.app.get(Reflector);
      const controllers = [
        (await import('../src/accounts/accounts.controller.js')).AccountsController,
        (await import('../src/auth/api-keys.controller.js')).ApiKeysController,
        (await import('../src/audit/audit.controller.js')).AuditController,
      ];
      let checked = 0;
      for (const controller of controllers) {
        for (const name of Object.getOwnPropertyNames(controller.prototype)) {
          const handler = (controller.prototype as unknown as Record<string, () => unknown>)[name]!;
          const roles = reflector.get<string[] | undefined>(ALLOW_ROLES, handler);
          if (!roles?.includes('agent')) continue;
          checked++;
          expect(roles).toContain('member');
        }
      }
      expect(checked).toBeGreaterThan(0);
    });
  });
});
