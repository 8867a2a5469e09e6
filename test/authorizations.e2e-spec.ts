// POST /v1/authorizations and DELETE /v1/authorizations/:id end to end, on whichever counters engine the
// environment gives (Redis with PostgreSQL, or PostgreSQL alone): levels and what is left, caps, expiry,
// `auto` estimates, and bad input that changes nothing.
import { DataSource } from 'typeorm';
import type { LevelView } from '../billing/authorizations/authorizations.service.js';
import { COUNTERS_ENGINE, type CountersEngine, type LevelFigures } from '../billing/authorizations/counters.js';
import { ReservationExpiryService } from '../billing/authorizations/reservation-expiry.service.js';
import { ManualClock } from '../src/clock/clock.js';
import { reportUsage } from './support/authorizations.js';
import { putBudget } from './support/budgets.js';
import { setupPricing } from './support/metering.js';
import { newAgent, newKey, newOrg, startTestApp, type TestApp } from './support/test-app.js';

const NOW = '2026-03-15T12:00:00.000Z';

describe('authorizations', () => {
  let t: TestApp;
  let clock: ManualClock;

  beforeAll(async () => {
    clock = new ManualClock(NOW);
    t = await startTestApp({ clock });
    // The embedded store starts slowly on a loaded machine.
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  /** An org with pricing and a hard month budget of `amount` on its person. */
  async function org(amount = '1.00') {
    const o = await newOrg(t);
    await setupPricing(t, o.account);
    const level = `budget/person:${o.person}/month:2026-03-01`;
    await putBudget(t, o.account, level, { amount });
    return { ...o, level };
  }
  const authorize = (key: string, body: unknown) => t.post('/v1/authorizations', body, key);
  const release = (key: string, id: string) => t.request('DELETE', `/v1/authorizations/${id}`, { key });
  const figures = (account: string, levels: string[]) => t.app.get<CountersEngine>(COUNTERS_ENGINE).read(account, levels, clock.now());

  it('holds an amount, denies what no longer fits, and releases', async () => {
    const o = await org();
    const first = await authorize(o.keys.agent, { amount: '0.30' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ allowed: true, expires_at: '2026-03-15T12:10:00.000Z', estimate: { amount: '0.3', tokens: 0, source: 'amount' } });
    expect(first.body.reservation_id).toMatch(/^res_[A-Za-z0-9_-]{20}$/);
    expect(first.body.levels).toEqual([
      { level: o.level, kind: 'budget', limit: { amount: '1', tokens: null }, spent: { amount: '0', tokens: 0 }, held: { amount: '0.3', tokens: 0 }, left: { amount: '0.7', tokens: null } },
    ]);
    const second = await authorize(o.keys.agent, { amount: '0.80' });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ allowed: false, denied_by: { level: o.level, measure: 'amount', short_by: '0.1' } });
    expect(second.body.reservation_id).toBeUndefined();
    expect((await release(o.keys.agent, first.body.reservation_id)).body).toEqual({ reservation_id: first.body.reservation_id, status: 'released' });
    expect((await release(o.keys.agent, first.body.reservation_id)).body.status).toBe('released');
    expect((await authorize(o.keys.agent, { amount: '0.80' })).body.allowed).toBe(true);
  });

  it('prices a token estimate with the price book in force and checks token limits', async () => {
    const o = await org('10.00');
    await putBudget(t, o.account, `budget/account/year:2026-01-01`, { tokens: 1000 });
    // gpt-4o is specialized: 2.50 input, 10.00 output per million.
    const a = await authorize(o.keys.agent, { model: 'gpt-4o-2024-08-06', usage: { input: 400, output: 200 } });
    expect(a.body).toMatchObject({ allowed: true, estimate: { amount: '0.003', tokens: 600, source: 'usage', model: 'gpt-4o' } });
    expect(a.body.levels.map((l: LevelFigures) => l.level)).toEqual([o.level, 'budget/account/year:2026-01-01']);
    const b = await authorize(o.keys.agent, { model: 'gpt-4o', usage: { input: 400, output: 200 } });
    expect(b.body).toMatchObject({ allowed: false, denied_by: { level: 'budget/account/year:2026-01-01', measure: 'tokens', short_by: '200' } });
    // A model beside an amount is recorded by its catalog id (an alias resolves).
    const c = await authorize(o.keys.agent, { amount: '0.01', model: 'gpt-4o-2024-08-06' });
    expect(c.body).toMatchObject({ allowed: true, estimate: { amount: '0.01', source: 'amount', model: 'gpt-4o' } });
  });

  it('denies an agent whose owner has spent their budget, and lets a member hold for themselves', async () => {
    const o = await org('1.00');
    await reportUsage(t, { account: o.account, unit: o.unit, person: o.person, agent: o.agent, levels: [o.level], amount: '0.99', tokens: 50 });
    const denied = await authorize(o.keys.agent, { amount: '0.02' });
    expect(denied.body).toMatchObject({ allowed: false, denied_by: { level: o.level, measure: 'amount', short_by: '0.01' } });
    expect(denied.body.levels[0]).toMatchObject({ spent: { amount: '0.99', tokens: 50 }, left: { amount: '0.01' } });
    const mine = await authorize(o.keys.member, { amount: '0.01' });
    expect(mine.body).toMatchObject({ allowed: true, levels: [{ level: o.level, left: { amount: '0' } }] });
    // Nothing is left at all: even an estimate of tokens only is refused.
    expect((await authorize(o.keys.member, { amount: '0.000001' })).body.denied_by).toEqual({ level: o.level, measure: 'amount', short_by: '0.000001' });
  });

  it('never denies on a soft budget', async () => {
    const o = await org('1.00');
    await putBudget(t, o.account, o.level, { amount: '1.00' }, 'soft');
    const a = await authorize(o.keys.agent, { amount: '50' });
    expect(a.body).toMatchObject({ allowed: true, levels: [] });
  });

  it('allows what fits under a limit past 9 x 10^9 (Redis keeps it as 9 x 10^9; it wrapped to a negative limit that denied everything)', async () => {
    const o = await org('99999999999999999999');
    const cap = await t.request('PUT', `/v1/accounts/${o.account}/caps/agents/${o.agent}`, { key: o.keys.finance, body: { amount_limit: '10000000000000' } });
    expect(cap.status).toBe(200);
    const a = await authorize(o.keys.agent, { amount: '5' });
    expect(a.body).toMatchObject({ allowed: true, levels: [{ level: o.level }, { level: `agent/${o.agent}/month:2026-03-01` }] });
    for (const level of a.body.levels as LevelView[]) {
      expect(Number(level.limit.amount)).toBeGreaterThanOrEqual(9e9);
      expect(Number(level.left.amount)).toBeGreaterThanOrEqual(9e9 - 5);
    }
    expect((await authorize(o.keys.agent, { amount: '100000' })).body.allowed).toBe(true);
  });

  it('caps an agent, and each external session, on top of the budgets', async () => {
    const o = await org('10.00');
    expect((await t.request('PUT', `/v1/accounts/${o.account}/caps/agents/${o.agent}`, { key: o.keys.finance, body: { amount_limit: '0.40' } })).status).toBe(200);
    const capped = await authorize(o.keys.agent, { amount: '0.50' });
    expect(capped.body).toMatchObject({ allowed: false, denied_by: { level: `agent/${o.agent}/month:2026-03-01`, measure: 'amount', short_by: '0.1' } });

    const put = await t.request('PUT', `/v1/accounts/${o.account}/caps/sessions/external`, { key: o.keys.finance, body: { amount_limit: '0.25' } });
    expect(put.body).toMatchObject({ scope: 'session', session_context: 'external', amount_limit: '0.25', token_limit: null });
    const s1 = { session_id: 'chat-1', session_context: 'external' };
    const first = await authorize(o.keys.agent, { amount: '0.20', ...s1 });
    expect(first.body.allowed).toBe(true);
    expect(first.body.levels.at(-1)).toMatchObject({ level: 'session/external/chat-1', kind: 'session', limit: { amount: '0.25' }, left: { amount: '0.05' } });
    expect((await authorize(o.keys.agent, { amount: '0.10', ...s1 })).body.denied_by).toEqual({ level: 'session/external/chat-1', measure: 'amount', short_by: '0.05' });
    // Another external session has its own cap; an internal session has none.
    expect((await authorize(o.keys.agent, { amount: '0.10', session_id: 'chat-2', session_context: 'external' })).body.allowed).toBe(true);
    const internal = await authorize(o.keys.agent, { amount: '0.10', session_id: 'chat-1' });
    expect(internal.body.allowed).toBe(true);
    expect(internal.body.levels.map((l: LevelView) => l.kind)).toEqual(['budget', 'agent']);
    // Usage of the session counts against its cap once its event commits the hold.
    await reportUsage(t, {
      account: o.account, unit: o.unit, person: o.person, agent: o.agent, amount: '0.25', tokens: 1,
      levels: first.body.levels.map((l: LevelFigures) => l.level), reservationId: first.body.reservation_id, session: { id: 'chat-1', context: 'external' },
    });
    const [session] = await figures(o.account, ['session/external/chat-1']);
    expect(session).toMatchObject({ spent: { amount: '0.25' }, held: { amount: '0' }, left: { amount: '0' } });

    const list = await t.get(`/v1/accounts/${o.account}/caps`, o.keys.member);
    expect(list.body.data).toHaveLength(2);
    expect((await t.request('DELETE', `/v1/accounts/${o.account}/caps/agents/${o.agent}`, { key: o.keys.finance })).status).toBe(204);
    expect((await authorize(o.keys.agent, { amount: '0.50' })).body.allowed).toBe(true);
    expect((await t.request('PUT', `/v1/accounts/${o.account}/caps/agents/${o.agent}`, { key: o.keys.member, body: { amount_limit: '1' } })).status).toBe(403);
    expect((await t.request('PUT', `/v1/accounts/${o.account}/caps/agents/nobody`, { key: o.keys.finance, body: { amount_limit: '1' } })).body.error.code).toBe('agent_not_found');
    expect((await t.request('PUT', `/v1/accounts/${o.account}/caps/sessions/external`, { key: o.keys.finance, body: {} })).body.error).toMatchObject({ code: 'invalid_cap', field: 'amount_limit' });
    expect((await t.request('PUT', `/v1/accounts/${o.account}/caps/sessions/other`, { key: o.keys.finance, body: { amount_limit: '1' } })).status).toBe(400);
  });

  it('expires a reservation on its own: the room comes back, the row is marked, the event still counts', async () => {
    const o = await org('1.00');
    const a = await authorize(o.keys.agent, { amount: '0.60', expires_in_seconds: 60 });
    expect(a.body).toMatchObject({ allowed: true, expires_at: '2026-03-15T12:01:00.000Z' });
    expect((await authorize(o.keys.agent, { amount: '0.60' })).body.allowed).toBe(false);
    clock.advance(59_999);
    expect((await authorize(o.keys.agent, { amount: '0.60' })).body.allowed).toBe(false);
    clock.advance(1);
    // The sweeper marks the row and takes the hold off the counters.
    expect(await t.app.get(ReservationExpiryService).run({ period: 'test' })).toEqual({ expired: 1 });
    const [row] = await t.app.get(DataSource).query('SELECT status FROM authorization_reservations WHERE account_id = $1 AND id = $2', [o.account, a.body.reservation_id]);
    expect(row.status).toBe('expired');
    expect((await figures(o.account, [o.level]))[0]).toMatchObject({ held: { amount: '0' } });
    expect((await release(o.keys.agent, a.body.reservation_id)).body).toEqual({ reservation_id: a.body.reservation_id, status: 'expired' });
    // Without the sweeper, the next hold releases what expired before it holds.
    const b = await authorize(o.keys.agent, { amount: '0.60', expires_in_seconds: 30 });
    clock.advance(30_000);
    const c = await authorize(o.keys.agent, { amount: '0.70' });
    expect(c.body).toMatchObject({ allowed: true, levels: [{ held: { amount: '0.7' } }] });
    expect((await release(o.keys.agent, b.body.reservation_id)).body.status).toBe('expired');
    // Its late event is usage all the same: spend counts, the reservation stays expired.
    const outcome = await reportUsage(t, { account: o.account, unit: o.unit, person: o.person, agent: o.agent, levels: [o.level], amount: '0.30', tokens: 1, reservationId: a.body.reservation_id });
    expect(outcome).toBe('expired');
    expect((await figures(o.account, [o.level]))[0]).toMatchObject({ spent: { amount: '0.3' }, held: { amount: '0.7' }, left: { amount: '0' } });
    clock.set(NOW);
  });

  it("commits what an event names and says what happened to another agent's, a released or an unknown reservation", async () => {
    const o = await org('1.00');
    const other = await newAgent(t, o.account, o.person);
    const a = await authorize(o.keys.agent, { amount: '0.50' });
    const usage = { account: o.account, unit: o.unit, person: o.person, levels: [o.level], amount: '0.10', tokens: 1 };
    expect(await reportUsage(t, { ...usage, agent: other.id, reservationId: a.body.reservation_id })).toBe('foreign');
    expect(await reportUsage(t, { ...usage, agent: o.agent, reservationId: 'res_nothing_like_it' })).toBe('unknown');
    expect(await reportUsage(t, { ...usage, agent: o.agent, reservationId: a.body.reservation_id })).toBe('committed');
    expect(await reportUsage(t, { ...usage, agent: o.agent, reservationId: a.body.reservation_id })).toBe('already_committed');
    expect((await release(o.keys.agent, a.body.reservation_id)).body.error.code).toBe('reservation_committed');
    expect((await figures(o.account, [o.level]))[0]).toMatchObject({ spent: { amount: '0.4' }, held: { amount: '0' }, left: { amount: '0.6' } });
  });

  it('sizes an "auto" estimate from the agent\'s own recent events of that operation and model (p95)', async () => {
    const o = await org('10.00');
    // qwen-turbo (base): 0.50 input, 1.50 output per million. Costs 0.00001 * n for n = 1..20.
    const events = Array.from({ length: 20 }, (_, i) => ({
      id: `auto-${i}`, timestamp: '2026-03-15T11:00:00Z', operation: 'code.edit', model: 'qwen-turbo', usage: { input: 20 * (i + 1), output: 0 },
    }));
    events.push({ id: 'other-op', timestamp: '2026-03-15T11:00:00Z', operation: 'chat', model: 'qwen-turbo', usage: { input: 1_000_000, output: 0 } });
    const sent = await t.post('/v1/events', { events }, o.keys.agent);
    expect(sent.body.results.every((r: { status: string }) => r.status === 'accepted')).toBe(true);
    const a = await authorize(o.keys.agent, { estimate: 'auto', model: 'qwen-turbo', operation: 'code.edit' });
    // Nearest rank: the 19th of 20 (ceil(0.95 * 20)): 380 input tokens, 0.00019.
    expect(a.body).toMatchObject({ allowed: true, estimate: { amount: '0.00019', tokens: 380, source: 'auto', model: 'qwen-turbo', events: 20 } });
    const none = await authorize(o.keys.agent, { estimate: 'auto', model: 'gpt-4o', operation: 'code.edit' });
    expect(none.status).toBe(409);
    expect(none.body.error).toMatchObject({ code: 'no_recent_usage', field: 'estimate' });
    expect(none.body.error.message).toContain('of operation "code.edit" with model "gpt-4o"');
    // Without an operation: the agent's events that have none (there are none here), said so.
    const noOperation = await authorize(o.keys.agent, { estimate: 'auto', model: 'qwen-turbo' });
    expect(noOperation.body.error).toMatchObject({ code: 'no_recent_usage', field: 'estimate' });
    expect(noOperation.body.error.message).toMatch(/no priced events without an operation with model "qwen-turbo".*send "operation"/);
    const tokens = await authorize(o.keys.agent, { estimate: 'auto', model: 'qwen-turbo', operation: 'code.edit', tokens: 5 });
    expect(tokens.body.error).toMatchObject({ code: 'invalid_estimate', field: 'tokens' });
    expect(tokens.body.error.message).toContain('"auto"');
    expect((await authorize(o.keys.member, { estimate: 'auto', model: 'qwen-turbo' })).body.error.code).toBe('invalid_estimate');
  });

  it('refuses bad input with a clear error and changes nothing', async () => {
    const o = await org('1.00');
    const held = await authorize(o.keys.agent, { amount: '0.25' });
    const before = await figures(o.account, [o.level]);
    const cases: [unknown, number, string, string?][] = [
      [{ amount: '0' }, 400, 'estimate_zero', 'amount'],
      [{ model: 'qwen-turbo', usage: { input: 0 } }, 400, 'estimate_zero', 'usage'],
      [{ amount: '100000.000001' }, 400, 'estimate_too_large', 'amount'],
      [{ model: 'qwen-turbo', usage: { input: 2_000_000_000 } }, 400, 'estimate_too_large', 'usage'],
      [{ amount: '1', tokens: 2_000_000_000 }, 400, 'estimate_too_large', 'tokens'],
      [{ model: 'no-such-model', usage: { input: 10 } }, 400, 'unknown_model', 'model'],
      [{ amount: '1', model: 'no-such-model' }, 400, 'unknown_model', 'model'],
      [{ amount: '1', model: 'qwen-turbo', usage: { input: 10 } }, 400, 'invalid_estimate', 'estimate'],
      [{}, 400, 'invalid_estimate', 'estimate'],
      [{ amount: '1e3' }, 400, 'invalid_estimate', 'amount'],
      [{ amount: '-1' }, 400, 'invalid_estimate', 'amount'],
      [{ amount: 'abc' }, 400, 'invalid_estimate', 'amount'],
      [{ usage: { input: 10 } }, 400, 'missing_field', 'model'],
      [{ model: 'qwen-turbo', usage: { input: 10, output: 5, reasoning: 6 } }, 400, 'invalid_estimate', 'usage.reasoning'],
      [{ model: 'qwen-turbo', usage: { input: 1.5 } }, 400, 'wrong_type', 'usage.input'],
      [{ model: 'qwen-turbo', usage: { input: 10 }, tokens: 5 }, 400, 'invalid_estimate', 'tokens'],
      [{ amount: '1', colour: 'red' }, 400, 'unknown_field', 'colour'],
      [{ amount: '1', expires_in_seconds: 0 }, 400, 'invalid_value', 'expires_in_seconds'],
      [{ amount: '1', session_context: 'public' }, 400, 'invalid_value', 'session_context'],
      // A context without its session held against no session cap (an external cap was skipped).
      [{ amount: '1', session_context: 'external' }, 400, 'missing_field', 'session_id'],
      [{ amount: '1', session_context: 'internal' }, 400, 'missing_field', 'session_id'],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await authorize(o.keys.agent, body);
      expect({ body, status: res.status, code: res.body.error?.code, field: res.body.error?.field }).toEqual({ body, status, code, field });
    }
    expect((await authorize(o.keys.finance, { amount: '0.1' })).status).toBe(403);

    // Another agent, another person's member key, another account: each a 404, as if it did not exist.
    const other = await newAgent(t, o.account, o.person);
    const otherKey = (await newKey(t, { role: 'agent', account: o.account, agent_id: other.id })).secret;
    const stranger = await org();
    for (const key of [otherKey, o.keys.member, stranger.keys.agent]) {
      const res = await release(key, held.body.reservation_id);
      expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 404, code: 'reservation_not_found' });
    }
    expect((await release(o.keys.agent, 'not-an-id')).body.error).toMatchObject({ code: 'invalid_id', field: 'id' });
    expect(await figures(o.account, [o.level])).toEqual(before);
    const rows = await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM authorization_reservations WHERE account_id = $1`, [o.account]);
    expect(rows[0].n).toBe(1);
  });
});
