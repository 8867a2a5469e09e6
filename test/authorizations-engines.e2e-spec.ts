// The two counters engines are one contract: the same random sequence of holds, commits, spend, releases,
// limit changes, transfers, expiries and rebuilds gives the same answers and the same figures on Redis
// (Lua, amounts in millionths) as on PostgreSQL alone (exact numerics), when amounts are whole millionths.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { fromScaledInteger } from '../billing/authorizations/counter-math.js';
import { COUNTERS_ENGINE, withCounterWrites, type CounterWrite, type CountersEngine, type Limit } from '../billing/authorizations/counters.js';
import type { Tx } from '../src/database/data-source.js';
import { ManualClock } from '../src/clock/clock.js';
import { TransactionRunner } from '../src/database/transactions.js';
import { reportUsage } from './support/authorizations.js';
import { setBudget, TestBudgetsModule } from './support/budgets.js';
import { newAccount, newPerson, newUnit, startTestApp, type TestApp } from './support/test-app.js';

const NOW = '2026-03-15T12:00:00.000Z';
const both = process.env.DATABASE_URL && process.env.REDIS_URL ? describe : describe.skip;
const LEVEL_NAMES = (person: string, unit: string) => [`budget/person:${person}/month:2026-03-01`, `budget/unit:${unit}/month:2026-03-01`, 'budget/account/year:2026-01-01'];

const micro = (n: number) => fromScaledInteger(BigInt(n), 6);
// Coarse steps (0.05 and 50 tokens, sometimes one millionth or one token more), so that sums often land
// exactly on a limit, where an off-by-one would show.
const amountArb = (max: number) => fc.tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max: 3 })).map(([n, odd]) => n * 50_000 + (odd === 3 ? 1 : 0));
const tokensArb = (max: number) => fc.tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max: 3 })).map(([n, odd]) => n * 50 + (odd === 3 ? 1 : 0));
const limitArb = fc.record({ amount: fc.option(amountArb(60), { nil: null }), tokens: fc.option(tokensArb(60), { nil: null }) });
const levelSet = fc.subarray([0, 1, 2], { minLength: 1 });
/** One write in five fails after its counter write was made: its transaction rolls back and so must the counters. */
const abandon = fc.integer({ min: 0, max: 4 }).map((n) => n === 0);
const op = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('hold' as const), levels: levelSet, amount: amountArb(12).map((n) => n + 1), tokens: tokensArb(12), ttl: fc.integer({ min: 1, max: 120 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('commit' as const), pick: fc.nat(), amount: amountArb(14), tokens: tokensArb(14), levels: levelSet, abandon }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('spend' as const), levels: levelSet, amount: amountArb(6), tokens: tokensArb(6), abandon }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('limit' as const), level: fc.nat(2), limit: limitArb, below: fc.boolean(), abandon }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('transfer' as const), from: fc.nat(2), to: fc.nat(2), amount: amountArb(10), tokens: tokensArb(6), abandon }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('time' as const), seconds: fc.integer({ min: 1, max: 90 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rebuild' as const) }) },
);

both('the Redis and the PostgreSQL engines', () => {
  const apps: { t: TestApp; clock: ManualClock }[] = [];

  beforeAll(async () => {
    for (const env of [{}, { REDIS_URL: '' }] as Record<string, string>[]) {
      const clock = new ManualClock(NOW);
      apps.push({ t: await startTestApp({ clock, extraModules: [TestBudgetsModule], env }), clock });
    }
    expect(apps.map((a) => a.t.app.get<CountersEngine>(COUNTERS_ENGINE).kind)).toEqual(['redis', 'postgres']);
    // The embedded store starts slowly on a loaded machine.
  }, 120_000);
  afterAll(async () => {
    for (const a of apps) await a.t.close();
  });

  it('give the same answers to the same sequence of operations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.tuple(limitArb, limitArb, limitArb), fc.array(op, { minLength: 15, maxLength: 40 }), async (limits, ops) => {
        const id = `eng-${randomBytes(4).toString('hex')}`;
        for (const { t, clock } of apps) {
          clock.set(NOW);
          await newAccount(t, { id });
          await newUnit(t, id, { id: 'team' });
          await newPerson(t, id, 'team', { id: 'ada' });
          const names = LEVEL_NAMES('ada', 'team');
          for (let i = 0; i < 3; i++) await setBudget(t, id, names[i]!, { amount: limits[i]!.amount === null ? null : micro(limits[i]!.amount!), tokens: limits[i]!.tokens });
        }
        const names = LEVEL_NAMES('ada', 'team');
        const reservations: string[] = [];
        for (const o of ops) {
          const answers: unknown[] = [];
          for (const { t, clock } of apps) answers.push(await apply(t, clock, id, names, o, reservations));
          expect({ op: o, answer: answers[0] }).toEqual({ op: o, answer: answers[1] });
          if (o.t === 'hold' && (answers[0] as { allowed: boolean }).allowed) reservations.push((answers[0] as { reservationId: string }).reservationId);
        }
        const figures = await Promise.all(apps.map(({ t, clock }) => t.app.get<CountersEngine>(COUNTERS_ENGINE).read(id, names, clock.now())));
        expect(figures[0]).toEqual(figures[1]);
      }),
      { numRuns: 20 },
    );
  }, 300_000);
});

let nextId = 0;

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

async function apply(t: TestApp, clock: ManualClock, account: string, names: string[], o: Op, reservations: string[]): Promise<unknown> {
  const engine = t.app.get<CountersEngine>(COUNTERS_ENGINE);
  const now = clock.now();
  const pick = (n: number) => (reservations.length === 0 ? 'res_none' : reservations[n % reservations.length]!);
  const changed = <T>(work: (tx: Tx) => Promise<CounterWrite<T>>, abandon: boolean) =>
    withCounterWrites(
      t.app.get(TransactionRunner),
      async (tx, writes) => {
        const w = await work(tx);
        writes.push(w);
        if (abandon) throw new Error('abandoned');
        return w.result;
      },
      (e) => {
        throw e;
      },
    );
  switch (o.t) {
    case 'hold': {
      const id = `res_p${Math.floor(nextId / 2)}`;
      nextId++;
      return engine.hold(account, {
        reservationId: id,
        levels: o.levels.map((i) => names[i]!),
        estimate: { amount: micro(o.amount), tokens: o.tokens },
        expiresAt: new Date(now.getTime() + o.ttl * 1000),
        agentId: null,
        personId: 'ada',
        session: null,
        detail: {},
        now,
      });
    }
    case 'commit':
      return reportUsage(t, { account, unit: 'team', person: 'ada', agent: null, levels: o.levels.map((i) => names[i]!), amount: micro(o.amount), tokens: o.tokens, reservationId: pick(o.pick) }, { abandon: o.abandon }).catch(
        (e: Error) => e.message,
      );
    case 'spend':
      return reportUsage(t, { account, unit: 'team', person: 'ada', agent: null, levels: o.levels.map((i) => names[i]!), amount: micro(o.amount), tokens: o.tokens }, { abandon: o.abandon }).catch((e: Error) => e.message);
    case 'release':
      return engine.release(account, pick(o.pick), { agentId: null, personId: 'ada' }, now);
    case 'limit': {
      const limit: Limit = { amount: o.limit.amount === null ? null : micro(o.limit.amount), tokens: o.limit.tokens };
      return changed((tx) => engine.setLimit(tx, account, names[o.level]!, limit, now, { belowUsage: o.below }), o.abandon).catch((e: Error) => e.message);
    }
    case 'transfer':
      if (o.from === o.to) return null;
      return changed((tx) => engine.transfer(tx, account, names[o.from]!, names[o.to]!, { amount: micro(o.amount), tokens: o.tokens }, now), o.abandon).catch((e: Error) => e.message);
    case 'time':
      clock.advance(o.seconds * 1000);
      return null;
    case 'rebuild':
      await engine.rebuild(account, now);
      return engine.read(account, names, now);
  }
}
