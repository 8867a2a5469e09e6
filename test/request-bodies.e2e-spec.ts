// The request bodies the clients send, as the document shows them: real schemas where the service checks
// the inner parts in code (`described` in src/http/openapi.ts). Each example below is sent twice: to the
// document's schema, which must take it, and to the service, which must take it too; and bodies the
// document refuses are refused by the service as well (with its own sentence, unchanged). So the typed
// client never forbids what the service takes, nor allows what it refuses, for these cases.
import { documentedShape } from '../src/http/openapi.js';
import { createPriceBookSchema } from '../tiers/pricing/price-books.schemas.js';
import { putPlanSchema } from '../tiers/plans/plans.schemas.js';
import { authorizeSchema } from '../billing/authorizations/authorizations.schemas.js';
import { promotionalGrantSchema } from '../billing/credits/credits.schemas.js';
import { putBudgetSchema, transferSchema } from '../billing/budgets/budgets.schemas.js';
import { putSubscriptionSchema } from '../tiers/subscriptions/subscriptions.schemas.js';
import type { Contract } from './support/contract.js';
import { newOrg, startTestApp, type TestApp } from './support/test-app.js';

type Org = Awaited<ReturnType<typeof newOrg>>;

describe('documented request bodies', () => {
  let t: TestApp;
  let org: Org;
  let contract: Contract;

  const shapeAccepts = (name: string, body: unknown): boolean => contract.validator(`request ${name}`, { $ref: `#/components/schemas/${name}` })(body) === true;

  beforeAll(async () => {
    t = await startTestApp();
    contract = await t.contract();
    org = await newOrg(t);
    for (const [id, tier] of [['qwen-turbo', 'base'], ['gpt-4o', 'specialized']] as const) {
      expect((await t.request('PUT', `/v1/models/${id}`, { body: { tier, provider: 'test' } })).status).toBeLessThan(300);
    }
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('are documented as their shapes while the service validates the same envelopes as before', () => {
    for (const schema of [createPriceBookSchema, putPlanSchema, authorizeSchema, promotionalGrantSchema, putBudgetSchema, transferSchema, putSubscriptionSchema]) {
      expect(documentedShape(schema)).not.toBe(schema);
    }
    const doc = contract.document;
    expect(doc.paths['/v1/price-books'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreatePriceBook' });
    expect(doc.components.schemas.CreatePriceBook.properties.tiers.properties.base).toEqual({ $ref: '#/components/schemas/TokenRates' });
    expect(doc.components.schemas.Authorize.oneOf).toHaveLength(3);
  });

  it('price books: a whole book with model and long-context rates is taken by both; a tier missing is refused by both', async () => {
    const book = {
      effective_from: '2026-03-15T12:00:00Z',
      currency: 'EUR',
      tiers: {
        base: { input: '0.50', output: '1.50' },
        specialized: { input: '2.50', cached_input: '1.25', output: '10.00' },
        premier: { input: '15.00', cache_write: '18.75', output: '75.00', reasoning: '80.00' },
      },
      models: { 'gpt-4o': { output: '9.00' } },
      long_context: { threshold_tokens: 200_000, tiers: { premier: { input: '30.00' } }, models: { 'gpt-4o': { input: '5.00' } } },
    };
    expect(shapeAccepts('CreatePriceBook', book)).toBe(true);
    expect((await t.post('/v1/price-books', book)).status).toBe(201);

    const missing = { tiers: { base: book.tiers.base, specialized: book.tiers.specialized } };
    expect(shapeAccepts('CreatePriceBook', missing)).toBe(false);
    const refused = await t.post('/v1/price-books', missing);
    expect([refused.status, refused.body.error.field, refused.body.error.message]).toEqual([400, 'tiers.premier', 'tiers.premier is required']);
  });

  it('plans and subscriptions: caps and a discount ladder as schemas', async () => {
    const plan = {
      currency: 'EUR',
      base_fee: '100.00',
      included_allowance: '50.00',
      overage_policy: 'bill',
      tier_caps: { premier: 1_000_000 },
      volume_discount: [
        { up_to: '1000', discount_pct: '0' },
        { from: '1000', up_to: null, discount_pct: '10' },
      ],
      topup_packs: [{ id: 'small', allowance: '50.00', price: '45.00', validity_days: 90 }],
    };
    expect(shapeAccepts('PutPlan', plan)).toBe(true);
    expect((await t.request('PUT', '/v1/plans/shaped', { body: plan })).status).toBe(200);
    const badCaps = { ...plan, tier_caps: { ultra: 5 } };
    expect(shapeAccepts('PutPlan', badCaps)).toBe(false);
    const refused = await t.request('PUT', '/v1/plans/shaped', { body: badCaps });
    expect([refused.status, refused.body.error.field]).toEqual([400, 'tier_caps.ultra']);

    const subscription = { plan_id: 'shaped', start_date: '2026-03-01', overrides: { included_allowance: '60.00', tier_caps: null, volume_discount: [{ up_to: null, discount_pct: '5' }] } };
    expect(shapeAccepts('PutSubscription', subscription)).toBe(true);
    expect((await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: subscription })).status).toBeLessThan(300);
  });

  it('authorizations: each of the three estimates is one variant; two at once fit none and are refused', async () => {
    const amount = { amount: '0.50', tokens: 1000, operation: 'code.edit' };
    const usage = { usage: { input: 1000, output: 200 }, model: 'gpt-4o' };
    // The usage estimate is priced by the book the price-book case above published.
    for (const body of [amount, usage]) {
      expect(shapeAccepts('Authorize', body)).toBe(true);
      const answer = await t.post('/v1/authorizations', body, org.keys.agent);
      expect([answer.status, answer.body.allowed]).toEqual([200, true]);
    }
    expect(shapeAccepts('Authorize', { estimate: 'auto', model: 'gpt-4o' })).toBe(true);
    const both = { ...amount, ...usage };
    expect(shapeAccepts('Authorize', both)).toBe(false);
    const refused = await t.post('/v1/authorizations', both, org.keys.agent);
    expect([refused.status, refused.body.error.field]).toEqual([400, 'estimate']);
  });

  it('credit grants: an expiry by date or by days or none; both are refused by both', async () => {
    const path = `/v1/accounts/${org.account}/credits/grants`;
    for (const body of [{ amount: '10.00' }, { amount: '5', validity_days: 30, priority: 5 }, { amount: '2.5', expires_at: '2026-12-31T00:00:00Z', reason: 'promo' }]) {
      expect(shapeAccepts('CreditGrantCreate', body)).toBe(true);
      expect((await t.post(path, body, org.keys.sales)).status).toBe(201);
    }
    const both = { amount: '1.00', validity_days: 30, expires_at: '2026-12-31T00:00:00Z' };
    expect(shapeAccepts('CreditGrantCreate', both)).toBe(false);
    expect((await t.post(path, both, org.keys.sales)).body.error.code).toBe('invalid_grant');
    expect(shapeAccepts('CreditGrantCreate', { amount: '1e3' })).toBe(false);
    expect((await t.post(path, { amount: '1e3' }, org.keys.sales)).body.error.code).toBe('invalid_credit_amount');
  });

  it('budgets: amounts as decimal strings and a period start as a date', async () => {
    const put = { period: 'month', amount_limit: '100.00', headcount: 3 };
    expect(shapeAccepts('PutBudget', put)).toBe(true);
    expect((await t.request('PUT', `/v1/accounts/${org.account}/budgets/account`, { body: put, key: org.keys.finance })).status).toBe(200);
    const unit = { period: 'month', amount_limit: '40.00' };
    expect((await t.request('PUT', `/v1/accounts/${org.account}/budgets/unit:${org.unit}`, { body: unit, key: org.keys.finance })).status).toBe(200);
    const transfer = { from: `unit:${org.unit}`, to: 'account', period: 'month', amount: '10.00' };
    expect(shapeAccepts('BudgetTransfer', transfer)).toBe(true);
    expect((await t.post(`/v1/accounts/${org.account}/budgets/transfers`, transfer, org.keys.finance)).status).toBeLessThan(300);
    expect(shapeAccepts('BudgetTransfer', { ...transfer, amount: 'ten' })).toBe(false);
    expect((await t.post(`/v1/accounts/${org.account}/budgets/transfers`, { ...transfer, amount: 'ten' }, org.keys.finance)).status).toBe(400);
  });
});
