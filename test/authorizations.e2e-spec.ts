// POST /v1/authorizations and DELETE /v1/authorizations/:id end to end, on whichever counters engine the
// environment gives (Redis with PostgreSQL, or PostgreSQL alone).
import { ManualClock } from '../src/clock/clock.js';
import { setBudget, TestBudgetsModule } from './support/budgets.js';
import { setupPricing } from './support/metering.js';
import { newOrg, startTestApp, type TestApp } from './support/test-app.js';

const NOW = '2026-03-15T12:00:00.000Z';

describe('authorizations', () => {
  let t: TestApp;
  let clock: ManualClock;
  let org: Awaited<ReturnType<typeof newOrg>>;
  const authorize = (body: unknown, key = org.keys.agent) => t.post('/v1/authorizations', body, key);

  beforeAll(async () => {
    clock = new ManualClock(NOW);
    t = await startTestApp({ clock, extraModules: [TestBudgetsModule] });
    org = await newOrg(t);
    await setupPricing(t, org.account);
    await setBudget(t, org.account, `budget/person:${org.person}/month:2026-03-01`, { amount: '1.00' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('holds an amount, denies what no longer fits, and releases', async () => {
    const first = await authorize({ amount: '0.30' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ allowed: true, expires_at: '2026-03-15T12:10:00.000Z' });
    expect(first.body.levels).toEqual([
      expect.objectContaining({ level: `budget/person:${org.person}/month:2026-03-01`, kind: 'budget', limit: { amount: '1', tokens: null }, left: { amount: '0.7', tokens: null } }),
    ]);
    const second = await authorize({ amount: '0.80' });
    expect(second.body).toMatchObject({ allowed: false, denied_by: { level: `budget/person:${org.person}/month:2026-03-01`, measure: 'amount', short_by: '0.1' } });
    const released = await t.request('DELETE', `/v1/authorizations/${first.body.reservation_id}`, { key: org.keys.agent });
    expect(released.body).toEqual({ reservation_id: first.body.reservation_id, status: 'released' });
    expect((await authorize({ amount: '0.80' })).body.allowed).toBe(true);
  });
});
