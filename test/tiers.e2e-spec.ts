// Tiers and plans end to end: catalog, price books (immutable versions, past effective_from only as an
// audited correction), plan versions and rollback, subscriptions, roles, and the pricing cache.
import { ManualClock } from '../src/clock/clock.js';
import { PricingCacheService } from '../tiers/pricing/pricing-cache.service.js';
import { newAccount, newOrg, startTestApp, type TestApp } from './support/test-app.js';

type Org = Awaited<ReturnType<typeof newOrg>>;

const rates = (input: string, output: string) => ({ input, output });
const book = (effective_from: string, basePrice = '1', extra: Record<string, unknown> = {}) => ({
  effective_from,
  tiers: { base: rates(basePrice, '2'), specialized: rates('3', '6'), premier: rates('10', '30') },
  ...extra,
});
const plan = (extra: Record<string, unknown> = {}) => ({
  name: 'Team',
  currency: 'EUR',
  base_fee: '99.00',
  included_allowance: '50.000000000001',
  overage_policy: 'bill',
  topup_packs: [{ id: 'small', allowance: '10', price: '9.50', validity_days: 90 }],
  tier_caps: { premier: 1_000_000 },
  volume_discount: [
    { up_to: '1000', discount_pct: '0' },
    { up_to: null, discount_pct: '5' },
  ],
  ineffective_credit_pct: '50',
  ...extra,
});
const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
const USAGE = { input: 1_000_000, cached_input: 0, cache_write: 0, output: 0, reasoning: 0 };

describe('tiers and plans', () => {
  let t: TestApp;
  let clock: ManualClock;
  let org: Org;

  beforeAll(async () => {
    clock = new ManualClock('2026-03-15T12:00:00.000Z');
    t = await startTestApp({ clock });
    org = await newOrg(t);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  describe('roles', () => {
    const writes: { name: string; ok: number; call: (key: string) => Promise<{ status: number; text: string }> }[] = [
      { name: 'put model', ok: 200, call: (key) => t.request('PUT', `/v1/models/${unique('m')}`, { key, body: { tier: 'base', provider: 'acme' } }) },
      { name: 'post price book', ok: 201, call: (key) => t.post('/v1/price-books', book('2027-01-01T00:00:00Z'), key) },
      { name: 'put plan', ok: 200, call: (key) => t.request('PUT', `/v1/plans/${unique('p')}`, { key, body: plan() }) },
    ];
    for (const w of writes) {
      for (const role of ['admin', 'sales'] as const) {
        it(`${w.name}: ${role} allowed`, async () => {
          const res = await w.call(org.keys[role]);
          expect(res.status).toBe(w.ok);
        });
      }
      for (const role of ['finance', 'member', 'agent'] as const) {
        it(`${w.name}: ${role} denied`, async () => {
          expect((await w.call(org.keys[role])).status).toBe(403);
        });
      }
    }

    it('subscriptions, rollback: only sales and admin write; finance and member read their own; other accounts are 404', async () => {
      const planId = unique('p');
      expect((await t.request('PUT', `/v1/plans/${planId}`, { body: plan() })).status).toBe(200);
      for (const role of ['finance', 'member', 'agent'] as const) {
        const put = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { key: org.keys[role], body: { plan_id: planId } });
        expect(put.status).toBe(403);
        const rb = await t.post(`/v1/plans/${planId}/rollback`, { version: 1 }, org.keys[role]);
        expect(rb.status).toBe(403);
      }
      const put = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { key: org.keys.sales, body: { plan_id: planId } });
      expect(put.status).toBe(200);
      for (const role of ['finance', 'member'] as const) {
        const sub = await t.get(`/v1/accounts/${org.account}/subscription`, org.keys[role]);
        expect(sub.status).toBe(200);
        expect(sub.body).toMatchObject({ plan_id: planId, plan_version: 'latest', plan: { version: 1, base_fee: '99.00' } });
        expect((await t.get(`/v1/plans/${planId}`, org.keys[role])).status).toBe(200);
        expect((await t.get(`/v1/plans/${planId}/versions`, org.keys[role])).status).toBe(200);
        expect((await t.get('/v1/price-books', org.keys[role])).status).toBe(200);
        expect((await t.get('/v1/models', org.keys[role])).status).toBe(200);
      }
      expect((await t.get(`/v1/accounts/${org.account}/subscription`, org.keys.agent)).status).toBe(403);

      const other = await newOrg(t);
      await t.request('PUT', `/v1/accounts/${other.account}/subscription`, { body: { plan_id: planId } });
      const otherPlan = unique('p');
      await t.request('PUT', `/v1/plans/${otherPlan}`, { body: plan() });
      for (const role of ['finance', 'member'] as const) {
        const res = await t.get(`/v1/accounts/${other.account}/subscription`, org.keys[role]);
        expect(res.status).toBe(404);
        // A plan the caller's account is not on is invisible to customers.
        expect((await t.get(`/v1/plans/${otherPlan}`, org.keys[role])).status).toBe(404);
        expect((await t.get('/v1/plans', org.keys[role])).status).toBe(403);
      }
    });
  });

  describe('catalog', () => {
    it('stores models and resolves aliases and dated snapshots deterministically', async () => {
      const put = await t.request('PUT', '/v1/models/gpt-4o', { key: org.keys.sales, body: { tier: 'specialized', provider: 'openai', aliases: ['gpt-4o-latest'] } });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({ id: 'gpt-4o', tier: 'specialized', provider: 'openai', aliases: ['gpt-4o-latest'] });
      expect((await t.get('/v1/models/gpt-4o')).body).toMatchObject({ id: 'gpt-4o', tier: 'specialized' });
      expect((await t.get('/v1/models/gpt-4o-latest')).body).toMatchObject({ id: 'gpt-4o', matched_by: 'alias' });
      expect((await t.get('/v1/models/gpt-4o-2024-08-06')).body).toMatchObject({ id: 'gpt-4o', matched_by: 'snapshot_id' });
      expect((await t.get('/v1/models/gpt-5')).status).toBe(404);
      const list = await t.get('/v1/models');
      expect(list.body.data.map((m: { id: string }) => m.id)).toContain('gpt-4o');
    });

    it('refuses an alias that names another model, and an unknown tier', async () => {
      await t.request('PUT', '/v1/models/claude-x', { body: { tier: 'premier', provider: 'anthropic' } });
      const clash = await t.request('PUT', '/v1/models/other-model', { body: { tier: 'base', provider: 'x', aliases: ['claude-x'] } });
      expect(clash.status).toBe(409);
      expect(clash.body.error).toMatchObject({ code: 'model_name_conflict', name: 'claude-x' });
      const tier = await t.request('PUT', '/v1/models/gold-model', { body: { tier: 'gold', provider: 'x' } });
      expect(tier.status).toBe(400);
      expect(tier.body.error).toMatchObject({ code: 'unknown_tier', field: 'tier' });
      const extra = await t.request('PUT', '/v1/models/m1', { body: { tier: 'base', provider: 'x', price: '1' } });
      expect(extra.body.error).toMatchObject({ code: 'unknown_field', field: 'price' });
    });

    it('audits a model change with before and after', async () => {
      await t.request('PUT', '/v1/models/audited-model', { body: { tier: 'base', provider: 'x' } });
      await t.request('PUT', '/v1/models/audited-model', { body: { tier: 'premier', provider: 'x' } });
      const audit = await t.get('/v1/audit?entity_type=model&limit=1000');
      const rows = audit.body.data.filter((r: { entity_id: string }) => r.entity_id === 'audited-model');
      expect(rows.map((r: { action: string }) => r.action)).toEqual(['model.create', 'model.update']);
      expect(rows[1]).toMatchObject({ before: { tier: 'base' }, after: { tier: 'premier' } });
    });
  });

  describe('price books', () => {
    it('keeps decimal strings with 12 places and versions every publication', async () => {
      const res = await t.post('/v1/price-books', book('2026-04-01T00:00:00Z', '0.000000000001', { models: { 'gpt-4o': { output: '12.500000000000' } } }), org.keys.sales);
      expect(res.status).toBe(201);
      expect(res.body.tiers.base.input).toBe('0.000000000001');
      expect(res.body.models['gpt-4o'].output).toBe('12.500000000000');
      const again = await t.get(`/v1/price-books/${res.body.version}`, org.keys.finance);
      expect(again.body).toMatchObject({ version: res.body.version, effective_from: '2026-04-01T00:00:00Z', correction: false });
      const list = await t.get('/v1/price-books?limit=1000');
      const versions = list.body.data.map((b: { version: number }) => b.version);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      const inForce = await t.get('/v1/price-books?at=2026-04-01T00:00:00Z');
      expect(inForce.body.data[0].version).toBeGreaterThanOrEqual(res.body.version);
    });

    it.each<[string, Record<string, unknown>, string, string]>([
      ['negative price', book('2027-02-01T00:00:00Z', '-1'), 'invalid_decimal', 'tiers.base.input'],
      ['non-numeric price', book('2027-02-01T00:00:00Z', 'cheap'), 'invalid_decimal', 'tiers.base.input'],
      ['number price', book('2027-02-01T00:00:00Z', 1 as unknown as string), 'invalid_decimal', 'tiers.base.input'],
      ['13 decimal places', book('2027-02-01T00:00:00Z', '0.0000000000001'), 'invalid_decimal', 'tiers.base.input'],
      [
        'unknown tier',
        { effective_from: '2027-02-01T00:00:00Z', tiers: { ...book('x').tiers, gold: rates('1', '1') } },
        'unknown_tier',
        'tiers.gold',
      ],
      ['bad timestamp', book('next tuesday'), 'invalid_pricing', 'effective_from'],
      ['rates for a model not in the catalog (a typo)', book('2027-02-01T00:00:00Z', '1', { models: { 'gpt-4oo': { input: '1' } } }), 'unknown_model', 'models.gpt-4oo'],
      [
        'long-context rates for a model not in the catalog',
        book('2027-02-01T00:00:00Z', '1', { long_context: { threshold_tokens: 200000, models: { nope: { input: '1' } } } }),
        'unknown_model',
        'long_context.models.nope',
      ],
    ])('refuses %s', async (_name, body, code, field) => {
      const res = await t.post('/v1/price-books', body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code, field });
    });

    it('refuses a past effective_from unless marked as a correction, which is audited', async () => {
      const past = '2026-03-01T00:00:00Z';
      const refused = await t.post('/v1/price-books', book(past, '5'), org.keys.sales);
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({ code: 'effective_from_in_past', field: 'effective_from' });
      expect(refused.body.error.message).toContain('correction');

      const accepted = await t.post('/v1/price-books', book(past, '5', { correction: true, reason: 'wrong base price in March' }), org.keys.sales);
      expect(accepted.status).toBe(201);
      expect(accepted.body).toMatchObject({ correction: true, reason: 'wrong base price in March', effective_from: past });
      const audit = await t.get('/v1/audit?entity_type=price_book&limit=1000');
      const row = audit.body.data.find((r: { entity_id: string }) => r.entity_id === String(accepted.body.version));
      expect(row).toMatchObject({ action: 'price_book.correction', actor_role: 'sales', after: { correction: true, effective_from: past } });
      expect(audit.body.verification.valid).toBe(true);
    });
  });

  describe('pricing cache', () => {
    it('prices two events of the same hour by the version in force at each', async () => {
      const cache = t.app.get(PricingCacheService);
      await t.request('PUT', '/v1/models/hourly-model', { body: { tier: 'base', provider: 'x', aliases: ['hourly'] } });
      const v1 = await t.post('/v1/price-books', book('2030-06-01T10:00:00Z', '2'));
      const v2 = await t.post('/v1/price-books', book('2030-06-01T10:30:00.000000001Z', '3'));
      expect([v1.status, v2.status]).toEqual([201, 201]);

      const early = await cache.priceEvent(USAGE, 'hourly-model-2025-01-01', '2030-06-01T10:29:59.999Z');
      const late = await cache.priceEvent(USAGE, 'hourly', '2030-06-01T10:45:00Z');
      expect(early).toMatchObject({ status: 'priced', book_version: v1.body.version, model: { id: 'hourly-model', tier: 'base' } });
      expect(late).toMatchObject({ status: 'priced', book_version: v2.body.version, model: { id: 'hourly-model', matched_by: 'alias' } });
      if (early.status !== 'priced' || late.status !== 'priced') throw new Error('unpriced');
      expect(early.priced.total).toBe('2.000000000000');
      expect(late.priced.total).toBe('3.000000000000');

      const lookup = await cache.lookup('hourly-model', new Date('2030-06-01T10:31:00Z'));
      expect(lookup).toMatchObject({ model: { id: 'hourly-model', tier: 'base' }, book: { version: v2.body.version } });
      expect(await cache.priceEvent(USAGE, 'no-such-model', '2030-06-01T10:45:00Z')).toMatchObject({ status: 'unknown_model', model: null });
    });

    it('sees a change made in this process at once', async () => {
      const cache = t.app.get(PricingCacheService);
      expect((await cache.lookup('fresh-model', '2030-01-01T00:00:00Z')).model).toBeNull();
      await t.request('PUT', '/v1/models/fresh-model', { body: { tier: 'premier', provider: 'x' } });
      expect((await cache.lookup('fresh-model', '2030-01-01T00:00:00Z')).model).toMatchObject({ id: 'fresh-model', tier: 'premier' });
    });

    const shared = process.env.DATABASE_URL ? it : it.skip;
    shared('another process on the same database sees a new version within one second', async () => {
      // Same admin key: the second start would otherwise replace the bootstrap key the first app's requests use.
      const other = await startTestApp({ databaseUrl: t.config.databaseUrl, clock, env: { TOKENMETER_ADMIN_KEY: t.adminKey } });
      try {
        const theirs = other.app.get(PricingCacheService);
        await theirs.lookup('x', '2031-01-01T00:00:00Z'); // warm: now it trusts its snapshot for 500 ms
        const published = await t.post('/v1/price-books', book('2031-01-01T00:00:00Z', '7'));
        expect(published.status).toBe(201);
        const started = Date.now();
        let seen: number | null = null;
        while (Date.now() - started < 3000) {
          seen = (await theirs.lookup('x', '2031-06-01T00:00:00Z')).book?.version ?? null;
          if (seen === published.body.version) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(seen).toBe(published.body.version);
        expect(Date.now() - started).toBeLessThan(1000);
      } finally {
        await other.close();
      }
    });
  });

  describe('plans', () => {
    it('versions every change and a rollback restores an old version exactly, audited', async () => {
      const id = unique('plan');
      const v1 = await t.request('PUT', `/v1/plans/${id}`, { key: org.keys.sales, body: plan() });
      expect(v1.status).toBe(200);
      expect(v1.body).toMatchObject({ version: 1, base_fee: '99.00', included_allowance: '50.000000000001', ineffective_credit_pct: '50' });
      const v2 = await t.request('PUT', `/v1/plans/${id}`, {
        key: org.keys.sales,
        body: plan({ base_fee: '149', overage_policy: 'block', topup_packs: [], tier_caps: null, volume_discount: null }),
      });
      expect(v2.body).toMatchObject({ version: 2, base_fee: '149', overage_policy: 'block', tier_caps: null, volume_discount: null });

      const rb = await t.post(`/v1/plans/${id}/rollback`, { version: 1 }, org.keys.sales);
      expect(rb.status).toBe(201);
      expect(rb.body).toMatchObject({ version: 3, rolled_back_from: 1 });
      const terms = (v: Record<string, unknown>) => {
        const { version: _v, created_at: _c, rolled_back_from: _r, created_by: _b, ...rest } = v;
        return rest;
      };
      expect(terms(rb.body)).toEqual(terms(v1.body));

      const latest = await t.get(`/v1/plans/${id}`);
      expect(latest.body).toMatchObject({ version: 3, base_fee: '99.00' });
      const versions = await t.get(`/v1/plans/${id}/versions`);
      expect(versions.body.data.map((v: { version: number }) => v.version)).toEqual([1, 2, 3]);
      expect((await t.get(`/v1/plans/${id}/versions/2`)).body).toMatchObject({ base_fee: '149' });

      const audit = await t.get('/v1/audit?entity_type=plan&limit=1000');
      const rows = audit.body.data.filter((r: { entity_id: string }) => r.entity_id === id);
      expect(rows.map((r: { action: string }) => r.action)).toEqual(['plan.create', 'plan.version', 'plan.rollback']);
      expect(rows[2]).toMatchObject({ before: { version: 2 }, after: { version: 3, rolled_back_from: 1 } });
      expect((await t.post(`/v1/plans/${id}/rollback`, { version: 9 })).status).toBe(404);
    });

    it.each<[string, Record<string, unknown>, string, string]>([
      ['negative fee', { base_fee: '-10' }, 'invalid_decimal', 'base_fee'],
      ['non-numeric allowance', { included_allowance: 'plenty' }, 'invalid_decimal', 'included_allowance'],
      ['13 dp', { included_allowance: '1.0000000000001' }, 'invalid_decimal', 'included_allowance'],
      [
        'overlapping volume tiers',
        { volume_discount: [{ up_to: '1000', discount_pct: '0' }, { from: '500', up_to: null, discount_pct: '5' }] },
        'invalid_volume_discount',
        'volume_discount[1].from',
      ],
      [
        'unsorted volume tiers',
        { volume_discount: [{ up_to: '1000', discount_pct: '0' }, { up_to: '500', discount_pct: '5' }, { up_to: null, discount_pct: '9' }] },
        'invalid_volume_discount',
        'volume_discount[1].up_to',
      ],
      ['unknown cap tier', { tier_caps: { gold: 10 } }, 'unknown_tier', 'tier_caps.gold'],
      ['bad policy', { overage_policy: 'maybe' }, 'invalid_value', 'overage_policy'],
    ])('refuses %s', async (_name, patch, code, field) => {
      const res = await t.request('PUT', `/v1/plans/${unique('bad')}`, { body: plan(patch) });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code, field });
    });

    it('keeps a plan in one currency', async () => {
      const id = unique('plan');
      await t.request('PUT', `/v1/plans/${id}`, { body: plan() });
      const res = await t.request('PUT', `/v1/plans/${id}`, { body: plan({ currency: 'USD' }) });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'plan_currency_change' });
    });
  });

  describe('subscriptions', () => {
    it('follows the latest version or stays pinned, with audited overrides', async () => {
      const id = unique('plan');
      await t.request('PUT', `/v1/plans/${id}`, { body: plan() });
      const a = await newAccount(t, { currency: 'EUR' });
      const b = await newAccount(t, { currency: 'EUR' });
      const follow = await t.request('PUT', `/v1/accounts/${a.id}/subscription`, {
        key: org.keys.sales,
        body: { plan_id: id, start_date: '2026-03-31' },
      });
      expect(follow.status).toBe(200);
      expect(follow.body).toMatchObject({ plan_version: 'latest', follows_latest: true, start_date: '2026-03-31', billing_anchor_day: 28 });
      const pinned = await t.request('PUT', `/v1/accounts/${b.id}/subscription`, {
        key: org.keys.sales,
        body: { plan_id: id, plan_version: 1, billing_anchor_day: 5, overrides: { included_allowance: '500', tier_caps: null } },
      });
      expect(pinned.status).toBe(200);
      expect(pinned.body).toMatchObject({
        plan_version: 1,
        start_date: '2026-03-15',
        billing_anchor_day: 5,
        effective_terms: { included_allowance: '500', tier_caps: null, base_fee: '99.00' },
      });

      await t.request('PUT', `/v1/plans/${id}`, { body: plan({ base_fee: '120' }) });
      expect((await t.get(`/v1/accounts/${a.id}/subscription`)).body).toMatchObject({ plan: { version: 2, base_fee: '120' } });
      expect((await t.get(`/v1/accounts/${b.id}/subscription`)).body).toMatchObject({ plan: { version: 1, base_fee: '99.00' } });

      const audit = await t.get(`/v1/audit?account=${b.id}&entity_type=subscription`);
      expect(audit.body.data[0]).toMatchObject({
        action: 'subscription.create',
        actor_role: 'sales',
        before: null,
        after: { plan_id: id, overrides: { included_allowance: '500', tier_caps: null }, resolved_plan_version: 1 },
      });
    });

    it('refuses a plan in another currency than the account, and unknown plans or versions', async () => {
      const id = unique('plan');
      await t.request('PUT', `/v1/plans/${id}`, { body: plan({ currency: 'USD' }) });
      const mismatch = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { plan_id: id } });
      expect(mismatch.status).toBe(400);
      expect(mismatch.body.error).toMatchObject({ code: 'currency_mismatch', plan_currency: 'USD', account_currency: 'EUR' });
      const missing = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { plan_id: 'no-such-plan' } });
      expect(missing.body.error).toMatchObject({ code: 'unknown_plan', field: 'plan_id' });
      const eur = unique('plan');
      await t.request('PUT', `/v1/plans/${eur}`, { body: plan() });
      // A typo of a published plan's id is told the plan it was probably meant to be.
      const typo = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { plan_id: `${eur.slice(0, -1)}` } });
      expect(typo.body.error).toMatchObject({ code: 'unknown_plan', field: 'plan_id', message: `Plan "${eur.slice(0, -1)}" does not exist. Did you mean "${eur}"?` });
      const version = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { plan_id: eur, plan_version: 4 } });
      expect(version.body.error).toMatchObject({ code: 'unknown_plan_version', field: 'plan_version' });
      const anchor = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { plan_id: eur, billing_anchor_day: 29 } });
      expect(anchor.body.error).toMatchObject({ field: 'billing_anchor_day' });
      const override = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, {
        body: { plan_id: eur, overrides: { volume_discount: [{ up_to: '10', discount_pct: '1' }, { up_to: '5', discount_pct: '2' }] } },
      });
      expect(override.body.error).toMatchObject({ code: 'invalid_volume_discount', field: 'overrides.volume_discount[1].up_to' });
      const noAccount = await t.request('PUT', '/v1/accounts/nobody-here/subscription', { body: { plan_id: eur } });
      expect(noAccount.status).toBe(404);
    });
  });
});
