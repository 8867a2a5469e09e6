// A plan's per-tier token caps, end to end on whichever counters engine the environment gives: a hold of a
// model's tokens is held against its tier's cap for the billing period too, the account's events of that
// tier (every agent's, with or without a hold) count against it, a new billing period starts afresh, and a
// cap changed mid-period applies at once to what the period has spent.
import type { LevelView } from '../billing/authorizations/authorizations.service.js';
import { RepricingService } from '../metering/pricing/repricing.service.js';
import { ManualClock } from '../src/clock/clock.js';
import { setupPricing } from './support/metering.js';
import { newAgent, newKey, newOrg, newPerson, startTestApp, type TestApp } from './support/test-app.js';

const NOW = '2026-03-15T12:00:00.000Z';

describe('tier caps', () => {
  let t: TestApp;
  let clock: ManualClock;
  let n = 0;

  beforeAll(async () => {
    clock = new ManualClock(NOW);
    t = await startTestApp({ clock });
    // The embedded store starts slowly on a loaded machine.
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  /** An org whose plan caps `caps` tokens a billing period (anchored on the 10th) by tier. */
  async function org(caps: Record<string, number>) {
    const o = await newOrg(t);
    await setupPricing(t, o.account);
    await subscribe(o.account, caps);
    return o;
  }
  async function subscribe(account: string, caps: Record<string, number>) {
    const sub = await t.request('PUT', `/v1/accounts/${account}/subscription`, {
      body: { plan_id: 'team', start_date: '2026-01-01', billing_anchor_day: 10, overrides: { tier_caps: caps } },
    });
    expect(sub.status).toBe(200);
  }
  const authorize = async (key: string, body: unknown) => {
    const res = await t.post('/v1/authorizations', body, key);
    expect(res.status).toBe(200);
    return res.body;
  };
  /** Asks until the answer names `level`: a plan change reaches the holds' cached paths within a second. */
  async function authorizeOn(key: string, body: unknown, level: string) {
    const start = Date.now();
    for (;;) {
      const answer = await authorize(key, body);
      if (answer.denied_by?.level === level || answer.levels.some((l: LevelView) => l.level === level)) return answer;
      if (Date.now() - start > 5000) throw new Error(`no hold on ${level}: ${JSON.stringify(answer)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const opus = (input: number) => ({ model: 'claude-opus', usage: { input, output: 0 } });
  const tierLevel = (levels: LevelView[]) => levels.find((l) => l.kind === 'tier');
  async function event(key: string, model: string, input: number, extra: Record<string, unknown> = {}) {
    const res = await t.post('/v1/events', { events: [{ id: `tc-${++n}`, timestamp: clock.now().toISOString(), model, usage: { input, output: 0 }, ...extra }] }, key);
    expect(res.status).toBe(200);
    expect(res.body.results[0].status).toBe('accepted');
    return res.body.results[0];
  }

  it("holds a model's tokens against its tier's cap for the billing period, and counts the account's events of that tier", async () => {
    const o = await org({ premier: 1000 });
    const level = 'tier/premier/2026-03-10/1000';
    const first = await authorize(o.keys.agent, opus(600));
    expect(first).toMatchObject({ allowed: true, estimate: { model: 'claude-opus', tier: 'premier', tokens: 600 } });
    expect(tierLevel(first.levels)).toEqual({ level, kind: 'tier', limit: { amount: null, tokens: 1000 }, spent: { amount: '0', tokens: 0 }, held: { amount: '0.009', tokens: 600 }, left: { amount: null, tokens: 400 } });
    // 600 held of 1000: 500 more is 100 too many.
    const second = await authorize(o.keys.agent, opus(500));
    expect(second).toMatchObject({ allowed: false, denied_by: { level, measure: 'tokens', short_by: '100' } });
    // Another tier is not capped, and an amount without a model names no tier.
    const other = await authorize(o.keys.agent, { model: 'gpt-4o', usage: { input: 5000, output: 0 } });
    expect(other).toMatchObject({ allowed: true, estimate: { tier: 'specialized' } });
    expect(tierLevel(other.levels)).toBeUndefined();
    const amount = await authorize(o.keys.agent, { amount: '0.01' });
    expect(amount).toMatchObject({ allowed: true, estimate: { tier: null } });
    expect(tierLevel(amount.levels)).toBeUndefined();

    // The event commits the hold at its actual 300 tokens: 700 left.
    const committed = await event(o.keys.agent, 'claude-opus', 300, { reservation_id: first.reservation_id });
    expect(committed.reservation).toEqual({ id: first.reservation_id, outcome: 'committed' });
    expect(await authorize(o.keys.agent, opus(800))).toMatchObject({ allowed: false, denied_by: { level, short_by: '100' } });
    // Another agent of the account spends from the same cap, without a hold: usage is a fact, metered past it.
    const person2 = await newPerson(t, o.account, o.unit);
    const agent2 = await newAgent(t, o.account, person2.id);
    const key2 = (await newKey(t, { role: 'agent', account: o.account, agent_id: agent2.id })).secret;
    await event(key2, 'claude-opus', 900);
    const over = await authorize(o.keys.agent, opus(1));
    expect(over).toMatchObject({ allowed: false, denied_by: { level, measure: 'tokens', short_by: '201' } });
    expect(tierLevel(over.levels)).toMatchObject({ spent: { tokens: 1200 }, left: { tokens: -200 } });
    // An event of another tier does not count.
    await event(o.keys.agent, 'gpt-4o', 10_000);
    expect(tierLevel((await authorize(o.keys.agent, opus(1))).levels)).toMatchObject({ spent: { tokens: 1200 } });
    // What is left, as the account's keys read it (the holds of other tiers and amounts name no tier).
    const held = tierLevel(over.levels)!.held.tokens;
    for (const key of [o.keys.member, o.keys.agent, o.keys.finance]) {
      const res = await t.get(`/v1/accounts/${o.account}/caps/tiers`, key);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        data: [
          {
            tier: 'premier',
            level,
            period_start: '2026-03-10T00:00:00.000Z',
            period_end: '2026-04-10T00:00:00.000Z',
            token_limit: 1000,
            spent_tokens: 1200,
            held_tokens: held,
            left_tokens: 1000 - 1200 - held,
          },
        ],
      });
    }
    const stranger = await newOrg(t);
    // Another account is not found, as everywhere.
    expect((await t.get(`/v1/accounts/${o.account}/caps/tiers`, stranger.keys.member)).status).toBe(404);
    expect((await t.get(`/v1/accounts/${stranger.account}/caps/tiers`, stranger.keys.member)).body).toEqual({ data: [] });
    expect((await t.get('/v1/accounts/no-such-account/caps/tiers')).status).toBe(404);
  });

  it('starts afresh in the next billing period, and applies a cap changed mid-period to what the period spent', async () => {
    const o = await org({ premier: 1000, base: 0 });
    await event(o.keys.agent, 'claude-opus', 700);
    // A cap of zero allows none of the tier.
    expect(await authorize(o.keys.agent, { model: 'qwen-turbo', usage: { input: 1, output: 0 } })).toMatchObject({
      allowed: false,
      denied_by: { level: 'tier/base/2026-03-10/0', measure: 'tokens', short_by: '1' },
    });
    // Sales lowers the premier cap to 500: the 700 spent this period already pass it.
    await subscribe(o.account, { premier: 500 });
    const lowered = await authorizeOn(o.keys.agent, opus(10), 'tier/premier/2026-03-10/500');
    expect(lowered).toMatchObject({ allowed: false, denied_by: { level: 'tier/premier/2026-03-10/500', short_by: '210' } });
    expect(tierLevel(lowered.levels)).toMatchObject({ spent: { tokens: 700 } });
    expect((await authorize(o.keys.agent, { model: 'qwen-turbo', usage: { input: 1, output: 0 } })).allowed).toBe(true);
    expect(await authorize(o.keys.agent, opus(10))).toMatchObject({ allowed: false, denied_by: { level: 'tier/premier/2026-03-10/500' } });
    // And raises it to 2000: 1300 left.
    await subscribe(o.account, { premier: 2000 });
    expect(await authorizeOn(o.keys.agent, opus(1301), 'tier/premier/2026-03-10/2000')).toMatchObject({ allowed: false, denied_by: { level: 'tier/premier/2026-03-10/2000', short_by: '1' } });
    // The next billing period starts on the 10th of April with nothing spent.
    clock.set('2026-04-10T00:00:00.000Z');
    try {
      const fresh = await authorize(o.keys.agent, opus(2000));
      expect(fresh).toMatchObject({ allowed: true });
      expect(tierLevel(fresh.levels)).toMatchObject({ level: 'tier/premier/2026-04-10/2000', spent: { tokens: 0 }, held: { tokens: 2000 } });
    } finally {
      clock.set(NOW);
    }
  });

  it('allows exactly as many concurrent holds as the cap fits, from agents of different people', async () => {
    const o = await org({ premier: 5000 });
    const keys = [o.keys.agent];
    for (let i = 0; i < 3; i++) {
      const person = await newPerson(t, o.account, o.unit);
      const agent = await newAgent(t, o.account, person.id);
      keys.push((await newKey(t, { role: 'agent', account: o.account, agent_id: agent.id })).secret);
    }
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => authorize(keys[i % keys.length]!, opus(100))));
    expect(answers.filter((a) => a.allowed).length).toBe(50);
    for (const a of answers.filter((x) => !x.allowed)) expect(a.denied_by).toMatchObject({ level: 'tier/premier/2026-03-10/5000', measure: 'tokens' });
    // Commits of random actual sizes never take spend past the cap through a hold.
    const allowed = answers.filter((a) => a.allowed);
    for (const [i, a] of allowed.entries()) await event(keys[answers.indexOf(a) % keys.length]!, 'claude-opus', 1 + ((i * 37) % 100), { reservation_id: a.reservation_id });
    const after = tierLevel((await authorize(o.keys.agent, opus(1))).levels)!;
    expect(after.spent.tokens).toBeLessThanOrEqual(5000);
    expect(after.held.tokens + after.spent.tokens).toBeLessThanOrEqual(5000);
  });

  it("counts an event of a model priced later against its tier's cap once the repricing job has run", async () => {
    const o = await org({ premier: 1000 });
    const model = `late-opus-${++n}`;
    // Not in the catalog yet: metered with no tier, held against no cap.
    const stored = await event(o.keys.agent, model, 800);
    expect(stored.tier).toBeNull();
    expect(tierLevel((await authorize(o.keys.agent, opus(100))).levels)).toMatchObject({ spent: { tokens: 0 } });
    expect((await t.request('PUT', `/v1/models/${model}`, { body: { tier: 'premier', provider: 'test', aliases: [] } })).status).toBeLessThan(300);
    expect(await t.app.get(RepricingService).priceUnpriced({ period: 'test' })).toBeGreaterThanOrEqual(1);
    const after = await authorize(o.keys.agent, opus(200));
    expect(after).toMatchObject({ allowed: false, denied_by: { level: 'tier/premier/2026-03-10/1000', measure: 'tokens', short_by: '100' } });
    expect(tierLevel(after.levels)).toMatchObject({ spent: { tokens: 800 }, held: { tokens: 100 } });
  });
});
