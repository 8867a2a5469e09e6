// Where billing plugs into ingest, end to end over POST /v1/events, on every counters engine this
// environment can run: an event naming a reservation commits it (its cost replaces the hold); an event
// whose reservation is unknown, expired, already committed, released or another agent's is still
// metered and its result says so; events without one add their spend; the reading carries budget_left on
// the tightest node; under concurrency spend never ends above a hard limit; counters rebuilt after a
// Redis flush or a crash between the commit and the counter update give the same answers.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { COUNTERS_ENGINE, type CountersEngine, type LevelFigures } from '../billing/authorizations/counters.js';
import { IngestCounters } from '../billing/authorizations/ingest-counters.js';
import { PENDING_DEADLINE_MS } from '../billing/authorizations/redis-counters.js';
import { accountKeys } from '../billing/authorizations/redis-scripts.js';
import { ManualClock } from '../src/clock/clock.js';
import { setBudget, TestBudgetsModule } from './support/budgets.js';
import { setupPricing } from './support/metering.js';
import { newAgent, newKey, newOrg, newPerson, newUnit, startTestApp, type TestApp } from './support/test-app.js';

const NOW = '2026-03-15T12:00:00.000Z';
const MONTH = 'month:2026-03-01';
const engines: ('postgres' | 'redis')[] = process.env.DATABASE_URL && process.env.REDIS_URL ? ['postgres', 'redis'] : ['postgres'];

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() - start > timeoutMs) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(engines)('ingest commits reservations and counts spend (%s engine)', (engine) => {
  let t: TestApp;
  let clock: ManualClock;
  let redis: Redis | null = null;
  let n = 0;

  beforeAll(async () => {
    clock = new ManualClock(NOW);
    t = await startTestApp({ clock, extraModules: [TestBudgetsModule], env: engine === 'postgres' ? { REDIS_URL: '' } : {} });
    expect(t.app.get<CountersEngine>(COUNTERS_ENGINE).kind).toBe(engine);
    if (engine === 'redis') redis = new Redis(process.env.REDIS_URL!);
    // The embedded store starts slowly on a loaded machine.
  }, 120_000);
  afterAll(async () => {
    redis?.disconnect();
    await t?.close();
  });

  const counters = () => t.app.get<CountersEngine>(COUNTERS_ENGINE);
  const read = (account: string, levels: string[]) => counters().read(account, levels, clock.now());
  const authorize = (key: string, amount: string) => t.post('/v1/authorizations', { amount }, key);
  /** An event of qwen-turbo (0.50 per million input tokens) costing exactly `cost` (at most 6 decimals). */
  const event = (cost: string, extra: Record<string, unknown> = {}) => ({
    id: `evt-${++n}`,
    timestamp: clock.now().toISOString(),
    model: 'qwen-turbo',
    usage: { input: Math.round(Number(cost) * 2_000_000), output: 0 },
    ...extra,
  });
  const send = (key: string, events: unknown[]) => t.post('/v1/events', { events }, key);

  async function org(personLimit = '1.00') {
    const o = await newOrg(t);
    await setupPricing(t, o.account);
    const level = `budget/person:${o.person}/${MONTH}`;
    await setBudget(t, o.account, level, { amount: personLimit });
    return { ...o, level };
  }

  it('commits the reservation an event names: its cost replaces the hold, the rest is released', async () => {
    const o = await org();
    const a = await authorize(o.keys.agent, '0.30');
    expect(a.body.allowed).toBe(true);
    const res = await send(o.keys.agent, [event('0.1', { reservation_id: a.body.reservation_id })]);
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toMatchObject({
      status: 'accepted',
      cost: { total: expect.stringMatching(/^0\.10*$/) },
      reservation: { id: a.body.reservation_id, outcome: 'committed' },
      reading: { budget_left: '0.9' },
    });
    expect((await read(o.account, [o.level]))[0]).toMatchObject({ spent: { amount: '0.1', tokens: 200_000 }, held: { amount: '0' }, left: { amount: '0.9' } });
    // Sent again: a duplicate, counted once, the reservation untouched.
    const again = await send(o.keys.agent, [{ ...res.body.results[0], ...event('0.1', { id: res.body.results[0].id, timestamp: NOW, reservation_id: a.body.reservation_id }) }].map(({ id, timestamp, model, usage, reservation_id }) => ({ id, timestamp, model, usage, reservation_id })));
    expect(again.body.results[0]).toMatchObject({ status: 'duplicate' });
    expect(again.body.results[0].reservation).toBeUndefined();
    expect((await read(o.account, [o.level]))[0]).toMatchObject({ spent: { amount: '0.1' }, held: { amount: '0' } });
    // The reservation is committed: it can no longer be released.
    expect((await t.request('DELETE', `/v1/authorizations/${a.body.reservation_id}`, { key: o.keys.agent })).body.error.code).toBe('reservation_committed');
  });

  it('meters an event whose reservation is unknown, expired, already committed, released or foreign, and says so', async () => {
    const o = await org('10.00');
    const other = await newAgent(t, o.account, o.person);
    const otherKey = (await newKey(t, { role: 'agent', account: o.account, agent_id: other.id })).secret;
    const committed = (await authorize(o.keys.agent, '0.5')).body.reservation_id as string;
    const released = (await authorize(o.keys.agent, '0.5')).body.reservation_id as string;
    const foreign = (await authorize(otherKey, '0.5')).body.reservation_id as string;
    const expiring = (await t.post('/v1/authorizations', { amount: '0.5', expires_in_seconds: 60 }, o.keys.agent)).body.reservation_id as string;
    await t.request('DELETE', `/v1/authorizations/${released}`, { key: o.keys.agent });
    await send(o.keys.agent, [event('0.01', { reservation_id: committed })]);
    clock.advance(61_000);
    try {
      const res = await send(o.keys.agent, [
        event('0.02', { reservation_id: 'res_nope' }),
        event('0.03', { reservation_id: expiring }),
        event('0.04', { reservation_id: committed }),
        event('0.05', { reservation_id: released }),
        event('0.06', { reservation_id: foreign }),
        event('0.07'),
      ]);
      const outcomes = res.body.results.map((r: { status: string; reservation?: { outcome: string } }) => [r.status, r.reservation?.outcome ?? null]);
      expect(outcomes).toEqual([
        ['accepted', 'unknown'],
        ['accepted', 'expired'],
        ['accepted', 'already_committed'],
        ['accepted', 'released'],
        ['accepted', 'foreign'],
        ['accepted', null],
      ]);
      // Every event's spend counted; the only hold left is the other agent's.
      const [f] = await read(o.account, [o.level]);
      expect(f).toMatchObject({ spent: { amount: '0.28' }, held: { amount: '0.5' }, left: { amount: '9.22' } });
      expect(res.body.results[5].reading.budget_left).toBe('9.22');
      // The foreign reservation is left alone: its own agent still commits it.
      const own = await send(otherKey, [event('0.2', { reservation_id: foreign })]);
      expect(own.body.results[0].reservation).toEqual({ id: foreign, outcome: 'committed' });
      expect((await read(o.account, [o.level]))[0]).toMatchObject({ spent: { amount: '0.48' }, held: { amount: '0' } });
    } finally {
      clock.set(NOW);
    }
  });

  it("commits a member's own reservation by an event of any agent acting for them, never by another person's agent", async () => {
    const o = await org('10.00');
    // A second agent of the member, and an agent of someone else in the same unit.
    const second = await newAgent(t, o.account, o.person);
    const secondKey = (await newKey(t, { role: 'agent', account: o.account, agent_id: second.id })).secret;
    const colleague = await newPerson(t, o.account, o.unit);
    const theirs = await newAgent(t, o.account, colleague.id);
    const theirKey = (await newKey(t, { role: 'agent', account: o.account, agent_id: theirs.id })).secret;
    const mine = await authorize(o.keys.member, '0.5');
    expect(mine.body.allowed).toBe(true);
    const id = mine.body.reservation_id as string;
    expect((await read(o.account, [o.level]))[0]).toMatchObject({ held: { amount: '0.5' } });
    // Another person's agent: metered, the reservation left alone.
    const foreign = await send(theirKey, [event('0.02', { reservation_id: id })]);
    expect(foreign.body.results[0]).toMatchObject({ status: 'accepted', reservation: { id, outcome: 'foreign' } });
    // The member's agents: the first event commits it (its cost replaces the hold), a second finds it committed.
    const res = await send(secondKey, [event('0.1', { reservation_id: id })]);
    expect(res.body.results[0]).toMatchObject({ status: 'accepted', reservation: { id, outcome: 'committed' }, reading: { budget_left: '9.9' } });
    const again = await send(o.keys.agent, [event('0.01', { reservation_id: id })]);
    expect(again.body.results[0].reservation).toEqual({ id, outcome: 'already_committed' });
    expect((await read(o.account, [o.level]))[0]).toMatchObject({ spent: { amount: '0.11' }, held: { amount: '0' }, left: { amount: '9.89' } });
    // Two events of one write naming it: the first commits it, the second finds it committed.
    const next = (await authorize(o.keys.member, '0.5')).body.reservation_id as string;
    const both = await send(o.keys.agent, [event('0.01', { reservation_id: next }), event('0.02', { reservation_id: next })]);
    expect(both.body.results.map((r: { reservation: { outcome: string } }) => r.reservation.outcome)).toEqual(['committed', 'already_committed']);
    expect((await read(o.account, [o.level]))[0]).toMatchObject({ spent: { amount: '0.14' }, held: { amount: '0' } });
  });

  it('answers budget_left and budget_tokens_left on the tightest node of the path, and null without a budget', async () => {
    const o = await org('1.00');
    await setBudget(t, o.account, `budget/unit:${o.unit}/${MONTH}`, { amount: '0.50' });
    await setBudget(t, o.account, 'budget/account/year:2026-01-01', { amount: '100', tokens: 2_000_000 });
    await setBudget(t, o.account, `budget/unit:${o.unit}/quarter:2026-01-01`, { tokens: 1_000_000 }, 'hard');
    // 0.10 and 0.15 of qwen-turbo: 200,000 and 300,000 input tokens.
    const res = await send(o.keys.agent, [event('0.1'), event('0.15')]);
    type Reading = { reading: { budget_left: string | null; budget_tokens_left: number | null } };
    expect(res.body.results.map((r: Reading) => r.reading.budget_left)).toEqual(['0.25', '0.25']);
    expect(res.body.results.map((r: Reading) => r.reading.budget_tokens_left)).toEqual([500_000, 500_000]);
    // Token budgets alone: the money figure is null, the tokens one is not; past the limit it goes negative.
    const tokensOnly = await newOrg(t);
    await setupPricing(t, tokensOnly.account);
    await setBudget(t, tokensOnly.account, `budget/person:${tokensOnly.person}/${MONTH}`, { tokens: 250_000 });
    const over = (await send(tokensOnly.keys.agent, [event('0.15')])).body.results[0].reading;
    expect(over).toMatchObject({ budget_left: null, budget_tokens_left: -50_000 });
    const plain = await newOrg(t);
    await setupPricing(t, plain.account);
    expect((await send(plain.keys.agent, [event('0.1')])).body.results[0].reading).toMatchObject({ budget_left: null, budget_tokens_left: null });
  });

  it('never ends with spend above the limit when events commit random actual amounts', async () => {
    const o = await org('1.00');
    const unitLevel = `budget/unit:${o.unit}/${MONTH}`;
    await setBudget(t, o.account, unitLevel, { amount: '2.00' });
    let allowed = 0;
    const worker = async () => {
      for (let denials = 0; denials < 3; ) {
        const a = await authorize(o.keys.agent, '0.10');
        if (!a.body.allowed) {
          denials++;
          continue;
        }
        allowed++;
        // At most the estimate, in millionths (whole numbers of 2 input tokens), sometimes nothing.
        const cost = (randomBytes(4).readUInt32BE() % 100_001) / 1_000_000;
        const res = await send(o.keys.agent, [event(cost.toFixed(6), { reservation_id: a.body.reservation_id })]);
        expect(res.body.results[0].reservation.outcome).toBe('committed');
      }
    };
    await Promise.all(Array.from({ length: 20 }, () => worker()));
    expect(allowed).toBeGreaterThan(9);
    const figures = await read(o.account, [o.level, unitLevel]);
    for (const f of figures) {
      expect(f.held.amount).toBe('0');
      expect(Number(f.spent.amount)).toBeLessThanOrEqual(Number(f.limit.amount));
    }
    await counters().rebuild(o.account, clock.now());
    expect(await read(o.account, [o.level, unitLevel])).toEqual(figures);
  }, 120_000);

  it('commits each reservation once when concurrent requests, written in shared groups, name the same ones', async () => {
    const o = await org('10.00');
    const ids = await Promise.all(Array.from({ length: 3 }, async () => (await authorize(o.keys.agent, '0.5')).body.reservation_id as string));
    // Sixteen requests at once (two writers per account: most wait and are written in groups of several),
    // request i naming reservation i mod 3 with an event of 0.01 and one without a reservation.
    const results = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => (await send(o.keys.agent, [event('0.01', { reservation_id: ids[i % 3] }), event('0.02')])).body.results),
    );
    for (const r of results) expect(r.map((x: { status: string }) => x.status)).toEqual(['accepted', 'accepted']);
    const outcomes = results.map((r) => r[0].reservation.outcome as string);
    for (const [k, id] of ids.entries()) {
      const named = outcomes.filter((_, i) => i % 3 === k);
      expect(named.filter((x) => x === 'committed')).toHaveLength(1);
      expect(named.filter((x) => x !== 'committed').every((x) => x === 'already_committed')).toBe(true);
      expect(results.filter((_, i) => i % 3 === k).every((r) => r[0].reservation.id === id)).toBe(true);
    }
    // Every event counted once, every hold gone, and a rebuild from PostgreSQL agrees.
    const figures = await read(o.account, [o.level]);
    expect(figures[0]).toMatchObject({ spent: { amount: '0.48' }, held: { amount: '0' }, left: { amount: '9.52' } });
    await counters().rebuild(o.account, clock.now());
    expect(await read(o.account, [o.level])).toEqual(figures);
  }, 120_000);

  it('counts an event from before its person moved against the unit they were in then', async () => {
    const o = await org('10.00');
    const target = await newUnit(t, o.account);
    const [was, now] = [`budget/unit:${o.unit}/${MONTH}`, `budget/unit:${target.id}/${MONTH}`];
    await setBudget(t, o.account, was, { amount: '10.00' });
    await setBudget(t, o.account, now, { amount: '10.00' });
    clock.advance(3_600_000);
    try {
      const moved = await t.request('PATCH', `/v1/accounts/${o.account}/people/${o.person}`, {
        key: o.keys.finance,
        body: { unit_id: target.id, effective_from: new Date(Date.parse(NOW) + 1_800_000).toISOString() },
      });
      expect(moved.status).toBe(200);
      const a = await authorize(o.keys.agent, '0.30');
      // Its path now is the new unit's; the event's, at its time, the old one's.
      const res = await send(o.keys.agent, [event('0.2', { timestamp: new Date(Date.parse(NOW) + 600_000).toISOString(), reservation_id: a.body.reservation_id })]);
      expect(res.body.results[0]).toMatchObject({ status: 'accepted', reservation: { outcome: 'committed' } });
      const figures = await read(o.account, [was, now, o.level]);
      expect(figures.map((f) => [f.level, f.spent.amount, f.held.amount])).toEqual([
        [was, '0.2', '0'],
        [now, '0', '0'],
        [o.level, '0.2', '0'],
      ]);
      await counters().rebuild(o.account, clock.now());
      expect(await read(o.account, [was, now, o.level])).toEqual(figures);
    } finally {
      clock.set(NOW);
    }
  });

  it('answers the same after a crash between the commit and the counter update', async () => {
    const o = await org('1.00');
    const a = await authorize(o.keys.agent, '0.30');
    const port = t.app.get(IngestCounters);
    const { record, prepare } = port;
    // The process dies right after the ingest write commits (in its transaction, or as one statement):
    // nobody confirms its counter write.
    port.record = async (...args) => ({ ...(await record.apply(port, args)), afterCommit: async () => undefined });
    port.prepare = async (...args) => {
      const part = await prepare.apply(port, args);
      return part && { ...part, settle: async (counted) => ({ ...(await part.settle(counted)), afterCommit: async () => undefined }) };
    };
    try {
      const res = await send(o.keys.agent, [event('0.4', { reservation_id: a.body.reservation_id })]);
      expect(res.body.results[0].reservation.outcome).toBe('committed');
    } finally {
      port.record = record;
      port.prepare = prepare;
    }
    const [meanwhile] = await read(o.account, [o.level]);
    // The spend is counted (it went in before the commit) and, in Redis, still the hold: stricter, never looser.
    expect(meanwhile!.spent.amount).toBe('0.4');
    expect(meanwhile!.held.amount).toBe(engine === 'redis' ? '0.3' : '0');
    clock.advance(PENDING_DEADLINE_MS + 1);
    try {
      const settled = await until(() => read(o.account, [o.level]).then(([f]) => f!), (f) => f.held.amount === '0');
      expect(settled).toMatchObject({ spent: { amount: '0.4' }, held: { amount: '0' }, left: { amount: '0.6' } });
      const next = await send(o.keys.agent, [event('0.1')]);
      expect(next.body.results[0].reading.budget_left).toBe('0.5');
      expect((await authorize(o.keys.agent, '0.5')).body.allowed).toBe(true);
      expect((await authorize(o.keys.agent, '0.000001')).body.allowed).toBe(false);
    } finally {
      clock.set(NOW);
    }
  });

  it('answers the same after Redis lost the account and after a rebuild', async () => {
    const o = await org('1.00');
    const a = await authorize(o.keys.agent, '0.30');
    await send(o.keys.agent, [event('0.2')]);
    const [before] = await read(o.account, [o.level]);
    expect(before).toMatchObject({ spent: { amount: '0.2' }, held: { amount: '0.3' }, left: { amount: '0.5' } });
    if (redis) await redis.del(...accountKeys(t.config.queuePrefix.replace(/[{}]/g, ''), o.account));
    else await counters().rebuild(o.account, clock.now());
    // The next event is counted on top of the rebuilt counters and its reading says so.
    const res = await send(o.keys.agent, [event('0.1', { reservation_id: a.body.reservation_id })]);
    expect(res.body.results[0]).toMatchObject({ reservation: { outcome: 'committed' }, reading: { budget_left: '0.7' } });
    const [after] = await read(o.account, [o.level]);
    expect(after).toMatchObject({ spent: { amount: '0.3' }, held: { amount: '0' }, left: { amount: '0.7' } } satisfies Partial<LevelFigures> | object);
    await counters().rebuild(o.account, clock.now());
    expect((await read(o.account, [o.level]))[0]).toEqual(after);
  });
});
