// The "Done means" for holds: under concurrency committed plus held never passes a hard limit, on
// every engine this environment can run: PostgreSQL alone (the embedded store, or the server when
// DATABASE_URL is set) and Redis with PostgreSQL (when both are set).
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { fromScaledInteger } from '../billing/authorizations/counter-math.js';
import { COUNTERS_ENGINE, type CountersEngine, type LevelFigures } from '../billing/authorizations/counters.js';
import { ManualClock } from '../src/clock/clock.js';
import { reportUsage } from './support/authorizations.js';
import { putBudget } from './support/budgets.js';
import { setupPricing } from './support/metering.js';
import { newAccount, newAgent, newKey, newPerson, newUnit, startTestApp, type TestApp } from './support/test-app.js';

const NOW = '2026-03-15T12:00:00.000Z';
const MONTH = 'month:2026-03-01';
// redis: the default, each hold answered once Redis holds it, its reservation row written behind (one
// statement per TOKENMETER_AUTHORIZE_WRITE_DELAY_MS); redis-row: answered after its row is written.
const engines: ('postgres' | 'redis' | 'redis-row')[] = process.env.DATABASE_URL && process.env.REDIS_URL ? ['postgres', 'redis', 'redis-row'] : ['postgres'];
const ENV = { postgres: { REDIS_URL: '' }, redis: {}, 'redis-row': { TOKENMETER_AUTHORIZE_ANSWER_AFTER: 'row' } };

describe.each(engines)('holds under concurrency (%s engine)', (engine) => {
  let t: TestApp;
  let clock: ManualClock;

  beforeAll(async () => {
    clock = new ManualClock(NOW);
    t = await startTestApp({ clock, env: ENV[engine] });
    expect(t.app.get<CountersEngine>(COUNTERS_ENGINE).kind).toBe(engine === 'postgres' ? 'postgres' : 'redis');
    // The embedded store starts slowly on a loaded machine.
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  /** An account with one department, `teams` teams under it and `people` people (each with an agent key) spread over them. */
  async function tree(teams: number, people: number) {
    const account = (await newAccount(t)).id;
    await setupPricing(t, account);
    const dept = (await newUnit(t, account, { kind: 'department' })).id;
    const teamIds: string[] = [];
    for (let i = 0; i < teams; i++) teamIds.push((await newUnit(t, account, { parent_id: dept })).id);
    const members: { person: string; unit: string; agent: string; key: string }[] = [];
    for (let i = 0; i < people; i++) {
      const unit = teamIds[i % teams]!;
      const person = (await newPerson(t, account, unit)).id;
      const agent = (await newAgent(t, account, person)).id;
      members.push({ person, unit, agent, key: (await newKey(t, { role: 'agent', account, agent_id: agent })).secret });
    }
    return { account, dept, teams: teamIds, members };
  }

  const authorize = (key: string, amount: string) => t.post('/v1/authorizations', { amount }, key);
  const read = (account: string, levels: string[]) => t.app.get<CountersEngine>(COUNTERS_ENGINE).read(account, levels, clock.now());

  it('allows exactly 50 of 200 concurrent authorizations against a budget that fits 50', async () => {
    const org = await tree(1, 1);
    const m = org.members[0]!;
    const level = `budget/person:${m.person}/${MONTH}`;
    await putBudget(t, org.account, level, { amount: '5.00' });
    const answers = await Promise.all(Array.from({ length: 200 }, () => authorize(m.key, '0.10')));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.body.allowed).length).toBe(50);
    const denied = answers.find((a) => !a.body.allowed)!;
    expect(denied.body.denied_by).toEqual({ level, measure: 'amount', short_by: '0.1' });
    const [figures] = await read(org.account, [level]);
    expect(figures).toMatchObject({ held: { amount: '5' }, left: { amount: '0' } });
    // Every allowed hold has its durable row (answered early, a row follows within a group write).
    const deadline = Date.now() + 5000;
    let rows: { n: number; five: boolean }[];
    do {
      rows = await t.app.get(DataSource).query(`SELECT count(*)::int AS n, sum(amount) = 5 AS five FROM authorization_reservations WHERE account_id = $1 AND status = 'held'`, [org.account]);
    } while (rows[0]!.n < 50 && Date.now() < deadline && (await new Promise((r) => setTimeout(r, 20))) === undefined);
    expect(rows[0]).toEqual({ n: 50, five: true });
  });

  it('allows exactly 50 against a department two levels up, for agents of different people in different teams', async () => {
    const org = await tree(2, 4);
    const level = `budget/unit:${org.dept}/${MONTH}`;
    await putBudget(t, org.account, level, { amount: '5.00' });
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => authorize(org.members[i % 4]!.key, '0.10')));
    const allowed = answers.filter((a) => a.body.allowed);
    expect(allowed.length).toBe(50);
    // Every answer names the department's level, nearest first after the people's own (none here).
    expect(allowed[0]!.body.levels.map((l: LevelFigures) => l.level)).toEqual([level]);
    expect(new Set(allowed.map((a) => a.body.levels.length))).toEqual(new Set([1]));
  });

  it('never ends with spend above the limit when commits of random actual amounts free room for more holds', async () => {
    const org = await tree(2, 4);
    const dept = `budget/unit:${org.dept}/${MONTH}`;
    const people = org.members.map((m) => `budget/person:${m.person}/${MONTH}`);
    // Both levels bind: four people at 0.75 are all the department's 3.00 (allocations may not exceed it).
    await putBudget(t, org.account, dept, { amount: '3.00' });
    for (const level of people) await putBudget(t, org.account, level, { amount: '0.75' });
    let allowed = 0;
    const worker = async (w: number) => {
      const m = org.members[w % 4]!;
      for (let denials = 0; denials < 3; ) {
        const a = await authorize(m.key, '0.10');
        if (!a.body.allowed) {
          denials++;
          continue;
        }
        allowed++;
        const levels = a.body.levels.map((l: LevelFigures) => l.level);
        // Actual cost at most the estimate: a random number of millionths up to 0.1 (Redis keeps amounts
        // in millionths, so its figures and a rebuild's agree to the digit), sometimes nothing at all.
        const amount = fromScaledInteger(BigInt(randomBytes(4).readUInt32BE() % 100_001), 6);
        // Committed right after the answer: with an early answer, the commit waits for the row first.
        const outcome = await reportUsage(t, { account: org.account, unit: m.unit, person: m.person, agent: m.agent, levels, amount, tokens: 10, reservationId: a.body.reservation_id });
        expect(outcome).toBe('committed');
      }
    };
    await Promise.all(Array.from({ length: 40 }, (_, w) => worker(w)));
    expect(allowed).toBeGreaterThan(30);
    const figures = await read(org.account, [dept, ...people]);
    for (const f of figures) {
      expect(f.held.amount).toBe('0');
      expect(Number(f.spent.amount)).toBeLessThanOrEqual(Number(f.limit.amount));
    }
    // What the counters say is what PostgreSQL's record says: rebuilt, they give the same figures.
    const exact = await t.app.get(DataSource).query(`SELECT sum(cost)::text AS spent FROM meter_daily_people WHERE account_id = $1`, [org.account]);
    expect(Number(figures[0]!.spent.amount)).toBeCloseTo(Number(exact[0].spent), 5);
    await t.app.get<CountersEngine>(COUNTERS_ENGINE).rebuild(org.account, clock.now());
    expect(await read(org.account, [dept, ...people])).toEqual(figures);
  }, 120_000);
});
