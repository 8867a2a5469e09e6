// Budget leases (Redis engine, billing/authorizations/hold-leases.ts): a busy path is answered from a
// slice this process holds in Redis and PostgreSQL; every hold answered from it becomes a reservation of
// its own (commits, releases and expiry as any other); the room is given back once idle; a denial gives
// back every lease of the account first; a FLUSH while a lease answers loses nothing; a lease's own
// reservation is no caller's. At every step spent plus held stays within the limit, and once the leases
// are given back the counters equal a rebuild from PostgreSQL and PostgreSQL's own held rows.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import { COUNTERS_ENGINE, type CountersEngine, type LevelFigures } from '../billing/authorizations/counters.js';
import { LeaseBroadcast } from '../billing/authorizations/lease-broadcast.js';
import { RedisCounters } from '../billing/authorizations/redis-counters.js';
import { accountKeys, scriptSource } from '../billing/authorizations/redis-scripts.js';
import { ManualClock } from '../src/clock/clock.js';
import { TransactionRunner } from '../src/database/transactions.js';
import { reportUsage } from './support/authorizations.js';
import { putBudget } from './support/budgets.js';
import { setupPricing } from './support/metering.js';
import { newOrg, startTestApp, type TestApp } from './support/test-app.js';

const NOW = '2026-03-15T12:00:00.000Z';
const MONTH = 'month:2026-03-01';
const withRedis = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);

/** tokenmeter_authorization_leases_total{outcome} of one service process. */
async function leaseCount(t: TestApp, outcome: string): Promise<number> {
  const text = (await t.get('/metrics', null)).text;
  const m = new RegExp(`^tokenmeter_authorization_leases_total\\{outcome="${outcome}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

(withRedis ? describe : describe.skip)('budget leases (redis engine)', () => {
  let t: TestApp;
  let clock: ManualClock;
  let redis: Redis;

  beforeAll(async () => {
    clock = new ManualClock(NOW);
    t = await startTestApp({ clock });
    redis = new Redis(process.env.REDIS_URL!);
    expect(engine()).toBeInstanceOf(RedisCounters);
  }, 120_000);
  afterAll(async () => {
    redis?.disconnect();
    await t?.close();
  });

  const engine = () => t.app.get<CountersEngine>(COUNTERS_ENGINE) as RedisCounters;
  const read = (account: string, level: string) => engine().read(account, [level], clock.now()).then(([f]) => f!);
  const authorize = (key: string, amount: string, extra: Record<string, unknown> = {}) => t.post('/v1/authorizations', { amount, ...extra }, key);
  const flush = (account: string) => redis.del(...accountKeys(t.config.queuePrefix.replace(/[{}]/g, ''), account));
  const sql = <T>(query: string, params: unknown[]) => t.app.get(TransactionRunner).run((tx) => tx.query(query, params) as Promise<T>);

  const metric = (outcome: string) => leaseCount(t, outcome);

  /** Figures of reservations alone: PostgreSQL's held rows (leases' own included, as they hold room too). */
  async function heldInPostgres(account: string, level: string, leases: 'with' | 'without') {
    const [row] = await sql<{ amount: string; n: string }[]>(
      `SELECT coalesce(sum(amount), 0)::text AS amount, count(*)::text AS n FROM authorization_reservations
        WHERE account_id = $1 AND status = 'held' AND $2 = ANY(levels) AND ($3 OR id NOT LIKE 'lease\\_%')`,
      [account, level, leases === 'with'],
    );
    return { amount: Number(row!.amount), n: Number(row!.n) };
  }

  async function org(limit: string) {
    const o = await newOrg(t);
    await setupPricing(t, o.account);
    const level = `budget/person:${o.person}/${MONTH}`;
    await putBudget(t, o.account, level, { amount: limit });
    return { ...o, level };
  }

  /** Waits for the leases being taken (in the background) to be in use. */
  async function leaseTaken(before: number) {
    for (let i = 0; i < 200 && (await metric('taken')) <= before; i++) await new Promise((r) => setTimeout(r, 10));
  }

  it('answers a busy path from a lease: each answer consistent, every hold a reservation of its own, the room given back', async () => {
    const o = await org('100.00');
    const taken = await metric('taken');
    const answered = await metric('answered');
    // Eight holds through Redis make the path busy; its lease is taken in the background.
    for (let i = 0; i < 8; i++) expect((await authorize(o.keys.agent, '0.10')).body.allowed).toBe(true);
    await leaseTaken(taken);
    expect(await metric('taken')).toBe(taken + 1);
    const answers = [];
    for (let i = 0; i < 30; i++) answers.push((await authorize(o.keys.agent, '0.10')).body);
    expect(answers.every((a) => a.allowed)).toBe(true);
    expect(await metric('answered')).toBeGreaterThanOrEqual(answered + 25);
    // Each answer: limit = spent + held + left, and the held figure grows by the estimate each time (the
    // lease's unused slice is not reported as held).
    for (const a of answers) {
      const [f] = a.levels as LevelFigures[];
      expect(Number(f!.spent.amount) + Number(f!.held.amount) + Number(f!.left.amount!)).toBeCloseTo(100, 9);
    }
    const heldSeen = answers.map((a) => Number((a.levels as LevelFigures[])[0]!.held.amount));
    expect(heldSeen.at(-1)).toBeCloseTo(3.8, 9);
    // Every hold is a reservation with its row; the lease's own row holds what is left of its slice.
    await engine().quiesce();
    const ids = answers.map((a) => a.reservation_id as string);
    const [rows] = [await sql<{ n: string }[]>(`SELECT count(*)::text AS n FROM authorization_reservations WHERE account_id = $1 AND id = ANY($2) AND status = 'held'`, [o.account, ids])];
    expect(Number(rows![0]!.n)).toBe(30);
    expect(await heldInPostgres(o.account, o.level, 'without')).toEqual({ amount: 3.8, n: 38 });
    // Given back: Redis holds the reservations alone, as PostgreSQL does, and a rebuild agrees.
    expect(await heldInPostgres(o.account, o.level, 'with')).toEqual({ amount: 3.8, n: 38 });
    const figures = await read(o.account, o.level);
    expect(figures.held.amount).toBe('3.8');
    await engine().rebuild(o.account, clock.now());
    expect(await read(o.account, o.level)).toEqual(figures);
    expect(await metric('released')).toBeGreaterThanOrEqual(taken + 1);
  });

  it('commits, releases and expires holds answered from a lease like any other', async () => {
    const o = await org('100.00');
    const taken = await metric('taken');
    for (let i = 0; i < 8; i++) await authorize(o.keys.agent, '0.10');
    await leaseTaken(taken);
    const committed = (await authorize(o.keys.agent, '0.10')).body.reservation_id as string;
    const released = (await authorize(o.keys.agent, '0.10')).body.reservation_id as string;
    const expiring = (await authorize(o.keys.agent, '0.10', { expires_in_seconds: 60 })).body.reservation_id as string;
    const outcome = await reportUsage(t, { account: o.account, unit: o.unit, person: o.person, agent: o.agent, levels: [o.level], amount: '0.04', tokens: 5, reservationId: committed });
    expect(outcome).toBe('committed');
    expect((await t.request('DELETE', `/v1/authorizations/${released}`, { key: o.keys.agent })).body).toEqual({ reservation_id: released, status: 'released' });
    clock.advance(61_000);
    try {
      await engine().expireDue(clock.now());
      await engine().quiesce();
      const [r] = await sql<{ status: string }[]>(`SELECT status FROM authorization_reservations WHERE account_id = $1 AND id = $2`, [o.account, expiring]);
      expect(r!.status).toBe('expired');
      // Left held: the eight through Redis (expiring in 10 minutes). Spent: the committed one's 0.04.
      const figures = await read(o.account, o.level);
      expect(figures).toMatchObject({ spent: { amount: '0.04' }, held: { amount: '0.8' } });
      expect(await heldInPostgres(o.account, o.level, 'with')).toEqual({ amount: 0.8, n: 8 });
      await engine().rebuild(o.account, clock.now());
      expect(await read(o.account, o.level)).toEqual(figures);
    } finally {
      clock.set(NOW);
    }
  });

  it("does not let a caller release or commit a lease's own reservation", async () => {
    const o = await org('100.00');
    const taken = await metric('taken');
    for (let i = 0; i < 8; i++) await authorize(o.keys.agent, '0.10');
    await leaseTaken(taken);
    const [lease] = await sql<{ id: string }[]>(`SELECT id FROM authorization_reservations WHERE account_id = $1 AND id LIKE 'lease\\_%' AND status = 'held'`, [o.account]);
    expect(lease).toBeDefined();
    const res = await t.request('DELETE', `/v1/authorizations/${lease!.id}`, { key: o.keys.agent });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_id');
    const outcome = await reportUsage(t, { account: o.account, unit: o.unit, person: o.person, agent: o.agent, levels: [o.level], amount: '0.01', tokens: 1, reservationId: lease!.id });
    expect(outcome).toBe('unknown');
    const [after] = await sql<{ status: string }[]>(`SELECT status FROM authorization_reservations WHERE account_id = $1 AND id = $2`, [o.account, lease!.id]);
    expect(after!.status).toBe('held');
    await engine().quiesce();
  });

  it('gives the room of a lease back when a hold is denied, so what fits is allowed', async () => {
    const o = await org('10.00');
    const taken = await metric('taken');
    for (let i = 0; i < 8; i++) await authorize(o.keys.agent, '0.10');
    await leaseTaken(taken);
    // The lease holds an eighth of the 9.20 left (1.15); two holds come from it.
    for (let i = 0; i < 2; i++) expect((await authorize(o.keys.agent, '0.10')).body.allowed).toBe(true);
    // 8.40 does not fit the lease, nor what Redis has left beside it (8.05): the lease is given back and
    // the hold tried again, and it fits the 9.00 left.
    const big = await authorize(o.keys.agent, '8.40');
    expect(big.body).toMatchObject({ allowed: true, levels: [{ held: { amount: '9.4' }, left: { amount: '0.6' } }] });
    let allowed = 0;
    for (let i = 0; i < 10; i++) if ((await authorize(o.keys.agent, '0.10')).body.allowed) allowed++;
    expect(allowed).toBe(6);
    const figures = await read(o.account, o.level);
    expect(figures).toMatchObject({ held: { amount: '10' }, left: { amount: '0' } });
  });

  it('loses nothing when Redis loses the account while a lease answers', async () => {
    const o = await org('100.00');
    const taken = await metric('taken');
    for (let i = 0; i < 8; i++) await authorize(o.keys.agent, '0.10');
    await leaseTaken(taken);
    for (let i = 0; i < 5; i++) await authorize(o.keys.agent, '0.10');
    await flush(o.account);
    // Answered from the lease in memory; their carves find the account gone and load it from PostgreSQL first.
    for (let i = 0; i < 5; i++) expect((await authorize(o.keys.agent, '0.10')).body.allowed).toBe(true);
    const during = await read(o.account, o.level);
    // Stricter while the lease lives (its row counts its unused slice), never looser.
    expect(Number(during.held.amount)).toBeGreaterThanOrEqual(1.8);
    await engine().quiesce();
    expect(await heldInPostgres(o.account, o.level, 'with')).toEqual({ amount: 1.8, n: 18 });
    const figures = await read(o.account, o.level);
    await engine().rebuild(o.account, clock.now());
    expect(await read(o.account, o.level)).toEqual(figures);
    expect(figures.held.amount).toBe('1.8');
  });

  it('counts a hold carved from a lease once in a rebuild that does not see its row yet', async () => {
    // A CI counterexample of the law below: a FLUSH, then the carve of a hold answered from a lease lands
    // between two rebuilds; the second one's snapshot had the lease's row (which counts the hold: its own row
    // was still on its way) and kept Redis' young entry of the hold as well, so it counted 0.22 twice (held
    // 3.085 of a 3.00 limit) until the lease was given back. Made here by hand: a lease row, its carve, rebuilds.
    const o = await org('10.00');
    const now = clock.now().getTime();
    const lease = 'lease_carvedrebuild01';
    await sql(
      `INSERT INTO authorization_reservations (account_id, id, agent_id, person_id, session_id, session_context, levels, amount, tokens, estimate, status, created_at, expires_at)
       VALUES ($1, $2, $3, $4, NULL, NULL, $5::text[], 1.00, 0, '{}'::jsonb, 'held', $6, $7)`,
      [o.account, lease, o.agent, o.person, [o.level], new Date(now), new Date(now + 600_000)],
    );
    await engine().rebuild(o.account, clock.now());
    expect((await read(o.account, o.level)).held.amount).toBe('1');
    // The carve of one hold of 0.25 answered from the lease (tmCarve's arguments: leases, then per lease its
    // id, holds, levels, the levels, and per hold id, expiry, amount in 10^-6, tokens, created, agent, person).
    const keys = accountKeys(t.config.queuePrefix.replace(/[{}]/g, ''), o.account);
    const carved = await redis.eval(scriptSource('tmCarve'), keys.length, ...keys, 1, lease, 1, 1, o.level, 'res_carvedrebuild01', now + 600_000, 250_000, 0, now, o.agent, o.person);
    expect(carved).toEqual(['ok', 0]);
    expect((await read(o.account, o.level)).held.amount).toBe('1');
    // Rebuilt (twice: what one rebuild leaves must hold for the next) before the hold's row is written...
    for (let i = 0; i < 2; i++) {
      await engine().rebuild(o.account, clock.now());
      expect((await read(o.account, o.level)).held.amount).toBe('1');
    }
    // ...and after it is.
    await sql(
      `INSERT INTO authorization_reservations (account_id, id, agent_id, person_id, session_id, session_context, levels, amount, tokens, estimate, status, created_at, expires_at, lease_id)
       VALUES ($1, 'res_carvedrebuild01', $2, $3, NULL, NULL, $4::text[], 0.25, 0, '{}'::jsonb, 'held', $5, $6, $7)`,
      [o.account, o.agent, o.person, [o.level], new Date(now), new Date(now + 600_000), lease],
    );
    await engine().rebuild(o.account, clock.now());
    expect((await read(o.account, o.level)).held.amount).toBe('1');
    // The hold released: the lease's 0.75 is left.
    expect((await t.request('DELETE', '/v1/authorizations/res_carvedrebuild01', { key: o.keys.agent })).status).toBe(200);
    expect((await read(o.account, o.level)).held.amount).toBe('0.75');
  });

  it('never passes the limit, and once leases are given back equals a rebuild, over random holds, commits, releases and flushes', async () => {
    const answered = await metric('answered');
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('hold' as const), cents: fc.integer({ min: 1, max: 30 }), n: fc.integer({ min: 1, max: 12 }) }),
            fc.record({ op: fc.constant('commit' as const), micros: fc.integer({ min: 0, max: 300_000 }) }),
            fc.record({ op: fc.constant('release' as const) }),
            fc.record({ op: fc.constant('flush' as const) }),
            fc.record({ op: fc.constant('giveBack' as const) }),
          ),
          { minLength: 3, maxLength: 12 },
        ),
        async (steps) => {
          const o = await org('3.00');
          const open: { id: string; cents: number }[] = [];
          // The path made busy first, so the steps start with a lease live (its slice: 0.375, an eighth of 3.00).
          const taken = await metric('taken');
          for (let i = 0; i < 8; i++) open.push({ id: (await authorize(o.keys.agent, '0.01')).body.reservation_id, cents: 1 });
          await leaseTaken(taken);
          for (const s of steps) {
            if (s.op === 'hold') {
              // n holds at once, as concurrent callers would send them.
              const answers = await Promise.all(Array.from({ length: s.n }, () => authorize(o.keys.agent, (s.cents / 100).toFixed(2))));
              for (const a of answers) if (a.body.allowed) open.push({ id: a.body.reservation_id, cents: s.cents });
            } else if (s.op === 'commit' && open.length > 0) {
              const r = open.shift()!;
              const amount = (Math.min(s.micros, r.cents * 10_000) / 1_000_000).toFixed(6);
              expect(await reportUsage(t, { account: o.account, unit: o.unit, person: o.person, agent: o.agent, levels: [o.level], amount, tokens: 1, reservationId: r.id })).toBe('committed');
            } else if (s.op === 'release' && open.length > 0) {
              const r = open.pop()!;
              expect((await t.request('DELETE', `/v1/authorizations/${r.id}`, { key: o.keys.agent })).status).toBe(200);
            } else if (s.op === 'flush') {
              await flush(o.account);
            } else if (s.op === 'giveBack') {
              await engine().quiesce();
            }
            const f = await read(o.account, o.level);
            expect(Number(f.spent.amount) + Number(f.held.amount)).toBeLessThanOrEqual(3);
          }
          await engine().quiesce();
          const figures = await read(o.account, o.level);
          const openCents = open.reduce((sum, r) => sum + r.cents, 0);
          expect(Math.round(Number(figures.held.amount) * 100)).toBe(openCents);
          expect(Math.round((await heldInPostgres(o.account, o.level, 'with')).amount * 100)).toBe(openCents);
          await engine().rebuild(o.account, clock.now());
          expect(await read(o.account, o.level)).toEqual(figures);
        },
      ),
      { numRuns: 40 },
    );
    // The runs had leases answer holds.
    expect(await metric('answered')).toBeGreaterThan(answered);
  }, 180_000);
});

(withRedis ? describe : describe.skip)('budget leases with TOKENMETER_AUTHORIZE_ANSWER_AFTER=row', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock: new ManualClock(NOW), env: { TOKENMETER_AUTHORIZE_ANSWER_AFTER: 'row' } });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('answers no hold from a lease: each answer comes after its own row is written', async () => {
    const o = await newOrg(t);
    await setupPricing(t, o.account);
    await putBudget(t, o.account, `budget/person:${o.person}/${MONTH}`, { amount: '100.00' });
    for (let i = 0; i < 30; i++) {
      const answer = (await t.post('/v1/authorizations', { amount: '0.10' }, o.keys.agent)).body;
      expect(answer.allowed).toBe(true);
      const rows = await t.app.get(TransactionRunner).run((tx) => tx.query(`SELECT lease_id FROM authorization_reservations WHERE account_id = $1 AND id = $2`, [o.account, answer.reservation_id]) as Promise<{ lease_id: string | null }[]>);
      expect(rows).toEqual([{ lease_id: null }]);
    }
    const leases = await t.app.get(TransactionRunner).run((tx) => tx.query(`SELECT count(*)::int AS n FROM authorization_reservations WHERE account_id = $1 AND id LIKE 'lease\\_%'`, [o.account]) as Promise<{ n: number }[]>);
    expect(leases).toEqual([{ n: 0 }]);
  });
});

(withRedis ? describe : describe.skip)('budget leases in two service processes on one Redis and one PostgreSQL', () => {
  let a: TestApp;
  let b: TestApp;
  const clock = new ManualClock(NOW);

  beforeAll(async () => {
    a = await startTestApp({ clock });
    b = await startTestApp({ databaseUrl: a.config.databaseUrl, clock, env: { TOKENMETER_ADMIN_KEY: a.adminKey, TOKENMETER_QUEUE_PREFIX: a.config.queuePrefix } });
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const engineOf = (t: TestApp) => t.app.get<CountersEngine>(COUNTERS_ENGINE) as RedisCounters;

  it('a lease in one process is room used for the other, given back when the other is denied: concurrent holds through both fill the limit exactly', async () => {
    const o = await newOrg(a);
    await setupPricing(a, o.account);
    const level = `budget/person:${o.person}/${MONTH}`;
    await putBudget(a, o.account, level, { amount: '5.00' });
    const hold = (t: TestApp) => t.post('/v1/authorizations', { amount: '0.01' }, o.keys.agent);
    // Each process makes the path busy and takes a lease of its own.
    for (const t of [a, b]) for (let i = 0; i < 8; i++) expect((await hold(t)).body.allowed).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    // 600 holds of 0.01 at once, half through each: 484 fit after the first 16.
    const answers = await Promise.all(Array.from({ length: 600 }, (_, i) => hold(i % 2 === 0 ? a : b)));
    const allowed = answers.filter((r) => r.body.allowed).length;
    // Exactly: a process denied asks the other for its leases on the account and tries once more (lease-broadcast.ts).
    expect(allowed).toBe(484);
    // Both processes answered holds from their leases (so each one's lease was room the other had to see).
    for (const t of [a, b]) expect(await leaseCount(t, 'answered')).toBeGreaterThan(0);
    // A denial names the level, and is not looser than what PostgreSQL and Redis hold.
    expect(answers.filter((r) => !r.body.allowed).every((r) => r.body.denied_by.level === level)).toBe(true);
    await engineOf(a).quiesce();
    await engineOf(b).quiesce();
    const [f] = await engineOf(a).read(o.account, [level], clock.now());
    expect(Math.round(Number(f!.held.amount) * 100)).toBe(16 + allowed);
    const rows = await a.app
      .get(TransactionRunner)
      .run((tx) => tx.query(`SELECT count(*)::int AS n, coalesce(sum(amount), 0)::text AS amount FROM authorization_reservations WHERE account_id = $1 AND status = 'held'`, [o.account]) as Promise<{ n: number; amount: string }[]>);
    expect(rows).toEqual([{ n: 16 + allowed, amount: ((16 + allowed) / 100).toFixed(2) }]);
    await engineOf(b).rebuild(o.account, clock.now());
    const [rebuilt] = await engineOf(a).read(o.account, [level], clock.now());
    expect(rebuilt).toEqual(f);
  });
});

(withRedis ? describe : describe.skip)('lease broadcast (Redis pub/sub between service processes)', () => {
  const connections: Redis[] = [];
  const connect = () => {
    const r = new Redis(process.env.REDIS_URL!);
    connections.push(r);
    return r;
  };
  afterAll(() => connections.forEach((r) => r.disconnect()));

  it('an ask with no other process answers at once; with others, once each answered, saying whether any had a lease', async () => {
    const channel = `tmtest:${process.pid}:${Date.now()}:leases`;
    const one = new LeaseBroadcast(connect(), connect(), channel, 5_000);
    const asked: string[] = [];
    await one.start(async (account) => {
      asked.push(`one:${account}`);
      return false;
    });
    const started = performance.now();
    await expect(one.ask('acme', new Date(NOW))).resolves.toBe(false);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(asked).toEqual([]);
    const two = new LeaseBroadcast(connect(), connect(), channel, 5_000);
    await two.start(async (account, now) => {
      asked.push(`two:${account}:${now.toISOString()}`);
      await new Promise((r) => setTimeout(r, 50));
      return account === 'acme';
    });
    await expect(one.ask('acme', new Date(NOW))).resolves.toBe(true);
    await expect(one.ask('globex', new Date(NOW))).resolves.toBe(false);
    await expect(two.ask('acme', new Date(NOW))).resolves.toBe(false);
    expect(asked).toEqual([`two:acme:${NOW}`, `two:globex:${NOW}`, 'one:acme']);
    await one.close();
    await two.close();
  });
});
