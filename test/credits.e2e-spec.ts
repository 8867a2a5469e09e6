// The credit ledger end to end, on whichever store the environment gives: the period allowance granted
// and expired by the job at a billing-period boundary (injected clock), usage burned in order and agreeing
// with the `allowance_left` ingest reports, expiry, promotional grants and top-ups, the `credits` level
// denying authorizations under a `block` plan, the service API invoices use, and bad input that changes
// nothing.
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { CreditLedger } from '../billing/credits/credit-ledger.service.js';
import { COUNTERS_ENGINE, type CountersEngine } from '../billing/authorizations/counters.js';
import { CreditsLimits } from '../billing/credits/credits-limits.js';
import { CreditsSettleService } from '../billing/credits/credits-settle.service.js';
import { CreditsRepository } from '../billing/credits/credits.repository.js';
import { GrantExpiryDayStart1767000000000 } from '../migrations/1767000000000-grant-expiry-day-start.js';
import { ManualClock } from '../src/clock/clock.js';
import { JobsService } from '../src/jobs/jobs.service.js';
import { TransactionRunner } from '../src/database/transactions.js';
import { setupPricing } from './support/metering.js';
import { newOrg, startAppWithoutJobs, startTestApp, type TestApp } from './support/test-app.js';

const PACKS = [
  { id: 'small', allowance: '5.00', price: '6.00', validity_days: 30 },
  { id: 'large', allowance: '50.00', price: '55.00', validity_days: 90 },
];

describe('credits', () => {
  let t: TestApp;
  let clock: ManualClock;
  let n = 0;

  /** The plans the tests use, on `app`. */
  async function putPlans(app: TestApp) {
    for (const [id, policy, allowance] of [
      ['credits-bill', 'bill', '20.00'],
      ['credits-block', 'block', '1.00'],
    ] as const) {
      const plan = await app.request('PUT', `/v1/plans/${id}`, {
        body: { currency: 'EUR', base_fee: '10.00', included_allowance: allowance, overage_policy: policy, topup_packs: PACKS },
      });
      expect(plan.status).toBeLessThan(300);
    }
  }
  beforeAll(async () => {
    clock = new ManualClock('2026-03-31T23:58:00.000Z');
    t = await startTestApp({ clock });
    await putPlans(t);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  async function org(plan = 'credits-bill', app = t) {
    const o = await newOrg(app);
    await setupPricing(app, o.account);
    const sub = await app.request('PUT', `/v1/accounts/${o.account}/subscription`, { body: { plan_id: plan, start_date: '2026-01-01', billing_anchor_day: 1 } });
    expect(sub.status).toBe(200);
    return o;
  }
  async function waitFor<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
    const start = Date.now();
    for (;;) {
      const value = await read();
      if (ok(value)) return value;
      if (Date.now() - start > timeoutMs) throw new Error(`timed out: ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const settle = () => t.app.get(CreditsSettleService).run({ period: 'test' });
  const credits = async (account: string, query = '') => {
    const res = await t.get(`/v1/accounts/${account}/credits${query}`);
    expect(res.status).toBe(200);
    return res.body;
  };
  /** An event of gpt-4o (2.50 per million input tokens) costing `eur`. */
  const spend = async (key: string, eur: number, at = clock.now(), app = t) => {
    const res = await app.post('/v1/events', { events: [{ id: `evt-${++n}`, timestamp: at.toISOString(), model: 'gpt-4o', usage: { prompt_tokens: Math.round(eur * 400_000), completion_tokens: 0 } }] }, key);
    expect(res.status).toBe(200);
    expect(res.body.results[0].status).toBe('accepted');
    return res.body.results[0];
  };
  const sumsToZero = (body: { ledger: { amount: string }[]; entries: { entries: { amount: string }[] }[] }) => {
    const total = body.ledger.reduce((s, l) => s + Math.round(Number(l.amount) * 1e6), 0);
    expect(total).toBe(0);
    for (const m of body.entries) expect(m.entries.reduce((s, e) => s + Math.round(Number(e.amount) * 1e6), 0)).toBe(0);
  };

  it('grants the period allowance at the period start and expires it at its end', async () => {
    clock.set('2026-03-31T23:58:00.000Z');
    const o = await org();
    await settle();
    let c = await credits(o.account);
    expect(c.grants).toEqual([
      expect.objectContaining({ kind: 'allowance', amount: '20', remaining: '20', priority: 0, granted_at: '2026-03-01T00:00:00.000Z', expires_at: '2026-04-01T00:00:00.000Z' }),
    ]);
    await spend(o.keys.agent, 2);
    // Running again in the same period grants nothing more.
    await settle();
    c = await credits(o.account);
    expect(c.grants).toHaveLength(1);
    expect(c.grants[0].remaining).toBe('18');

    // At the boundary the repeatable job itself runs (queued by the jobs' tick for the new minute).
    clock.set('2026-04-01T00:00:30.000Z');
    await t.app.get(JobsService).tick();
    c = await waitFor(() => credits(o.account), (body) => body.entries[0]?.kind === 'expiry');
    expect(c.grants).toEqual([expect.objectContaining({ kind: 'allowance', remaining: '20', granted_at: '2026-04-01T00:00:00.000Z', expires_at: '2026-05-01T00:00:00.000Z' })]);
    // Newest first: the run at the boundary granted April's allowance, then expired what March's held.
    expect(c.entries.map((m: { kind: string; amount: string }) => [m.kind, m.amount])).toEqual([
      ['expiry', '18'],
      ['grant', '20'],
      ['burn', '2'],
      ['grant', '20'],
    ]);
    expect(c.entries[0].entries).toEqual([
      { ledger_account: 'expired', amount: '18' },
      { ledger_account: `grant:${c.entries[3].grant_id}`, amount: '-18' },
    ]);
    expect(c.balance).toBe('20');
    expect(Object.fromEntries(c.ledger.map((l: { ledger_account: string; amount: string }) => [l.ledger_account, l.amount]))).toMatchObject({
      'issued:allowance': '-40',
      usage: '2',
      expired: '18',
    });
    sumsToZero(c);
  });

  it('leaves a grant past its expiry out of the balance and the grants before the job books the expiry (balance less unbooked usage is what is available)', async () => {
    clock.set('2026-04-20T12:00:00.000Z');
    const o = await org();
    await settle();
    await spend(o.keys.agent, 2);
    expect(await credits(o.account)).toMatchObject({ balance: '20', unbooked_usage: '2', available: '18' });
    // April's allowance expired at midnight; the job has not run yet. May's allowance is pending, and
    // April's unbooked usage counts against what is available until the job books it on April's grant.
    clock.set('2026-05-01T00:00:30.000Z');
    const c = await credits(o.account);
    expect(c).toMatchObject({ balance: '0', pending_allowance: { amount: '20', period_start: '2026-05-01T00:00:00.000Z' }, unbooked_usage: '2', available: '18', grants: [] });
    sumsToZero(c);
    await settle();
    expect(await credits(o.account)).toMatchObject({ balance: '20', pending_allowance: null, unbooked_usage: '0', available: '20' });
  });

  it('a view is one snapshot: read while the job grants and expires at the boundary, every view\'s grants agree with its ledger', async () => {
    clock.set('2026-03-31T23:58:00.000Z');
    const o = await org();
    await settle();
    await spend(o.keys.agent, 2);
    await settle();
    clock.set('2026-04-01T00:00:30.000Z');
    // Readers in a loop while the boundary's run grants April and expires what March's grant held; each
    // view's grants, ledger and entries must be one moment's (before, in between, or after each commit).
    const views: { grants: { id: string; remaining: string }[]; ledger: { ledger_account: string; amount: string }[] }[] = [];
    let running = true;
    const reader = async () => {
      while (running) views.push(await credits(o.account));
    };
    const readers = [reader(), reader(), reader()];
    await settle();
    running = false;
    await Promise.all(readers);
    views.push(await credits(o.account));
    for (const v of views) {
      const ledger = new Map(v.ledger.map((l) => [l.ledger_account, Number(l.amount)]));
      for (const g of v.grants) expect({ grant: g.id, ledger: ledger.get(`grant:${g.id}`) ?? 0 }).toEqual({ grant: g.id, ledger: Number(g.remaining) });
      sumsToZero(v as never);
    }
    expect(views.at(-1)!.grants.map((g) => g.remaining)).toEqual(['20']);
    expect(views.length).toBeGreaterThan(3);
  });

  // With one connection (the embedded store) a grant cannot commit while a view holds it: PostgreSQL only.
  (process.env.DATABASE_URL ? it : it.skip)('a view\'s reads share one snapshot: a grant committed between two of them shows in neither', async () => {
    clock.set('2026-04-10T09:00:00.000Z');
    const o = await org();
    await settle();
    const repository = t.app.get(CreditsRepository);
    const seen = await t.app.get(TransactionRunner).readSnapshot(async (tx) => {
      const before = await repository.liveGrants(tx, o.account);
      // Committed on another connection between the view's first read and the rest.
      expect((await t.post(`/v1/accounts/${o.account}/credits/grants`, { amount: '3.00', validity_days: 60 }, o.keys.sales)).status).toBe(201);
      return { before, after: await repository.liveGrants(tx, o.account), ledger: await repository.ledgerBalances(tx, o.account) };
    });
    expect(seen.after.map((g) => g.id)).toEqual(seen.before.map((g) => g.id));
    expect(seen.ledger.map((l) => l.ledger_account)).not.toContain('issued:promotional');
    // Outside it, the grant is there.
    expect((await credits(o.account)).grants).toHaveLength(2);
  });

  it('burns usage so the allowance grant agrees with the allowance_left ingest reports', async () => {
    clock.set('2026-04-10T09:00:00.000Z');
    const o = await org();
    await settle();
    // A promotional grant burns after the allowance (priority 10 > 0), so it does not change the agreement.
    expect((await t.post(`/v1/accounts/${o.account}/credits/grants`, { amount: '3.00', validity_days: 60 }, o.keys.sales)).status).toBe(201);
    let last;
    for (const eur of [1.25, 0.5, 3.75]) {
      last = await spend(o.keys.agent, eur);
      clock.advance(60_000);
    }
    await settle();
    let c = await credits(o.account);
    const allowance = c.grants.find((g: { kind: string }) => g.kind === 'allowance');
    expect(allowance.remaining).toBe(last.reading.allowance_left.replace(/\.?0+$/, ''));
    expect(allowance.remaining).toBe('14.5');
    expect(c.unbooked_usage).toBe('0');
    // Past the allowance: it is used up (allowance_left 0), then the promotional grant burns.
    last = await spend(o.keys.agent, 16);
    await settle();
    c = await credits(o.account);
    expect(Number(last.reading.allowance_left)).toBe(0);
    expect(c.grants.map((g: { kind: string; remaining: string }) => [g.kind, g.remaining])).toEqual([
      ['allowance', '0'],
      ['promotional', '1.5'],
    ]);
    sumsToZero(c);
  });

  it('burns lower priority first, then soonest expiry, then oldest; what is due expires', async () => {
    clock.set('2026-04-12T08:00:00.000Z');
    const o = await org();
    // No allowance here: subscription aside, grant only what the test names. Both `soon` grants end at the
    // start of 15 April (the end of the UTC day their two days run out in), one a second younger.
    const grant = async (body: object) => (await t.post(`/v1/accounts/${o.account}/credits/grants`, body, o.keys.sales)).body.id as string;
    const late = await grant({ amount: '1', priority: 5, validity_days: 10 });
    const soon = await grant({ amount: '1', priority: 5, validity_days: 2 });
    clock.advance(1000);
    const soonYounger = await grant({ amount: '1', priority: 5, validity_days: 2 });
    const first = await grant({ amount: '1', priority: 2, validity_days: 30 });
    const never = await grant({ amount: '1', priority: 5 });
    await settle(); // grants the April allowance (20), which burns first of all
    await spend(o.keys.agent, 20 + 1 + 1.5);
    await settle();
    let c = await credits(o.account);
    const left = (id: string) => c.grants.find((g: { id: string }) => g.id === id)?.remaining;
    expect([left(first), left(soon), left(soonYounger), left(late), left(never)]).toEqual(['0', '0', '0.5', '1', '1']);
    expect(c.grants.map((g: { id: string }) => g.id).slice(1)).toEqual([first, soon, soonYounger, late, never]);

    // At the start of 15 April the soon grants expire; what they held goes to `expired`.
    clock.set('2026-04-14T23:59:59.999Z');
    await settle();
    expect((await credits(o.account)).grants).toHaveLength(6);
    clock.set('2026-04-15T00:00:00.000Z');
    await settle();
    c = await credits(o.account);
    expect(c.grants.map((g: { id: string }) => g.id)).toEqual([expect.any(String), first, late, never]);
    expect(c.entries[0]).toMatchObject({ kind: 'expiry', grant_id: soonYounger, amount: '0.5' });
    expect(c.balance).toBe('2');
    sumsToZero(c);
  });

  it('sells top-up packs of the plan, at once without Stripe, once per purchase id', async () => {
    clock.set('2026-04-15T12:00:00.000Z');
    const o = await org();
    const buy = (body: unknown, key = o.keys.finance) => t.post(`/v1/accounts/${o.account}/credits/topups`, body, key);
    const first = await buy({ id: 'po-1', pack: 'small' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      id: 'po-1', pack: 'small', allowance: '5', price: '6', currency: 'EUR', validity_days: 30, status: 'granted', payment: null,
      // Bought at 12:00 on 15 April, valid 30 days: to the end of 15 May (grants end at the start of a UTC day).
      grant: { kind: 'topup', amount: '5', remaining: '5', priority: 30, topup_id: 'po-1', expires_at: '2026-05-16T00:00:00.000Z' },
    });
    const again = await buy({ id: 'po-1', pack: 'small' });
    expect(again.status).toBe(200);
    expect(again.body.grant.id).toBe(first.body.grant.id);
    expect((await buy({ id: 'po-1', pack: 'large' })).body.error.code).toBe('topup_conflict');
    const unknown = await buy({ id: 'po-2', pack: 'huge' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'topup_pack_unknown', field: 'pack' });
    expect(unknown.body.error.message).toContain('small, large');
    expect((await buy({ id: 'po-3', pack: 'small' }, o.keys.member)).status).toBe(403);
    expect((await buy({ id: 'po-3', pack: 'small' }, o.keys.sales)).status).toBe(403);
    const c = await credits(o.account);
    expect(c.grants.filter((g: { kind: string }) => g.kind === 'topup')).toHaveLength(1);
    const bought = await t.app.get(CreditLedger).topupsBought(t.app.get(DataSource), o.account, new Date('2026-04-01T00:00:00Z'), new Date('2026-05-01T00:00:00Z'));
    expect(bought.map((b) => [b.id, b.pack_id, b.status])).toEqual([['po-1', 'small', 'granted']]);
  });

  it('a grant given before grants ended at the start of a day is moved, once in force, to the start of the next (the migration)', async () => {
    clock.set('2026-04-20T12:00:00.000Z');
    const o = await org();
    await settle(); // grants April's allowance
    const db = t.app.get(DataSource);
    const grant = async (body: object) => (await t.post(`/v1/accounts/${o.account}/credits/grants`, body, o.keys.sales)).body.id as string;
    const [old, gone, atDayStart] = [await grant({ amount: '1', validity_days: 5 }), await grant({ amount: '1', validity_days: 1 }), await grant({ amount: '1', validity_days: 9 })];
    // As the rule before gave them: 5 days from 12:00, and one that has expired during a day.
    await db.query(`UPDATE credit_grants SET expires_at = '2026-04-25T12:00:00Z' WHERE account_id = $1 AND id = $2`, [o.account, old]);
    await db.query(`UPDATE credit_grants SET expires_at = '2026-04-20T12:00:00.5Z', expired_at = '2026-04-20T12:00:00.5Z' WHERE account_id = $1 AND id = $2`, [o.account, gone]);
    const runner = db.createQueryRunner();
    try {
      await new GrantExpiryDayStart1767000000000().up(runner);
    } finally {
      await runner.release();
    }
    const rows: { id: string; kind: string; expires_at: Date }[] = await db.query(`SELECT id, kind, expires_at FROM credit_grants WHERE account_id = $1`, [o.account]);
    const expiry = (id: string) => rows.find((r) => r.id === id)!.expires_at.toISOString();
    expect([expiry(old), expiry(gone), expiry(atDayStart)]).toEqual(['2026-04-26T00:00:00.000Z', '2026-04-20T12:00:00.500Z', '2026-04-30T00:00:00.000Z']);
    expect(rows.find((r) => r.kind === 'allowance')?.expires_at.toISOString()).toBe('2026-05-01T00:00:00.000Z');
  });

  it('refuses bad input with a clear error and changes nothing', async () => {
    clock.set('2026-04-16T12:00:00.000Z');
    const o = await org();
    const grants = (body: unknown, key = o.keys.sales, account = o.account) => t.post(`/v1/accounts/${account}/credits/grants`, body, key);
    const before = await credits(o.account);
    for (const [amount, code] of [
      ['-5', 'invalid_credit_amount'],
      ['abc', 'invalid_credit_amount'],
      ['1e3', 'invalid_credit_amount'],
      ['0', 'invalid_credit_amount'],
      [5, 'wrong_type'],
    ] as const) {
      const res = await grants({ amount });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ field: 'amount', code });
    }
    expect((await grants({ amount: '1', expires_at: '2026-04-01T00:00:00Z' })).body.error).toMatchObject({ code: 'invalid_grant', field: 'expires_at' });
    // Credits pay for usage by UTC day, so a grant ends at the start of one: the answer names the next.
    const midDay = await grants({ amount: '1', expires_at: '2026-04-30T18:00:00+02:00' });
    expect(midDay.status).toBe(400);
    expect(midDay.body.error).toMatchObject({ code: 'invalid_grant', field: 'expires_at' });
    expect(midDay.body.error.message).toContain('2026-05-01T00:00:00.000Z');
    expect((await grants({ amount: '1', priority: 0 })).status).toBe(400);
    expect((await grants({ amount: '1' }, o.keys.finance)).status).toBe(403);
    expect((await grants({ amount: '1' }, t.adminKey, 'no-such-account')).body.error.code).toBe('account_not_found');
    expect((await t.post('/v1/accounts/no-such-account/credits/topups', { id: 'x', pack: 'small' })).body.error.code).toBe('account_not_found');
    expect((await t.get('/v1/accounts/no-such-account/credits')).status).toBe(404);
    expect((await t.get(`/v1/accounts/${o.account}/credits?before=abc`)).status).toBe(400);
    // A misspelt query parameter is named, not ignored (it answered the first page as if it were not there).
    for (const [query, field] of [['?limt=2', 'limt'], ['?befor=3', 'befor']]) {
      const res = await t.get(`/v1/accounts/${o.account}/credits${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'unknown_field', field });
    }
    expect((await t.get(`/v1/accounts/${o.account}/credits?limit=0`)).body.error).toMatchObject({ code: 'invalid_value', field: 'limit' });
    expect((await t.get(`/v1/accounts/${o.account}/credits?before=abc`)).body.error).toMatchObject({ code: 'invalid_value', field: 'before' });
    expect(await credits(o.account)).toEqual(before);
  });

  it('pages the entries newest first', async () => {
    clock.set('2026-04-17T12:00:00.000Z');
    const o = await org();
    for (let i = 1; i <= 5; i++) await t.post(`/v1/accounts/${o.account}/credits/grants`, { amount: String(i) }, o.keys.sales);
    const page1 = await credits(o.account, '?limit=2');
    expect(page1.entries.map((m: { amount: string }) => m.amount)).toEqual(['5', '4']);
    const page2 = await credits(o.account, `?limit=2&before=${page1.next_before}`);
    expect(page2.entries.map((m: { amount: string }) => m.amount)).toEqual(['3', '2']);
    const page3 = await credits(o.account, `?limit=2&before=${page2.next_before}`);
    expect(page3.entries.map((m: { amount: string }) => m.amount)).toEqual(['1']);
    expect(page3.next_before).toBeNull();
  });

  it('under a block plan, denies an authorization the credit balance cannot cover; a top-up lets it through', async () => {
    clock.set('2026-04-20T12:00:00.000Z');
    const o = await org('credits-block');
    await settle(); // the April allowance: 1.00
    const authorize = (amount: string) => t.post('/v1/authorizations', { amount }, o.keys.agent);
    const first = await authorize('0.60');
    expect(first.body).toMatchObject({ allowed: true, levels: [{ level: 'credits', kind: 'credits', limit: { amount: '1' }, left: { amount: '0.4' } }] });
    const denied = await authorize('0.50');
    expect(denied.body).toMatchObject({ allowed: false, denied_by: { level: 'credits', measure: 'amount', short_by: '0.1' } });
    // Usage metered but not yet booked counts at once: the balance is what grants hold less that usage.
    await t.request('DELETE', `/v1/authorizations/${first.body.reservation_id}`, { key: o.keys.agent });
    await spend(o.keys.agent, 0.75);
    const c = await credits(o.account);
    expect(c).toMatchObject({ overage_policy: 'block', balance: '1', unbooked_usage: '0.75', available: '0.25' });
    await settle();
    expect(await credits(o.account)).toMatchObject({ balance: '0.25', unbooked_usage: '0', available: '0.25' });
    expect((await authorize('0.30')).body).toMatchObject({ allowed: false, denied_by: { level: 'credits', short_by: '0.05' } });
    expect((await t.post(`/v1/accounts/${o.account}/credits/topups`, { id: 'po-block', pack: 'small' }, o.keys.finance)).status).toBe(201);
    expect((await authorize('0.30')).body).toMatchObject({ allowed: true, levels: [{ level: 'credits', left: { amount: '4.95' } }] });
  });

  it('under a block plan, counts usage against the credits level as it is ingested, and settling changes no figure', async () => {
    clock.set('2026-04-20T13:00:00.000Z');
    const o = await org('credits-block');
    await settle(); // the April allowance: 1.00
    const engine = t.app.get<CountersEngine>(COUNTERS_ENGINE);
    const authorize = (amount: string) => t.post('/v1/authorizations', { amount }, o.keys.agent);
    const figures = async () => engine.read(o.account, ['credits'], clock.now());
    // A first hold loads the level; released, it leaves the whole allowance.
    const first = await authorize('0.10');
    expect(first.body).toMatchObject({ allowed: true, levels: [{ level: 'credits', left: { amount: '0.9' } }] });
    await t.request('DELETE', `/v1/authorizations/${first.body.reservation_id}`, { key: o.keys.agent });
    // Usage reaches the level in the ingest write: denied at once, no settle job in between.
    await spend(o.keys.agent, 0.75);
    expect((await authorize('0.30')).body).toMatchObject({ allowed: false, denied_by: { level: 'credits', measure: 'amount', short_by: '0.05' } });
    const before = await figures();
    expect(before).toEqual([
      { level: 'credits', limit: { amount: '1', tokens: null }, spent: { amount: '0.75', tokens: 0 }, held: { amount: '0', tokens: 0 }, left: { amount: '0.25', tokens: null } },
    ]);
    // The job books that usage against the grant: the ledger and the counter agree, nothing counted twice.
    const booked = await settle();
    expect(booked.failed).toBe(0);
    expect(await credits(o.account)).toMatchObject({ balance: '0.25', unbooked_usage: '0', available: '0.25' });
    expect(await figures()).toEqual(before);
    // Rebuilt from PostgreSQL, the level says the same.
    await engine.rebuild(o.account, clock.now());
    expect(await figures()).toEqual(before);
    expect((await authorize('0.25')).body).toMatchObject({ allowed: true, levels: [{ level: 'credits', left: { amount: '0' } }] });
  });

  it('an account whose plan gains an allowance mid-period has the period\'s usage booked on it, as its invoice bills it', async () => {
    clock.set('2026-04-22T12:00:00.000Z');
    const none = await t.request('PUT', '/v1/plans/credits-none', { body: { currency: 'EUR', base_fee: '10.00', included_allowance: '0', overage_policy: 'bill' } });
    expect(none.status).toBeLessThan(300);
    const o = await org('credits-none');
    expect((await t.post(`/v1/accounts/${o.account}/credits/grants`, { amount: '10.00' }, o.keys.sales)).status).toBe(201);
    await spend(o.keys.agent, 4);
    await settle();
    expect((await credits(o.account)).grants.map((g: { kind: string; remaining: string }) => [g.kind, g.remaining])).toEqual([['promotional', '6']]);
    // Moved the same day to a plan with an allowance: it covers April's usage (the invoice bills April on the
    // plan in force at its end), and the promotional grant gets back what it paid.
    const sub = await t.request('PUT', `/v1/accounts/${o.account}/subscription`, { body: { plan_id: 'credits-bill' } });
    expect(sub.status).toBe(200);
    expect(await t.app.get(CreditsSettleService).settleAccount(o.account, clock.now())).toMatchObject({ allowanceGranted: '20.00', allowanceChanged: null, burned: '0' }); // 4.00 given back, 4.00 burned again
    const c = await credits(o.account);
    expect(c.grants.map((g: { kind: string; remaining: string }) => [g.kind, g.remaining])).toEqual([['allowance', '16'], ['promotional', '10']]);
    expect(c.entries.filter((e: { kind: string }) => e.kind === 'restore')).toEqual([expect.objectContaining({ amount: '4', usage_day: '2026-04-22', memo: 'given back, to be booked again: the period allowance changed' })]);
    sumsToZero(c);
  });

  it('an account whose allowance is lowered to nothing mid-period has the period booked again without it, and one raised again gets it back', async () => {
    clock.set('2026-04-22T12:00:00.000Z');
    const o = await org();
    expect((await t.post(`/v1/accounts/${o.account}/credits/grants`, { amount: '10.00' }, o.keys.sales)).status).toBe(201);
    await spend(o.keys.agent, 4);
    await settle();
    expect((await credits(o.account)).grants.map((g: { kind: string; remaining: string }) => [g.kind, g.remaining])).toEqual([['allowance', '16'], ['promotional', '10']]);
    // Sales lowers this account's allowance to nothing: the invoice bills April without one, so the ledger
    // follows (this run failed on the grants' amount check before, every minute, and no usage was booked).
    const lowered = await t.request('PUT', `/v1/accounts/${o.account}/subscription`, { body: { plan_id: 'credits-bill', overrides: { included_allowance: '0' } } });
    expect(lowered.status).toBe(200);
    expect(await settle()).toMatchObject({ failed: 0 });
    let c = await credits(o.account);
    expect(c.grants.map((g: { kind: string; amount: string; remaining: string }) => [g.kind, g.amount, g.remaining])).toEqual([['allowance', '0', '0'], ['promotional', '10', '6']]);
    expect(c.entries[0]).toMatchObject({ kind: 'burn', amount: '4' });
    sumsToZero(c);
    // Usage after it burns the promotional grant; the job books it.
    await spend(o.keys.agent, 1);
    expect(await settle()).toMatchObject({ failed: 0 });
    expect((await credits(o.account)).grants.map((g: { kind: string; remaining: string }) => [g.kind, g.remaining])).toEqual([['allowance', '0'], ['promotional', '5']]);
    // Raised again the same period: the allowance covers the period's usage, the promotional grant gets it back.
    expect((await t.request('PUT', `/v1/accounts/${o.account}/subscription`, { body: { plan_id: 'credits-bill', overrides: {} } })).status).toBe(200);
    expect(await settle()).toMatchObject({ failed: 0 });
    c = await credits(o.account);
    expect(c.grants.map((g: { kind: string; amount: string; remaining: string }) => [g.kind, g.amount, g.remaining])).toEqual([['allowance', '20', '15'], ['promotional', '10', '10']]);
    sumsToZero(c);
  });

  it('under a block plan, an allowance changed mid-period reaches holds at the next settle run, the period booked again on it; the counter agrees with PostgreSQL', async () => {
    clock.set('2026-04-21T12:00:00.000Z');
    // A plan of its own: a version published here reaches every subscriber of the plan.
    const publish = async (allowance: string) => {
      const res = await t.request('PUT', '/v1/plans/credits-block-follow', { body: { currency: 'EUR', base_fee: '10.00', included_allowance: allowance, overage_policy: 'block', topup_packs: PACKS } });
      expect(res.status).toBeLessThan(300);
    };
    await publish('1.00');
    const o = await org('credits-block-follow');
    await settle();
    const engine = t.app.get<CountersEngine>(COUNTERS_ENGINE);
    const figures = async () => engine.read(o.account, ['credits'], clock.now());
    const authorize = (amount: string) => t.post('/v1/authorizations', { amount }, o.keys.agent);
    await spend(o.keys.agent, 0.75);
    await settle();
    expect((await authorize('0.50')).body).toMatchObject({ allowed: false, denied_by: { level: 'credits', short_by: '0.25' } });

    clock.advance(60_000);
    await publish('2.00');
    const settled = await t.app.get(CreditsSettleService).settleAccount(o.account, clock.now());
    // The 0.75 given back and burned again: nothing more burned, nothing uncovered.
    expect(settled).toMatchObject({ allowanceChanged: '2', burned: '0', uncovered: '0' });
    let c = await credits(o.account);
    expect(c).toMatchObject({ balance: '1.25', unbooked_usage: '0', available: '1.25' });
    expect(c.grants).toEqual([expect.objectContaining({ kind: 'allowance', amount: '2', remaining: '1.25' })]);
    sumsToZero(c);
    const after = await figures();
    expect(after).toEqual([
      { level: 'credits', limit: { amount: '2', tokens: null }, spent: { amount: '0.75', tokens: 0 }, held: { amount: '0', tokens: 0 }, left: { amount: '1.25', tokens: null } },
    ]);
    await engine.rebuild(o.account, clock.now());
    expect(await figures()).toEqual(after);
    expect((await authorize('0.50')).body).toMatchObject({ allowed: true, levels: [{ level: 'credits', left: { amount: '0.75' } }] });

    // Lowered below what was spent: the allowance holds what it was given less the period's usage, nothing.
    clock.advance(60_000);
    await publish('0.50');
    expect(await t.app.get(CreditsSettleService).settleAccount(o.account, clock.now())).toMatchObject({ allowanceChanged: '0.5', uncovered: '0.25' });
    c = await credits(o.account);
    expect(c.grants).toEqual([expect.objectContaining({ kind: 'allowance', amount: '0.5', remaining: '0' })]);
    sumsToZero(c);
    expect((await authorize('0.01')).body).toMatchObject({ allowed: false, denied_by: { level: 'credits' } });
  });

  it('under a block plan, holds against the period allowance from the moment the account subscribes; the job granting it changes no figure', async () => {
    clock.set('2026-04-20T14:00:00.000Z');
    const o = await org('credits-block');
    const engine = t.app.get<CountersEngine>(COUNTERS_ENGINE);
    const figures = async () => engine.read(o.account, ['credits'], clock.now());
    const authorize = (amount: string) => t.post('/v1/authorizations', { amount }, o.keys.agent);
    // No settle run yet: April's allowance (1.00) is pending, and it already pays for holds.
    expect(await credits(o.account)).toMatchObject({
      balance: '0',
      pending_allowance: { amount: '1', period_start: '2026-04-01T00:00:00.000Z', period_end: '2026-05-01T00:00:00.000Z' },
      available: '1',
      grants: [],
    });
    const first = await authorize('0.60');
    expect(first.body).toMatchObject({ allowed: true, levels: [{ level: 'credits', limit: { amount: '1' }, left: { amount: '0.4' } }] });
    expect((await authorize('0.50')).body).toMatchObject({ allowed: false, denied_by: { level: 'credits', short_by: '0.1' } });
    await t.request('DELETE', `/v1/authorizations/${first.body.reservation_id}`, { key: o.keys.agent });
    await spend(o.keys.agent, 0.75);
    expect(await credits(o.account)).toMatchObject({ balance: '0', unbooked_usage: '0.75', available: '0.25' });
    const before = await figures();
    expect(before).toEqual([
      { level: 'credits', limit: { amount: '1', tokens: null }, spent: { amount: '0.75', tokens: 0 }, held: { amount: '0', tokens: 0 }, left: { amount: '0.25', tokens: null } },
    ]);
    // The job grants the allowance from the period's start and books the usage against it: same figures.
    const settled = await t.app.get(CreditsSettleService).settleAccount(o.account, clock.now());
    expect(settled).toMatchObject({ allowanceGranted: '1.00', burned: '0.75' });
    expect(await credits(o.account)).toMatchObject({ balance: '0.25', pending_allowance: null, unbooked_usage: '0', available: '0.25' });
    expect(await figures()).toEqual(before);
    await engine.rebuild(o.account, clock.now());
    expect(await figures()).toEqual(before);
    // Next period, before the job runs: April's grant has expired and May's allowance is pending.
    clock.set('2026-05-01T00:00:20.000Z');
    await engine.rebuild(o.account, clock.now());
    expect(await credits(o.account)).toMatchObject({ balance: '0', pending_allowance: { amount: '1', period_start: '2026-05-01T00:00:00.000Z' }, available: '1' });
    expect((await authorize('0.90')).body).toMatchObject({ allowed: true, levels: [{ level: 'credits', left: { amount: '0.1' } }] });
  });

  it('a billing anchor changed mid-period leaves one period allowance: the job ends the old one as it grants the new; under block, holds get one allowance', async () => {
    // The walkthrough: subscribed today (the 6th, so the anchor is 6), then moved to the 1st.
    clock.set('2026-12-06T10:00:00.000Z');
    const o = await newOrg(t);
    await setupPricing(t, o.account);
    const sub = await t.request('PUT', `/v1/accounts/${o.account}/subscription`, { body: { plan_id: 'credits-block', start_date: '2026-12-06', billing_anchor_day: 6 } });
    expect(sub.status).toBe(200);
    const engine = t.app.get<CountersEngine>(COUNTERS_ENGINE);
    const figures = async () => engine.read(o.account, ['credits'], clock.now());
    const authorize = (amount: string) => t.post('/v1/authorizations', { amount }, o.keys.agent);
    await settle();
    let c = await credits(o.account);
    expect(c).toMatchObject({ balance: '1', grants: [{ kind: 'allowance', granted_at: '2026-12-06T00:00:00.000Z', expires_at: '2027-01-06T00:00:00.000Z' }] });
    const old = c.grants[0].id as string;
    await spend(o.keys.agent, 0.25);
    await settle();
    expect(await credits(o.account)).toMatchObject({ balance: '0.75', available: '0.75' });

    clock.set('2026-12-06T10:05:00.000Z');
    const moved = await t.request('PUT', `/v1/accounts/${o.account}/subscription`, { body: { plan_id: 'credits-block', billing_anchor_day: 1, start_date: '2026-12-01' } });
    expect(moved.status).toBe(200);
    // Before the job runs: the new period's allowance is pending and replaces the old one in the figures
    // (the old grant still holds its 0.75 in the ledger until the job ends it): one allowance, not two,
    // and the 0.25 spent on the 6th is the new period's, so the new allowance counts it as paid.
    c = await credits(o.account);
    expect(c).toMatchObject({ balance: '0.75', pending_allowance: { amount: '1', period_start: '2026-12-01T00:00:00.000Z', period_end: '2027-01-01T00:00:00.000Z' }, available: '0.75' });
    await engine.rebuild(o.account, clock.now());
    const before = await figures();
    expect(before).toEqual([
      { level: 'credits', limit: { amount: '1', tokens: null }, spent: { amount: '0.25', tokens: 0 }, held: { amount: '0', tokens: 0 }, left: { amount: '0.75', tokens: null } },
    ]);

    // The job grants the new period's allowance and ends the old one: what it held expires at the change;
    // the 6th's usage, which the old one paid, is given back to it (and expires with it) and burns the new
    // one, as the period's invoice bills it against the new allowance. The ledger still sums to zero.
    expect(await t.app.get(CreditsSettleService).settleAccount(o.account, clock.now())).toMatchObject({ allowanceGranted: '1.00', allowancesReleased: 1, expired: '0.75' });
    c = await credits(o.account);
    expect(c).toMatchObject({
      balance: '0.75',
      pending_allowance: null,
      available: '0.75',
      grants: [{ kind: 'allowance', amount: '1', remaining: '0.75', granted_at: '2026-12-01T00:00:00.000Z', expires_at: '2027-01-01T00:00:00.000Z' }],
    });
    expect(c.grants).toHaveLength(1);
    const given = 'given back, to be booked again: the billing period changed';
    expect(c.entries.map((m: { kind: string; amount: string; grant_id: string; memo: string }) => [m.kind, m.amount, m.grant_id === old, m.memo])).toEqual([
      ['burn', '0.25', false, null],
      ['expiry', '0.25', true, given],
      ['restore', '0.25', true, given],
      ['expiry', '0.75', true, 'ended: billing period changed to 2026-12-01 to 2027-01-01'],
      ['grant', '1', false, expect.any(String)],
      ['burn', '0.25', true, null],
      ['grant', '1', true, expect.any(String)],
    ]);
    expect(Object.fromEntries(c.ledger.map((l: { ledger_account: string; amount: string }) => [l.ledger_account, l.amount]))).toMatchObject({
      'issued:allowance': '-2',
      usage: '0.25',
      expired: '1',
      [`grant:${old}`]: '0',
    });
    sumsToZero(c);
    const ended = await t.app.get(CreditsRepository).findGrant(t.app.get(DataSource), o.account, old);
    expect(ended).toMatchObject({ expires_at: new Date('2026-12-06T10:05:00.000Z'), expired_at: new Date('2026-12-06T10:05:00.000Z') });
    expect(Number(ended!.remaining)).toBe(0);
    // The counter says what it said before the job, and what a rebuild says.
    expect(await figures()).toEqual(before);
    await engine.rebuild(o.account, clock.now());
    expect(await figures()).toEqual(before);

    // Under block, one allowance less what the period spent: 0.75 is held, a cent more is refused.
    const all = await authorize('0.75');
    expect(all.body).toMatchObject({ allowed: true, levels: [{ level: 'credits', limit: { amount: '1' }, left: { amount: '0' } }] });
    expect((await authorize('0.01')).body).toMatchObject({ allowed: false, denied_by: { level: 'credits', short_by: '0.01' } });
    await t.request('DELETE', `/v1/authorizations/${all.body.reservation_id}`, { key: o.keys.agent });
    await spend(o.keys.agent, 0.5);
    expect((await authorize('0.35')).body).toMatchObject({ allowed: false, denied_by: { level: 'credits', short_by: '0.1' } });

    // Later runs end nothing more, and usage burns the allowance in force.
    clock.set('2026-12-06T10:06:00.000Z');
    expect(await settle()).toMatchObject({ failed: 0 });
    expect(await credits(o.account)).toMatchObject({ balance: '0.25', available: '0.25', grants: [{ remaining: '0.25', granted_at: '2026-12-01T00:00:00.000Z' }] });

    // Moved back to the 6th: that period's allowance was granted (and ended), so none is granted again;
    // until the job runs the allowance in force stays.
    clock.set('2026-12-06T10:10:00.000Z');
    expect((await t.request('PUT', `/v1/accounts/${o.account}/subscription`, { body: { plan_id: 'credits-block', billing_anchor_day: 6 } })).status).toBe(200);
    expect(await credits(o.account)).toMatchObject({ pending_allowance: null, available: '0.25' });
    // The job puts the 6th's allowance back in force to its period's end (6 January), holding what it held
    // when it was ended with what it was given back then, and ends the 1st's: still one allowance, never
    // two, and none missing from 1 to 6 January (the 1st's would have run out on the 1st). The 6th's usage
    // (0.75), which the 1st's paid, burns the 6th's again.
    const newer = c.grants[0].id as string;
    expect(await t.app.get(CreditsSettleService).settleAccount(o.account, clock.now())).toMatchObject({ allowanceGranted: null, allowanceReopened: '1', allowancesReleased: 1, expired: '0.25' });
    c = await credits(o.account);
    expect(c).toMatchObject({ balance: '0.25', available: '0.25' });
    expect(c.grants).toEqual([expect.objectContaining({ id: old, amount: '1', remaining: '0.25', expires_at: '2027-01-06T00:00:00.000Z', expired_at: null })]);
    expect(c.entries.slice(0, 5).map((m: { kind: string; amount: string; grant_id: string; memo: string }) => [m.kind, m.amount, m.grant_id, m.memo])).toEqual([
      ['burn', '0.75', old, null],
      ['expiry', '0.75', newer, given],
      ['restore', '0.75', newer, given],
      ['expiry', '0.25', newer, 'ended: billing period changed to 2026-12-06 to 2027-01-06'],
      ['adjustment', '1', old, 'in force again: billing period changed back to 2026-12-06 to 2027-01-06'],
    ]);
    sumsToZero(c);
    // A run later changes nothing; the counter agrees with PostgreSQL.
    expect(await t.app.get(CreditsSettleService).settleAccount(o.account, clock.now())).toMatchObject({ allowanceReopened: null, allowancesReleased: 0, expired: '0' });
    const reopened = await figures();
    expect(reopened).toEqual([
      { level: 'credits', limit: { amount: '1', tokens: null }, spent: { amount: '0.75', tokens: 0 }, held: { amount: '0', tokens: 0 }, left: { amount: '0.25', tokens: null } },
    ]);
    await engine.rebuild(o.account, clock.now());
    expect(await figures()).toEqual(reopened);

    // On 2 January the 6th's allowance still pays: a hold of 0.20 is allowed.
    clock.set('2027-01-02T09:00:00.000Z');
    await settle();
    expect(await credits(o.account)).toMatchObject({ balance: '0.25', available: '0.25' });
    expect((await authorize('0.20')).body).toMatchObject({ allowed: true, levels: [{ level: 'credits', left: { amount: '0.05' } }] });
  });

  it('never holds against credits when the plan bills overage', async () => {
    clock.set('2026-04-21T12:00:00.000Z');
    const o = await org('credits-bill');
    await settle();
    const res = await t.post('/v1/authorizations', { amount: '500' }, o.keys.agent);
    expect(res.body).toMatchObject({ allowed: true, levels: [] });
  });

  it('gives invoices an API: ineffective-spend credit, adjustments, restoring a voided invoice, top-ups bought', async () => {
    clock.set('2026-04-22T12:00:00.000Z');
    const o = await org();
    const ledger = t.app.get(CreditLedger);
    const run = t.app.get(TransactionRunner);
    const at = clock.now();
    await settle();
    await spend(o.keys.agent, 4);
    await settle();

    const credit = await run.run((tx) => ledger.bookIneffectiveCredit(tx, { account: o.account, invoiceId: 'inv-3', amount: '1.20', at }));
    // Issued and applied to its invoice at once: the grant holds nothing and is never in force.
    expect(credit).toMatchObject({ kind: 'ineffective_credit', invoice_id: 'inv-3', amount: '1.2', expired_at: at });
    expect(Number(credit.remaining)).toBe(0);
    const again = await run.run((tx) => ledger.bookIneffectiveCredit(tx, { account: o.account, invoiceId: 'inv-3', amount: '1.2', at }));
    expect(again.id).toBe(credit.id);
    await expect(run.run((tx) => ledger.bookIneffectiveCredit(tx, { account: o.account, invoiceId: 'inv-3', amount: '2', at }))).rejects.toMatchObject({ code: 'credit_grant_conflict' });
    await expect(run.run((tx) => ledger.bookIneffectiveCredit(tx, { account: o.account, invoiceId: 'inv-4', amount: '-2', at }))).rejects.toMatchObject({ code: 'invalid_credit_amount' });

    const plus = await run.run((tx) => ledger.bookAdjustment(tx, { account: o.account, amount: '0.80', reason: 'late events of March', at }));
    expect(plus.grant).toMatchObject({ kind: 'adjustment', amount: '0.8' });
    const before = await credits(o.account);
    expect(before.balance).toBe('16.8'); // 20 - 4 + 0.8: the invoice's credit is paid on the invoice, not here
    expect(before.ledger).toContainEqual({ ledger_account: 'invoiced', amount: '1.2' });
    await expect(run.run((tx) => ledger.bookAdjustment(tx, { account: o.account, amount: '-16.81', reason: 'too much', at }))).rejects.toMatchObject({ code: 'credits_insufficient' });
    expect(await credits(o.account)).toEqual(before);
    const minus = await run.run((tx) => ledger.bookAdjustment(tx, { account: o.account, amount: '-0.5', reason: 'correction', at }));
    expect(minus.taken).toEqual([{ grant_id: before.grants[0].id, amount: '0.5' }]);

    const restore = await run.run((tx) =>
      ledger.restoreInvoiceCredits(tx, { account: o.account, invoiceId: 'inv-4', periodStart: new Date('2026-04-01T00:00:00Z'), periodEnd: new Date('2026-05-01T00:00:00Z'), at }),
    );
    expect(restore).toEqual({ restored: '4', already: false });
    const twice = await run.run((tx) =>
      ledger.restoreInvoiceCredits(tx, { account: o.account, invoiceId: 'inv-4', periodStart: new Date('2026-04-01T00:00:00Z'), periodEnd: new Date('2026-05-01T00:00:00Z'), at }),
    );
    expect(twice).toEqual({ restored: '4', already: true });
    const after = await credits(o.account);
    expect(after.balance).toBe('20.3'); // 16.8 - 0.5 + 4
    expect(after.entries[0]).toMatchObject({ kind: 'restore', invoice_id: 'inv-4', amount: '4' });
    sumsToZero(after);
    await expect(run.run((tx) => ledger.bookAdjustment(tx, { account: 'no-such-account', amount: '1', reason: 'x', at }))).rejects.toMatchObject({ code: 'account_not_found' });
  });

  it('follows a day whose metered cost went down: the uncovered part first, then burns given back', async () => {
    clock.set('2026-04-23T12:00:00.000Z');
    const o = await org();
    await settle();
    const last = await spend(o.keys.agent, 25); // allowance 20: 20 burned, 5 uncovered
    await settle();
    expect((await credits(o.account)).grants[0].remaining).toBe('0');
    expect(Number(last.reading.allowance_left)).toBe(0);
    // What a repricing correction does to the day's rollup: 7 less.
    await t.app.get(DataSource).query(`UPDATE meter_spend_daily SET cost = cost - 7 WHERE account_id = $1 AND day = '2026-04-23' AND cost >= 7`, [o.account]);
    await settle();
    const c = await credits(o.account);
    expect(c.grants[0].remaining).toBe('2');
    expect(c.entries[0]).toMatchObject({ kind: 'restore', amount: '2', usage_day: '2026-04-23' });
    // The next event's allowance_left says the same: 20 - 18 spent, less this event.
    const next = await spend(o.keys.agent, 0.5);
    await settle();
    expect((await credits(o.account)).grants[0].remaining).toBe(next.reading.allowance_left.replace(/\.?0+$/, ''));
    sumsToZero(await credits(o.account));
  });

  it('keeps every movement at zero sum and every balance the sum of its entries over random operations', async () => {
    clock.set('2026-04-24T00:00:00.000Z');
    const ledger = t.app.get(CreditLedger);
    const run = t.app.get(TransactionRunner);
    const db = t.app.get(DataSource);
    type Op = { op: 'grant' | 'spend' | 'take' | 'advance' | 'topup'; cents: number };
    const ops = fc.array(
      fc.record({ op: fc.constantFrom<Op['op']>('grant', 'spend', 'take', 'advance', 'topup'), cents: fc.integer({ min: 1, max: 3000 }) }),
      { minLength: 1, maxLength: 8 },
    );
    await fc.assert(
      fc.asyncProperty(ops, async (list) => {
        const o = await org();
        await settle();
        for (const { op, cents } of list) {
          const amount = (cents / 100).toFixed(2);
          if (op === 'grant') await t.post(`/v1/accounts/${o.account}/credits/grants`, { amount, validity_days: 1 + (cents % 5) }, o.keys.sales);
          if (op === 'spend') await spend(o.keys.agent, cents / 100);
          if (op === 'topup') await t.post(`/v1/accounts/${o.account}/credits/topups`, { id: `po-${cents}`, pack: 'small' }, o.keys.finance);
          if (op === 'take') await run.run((tx) => ledger.bookAdjustment(tx, { account: o.account, amount: `-${amount}`, reason: 'law', at: clock.now() })).catch(() => undefined);
          if (op === 'advance') clock.advance(cents * 60_000);
          await settle();
        }
        const [movements] = await db.query(
          `SELECT count(*)::int AS n, count(*) FILTER (WHERE s <> 0)::int AS unbalanced FROM (
             SELECT m.id, sum(e.amount) AS s, count(e.id) AS entries FROM credit_movements m JOIN credit_entries e ON e.movement_id = m.id
              WHERE m.account_id = $1 GROUP BY m.id HAVING count(e.id) = 2) x`,
          [o.account],
        );
        const [all] = await db.query(`SELECT count(*)::int AS movements FROM credit_movements WHERE account_id = $1`, [o.account]);
        const c = await credits(o.account);
        const byGrant = c.grants.reduce((s: number, g: { remaining: string }) => s + Math.round(Number(g.remaining) * 1e6), 0);
        const grantAccounts = c.ledger
          .filter((l: { ledger_account: string }) => c.grants.some((g: { id: string }) => l.ledger_account === `grant:${g.id}`))
          .reduce((s: number, l: { amount: string }) => s + Math.round(Number(l.amount) * 1e6), 0);
        sumsToZero(c);
        return (
          movements.n === all.movements &&
          movements.unbalanced === 0 &&
          c.grants.every((g: { remaining: string }) => Number(g.remaining) >= 0) &&
          byGrant === Math.round(Number(c.balance) * 1e6) &&
          grantAccounts === byGrant
        );
      }),
      { numRuns: 4 },
    );
  });

  it('under a block plan, the settle job changes what the credits level leaves only by the usage no grant covers, and the counter leaves what PostgreSQL says (random operations, across a period boundary)', async () => {
    // An app of its own where no job runs by itself: the property compares the level before and after one
    // settle run, and the app's minute settle job (or its hourly invoice job, which fixes the anchor) running
    // between the two made it fail once in 300 runs (seed 1983860820).
    const q = await startAppWithoutJobs(clock);
    try {
      await putPlans(q);
      const limits = q.app.get(CreditsLimits);
      const engine = q.app.get<CountersEngine>(COUNTERS_ENGINE);
      const db = q.app.get(DataSource);
      type Op = { op: 'spend' | 'grant' | 'topup' | 'advance' | 'hold' | 'anchor'; n: number };
      const ops = fc.array(
        fc.record({ op: fc.constantFrom<Op['op']>('spend', 'spend', 'grant', 'topup', 'advance', 'hold', 'anchor'), n: fc.integer({ min: 1, max: 2000 }) }),
        { minLength: 1, maxLength: 10 },
      );
      /**
       * The level as PostgreSQL gives it (what a counter loads, in one snapshot as a load reads it): limit and
       * spent, and what they leave.
       */
      const fromPostgres = (account: string) =>
        q.app.get(TransactionRunner).readSnapshot(async (tx) => {
          const now = clock.now();
          const limit = (await limits.limits(tx, account, ['credits'], now)).get('credits')!.amount!;
          const spent = (await limits.spent(tx, account, ['credits'], now)).get('credits')!.amount;
          return { limit, spent, left: (Math.round(Number(limit) * 1e6) - Math.round(Number(spent) * 1e6)) / 1e6 };
        });
      await fc.assert(
        fc.asyncProperty(ops, async (list) => {
          // Two days before April ends: advances of up to ~1.4 days cross into May's period.
          clock.set('2026-04-28T12:00:00.000Z');
          const o = await org('credits-block', q);
          let sales = 0;
          for (const { op, n } of list) {
            if (op === 'spend') await spend(o.keys.agent, (n % 60) / 100 + 0.01, clock.now(), q);
            if (op === 'grant') await q.post(`/v1/accounts/${o.account}/credits/grants`, { amount: ((n % 300) / 100 + 0.01).toFixed(2), validity_days: 1 + (n % 3) }, o.keys.sales);
            if (op === 'topup') await q.post(`/v1/accounts/${o.account}/credits/topups`, { id: `po-${++sales}`, pack: 'small' }, o.keys.finance);
            if (op === 'advance') clock.advance(n * 60_000);
            // Nothing closes an invoice here, so the anchor may move: to the 1st, the 15th or the 28th.
            if (op === 'anchor') {
              const moved = await q.request('PUT', `/v1/accounts/${o.account}/subscription`, { body: { plan_id: 'credits-block', billing_anchor_day: [1, 15, 28][n % 3] } });
              expect(moved.status).toBe(200);
            }
            if (op === 'hold') {
              // A hold loads the counter (and is released at once): allowed or not, it changes nothing left.
              const h = await q.post('/v1/authorizations', { amount: '0.01' }, o.keys.agent);
              if (h.body.allowed) await q.request('DELETE', `/v1/authorizations/${h.body.reservation_id}`, { key: o.keys.agent });
            }
            // Booking usage, granting a pending allowance, expiring what is due: the level leaves the same,
            // but for usage no grant in force pays for: overage, which leaves its spend once booked as
            // uncovered, and what grants expired before the run pay (net of what they get back) when it books
            // days again (the anchor moved: a grant expired since pays for its days as on time, usage that was
            // overage when first booked too). Not period allowances: what one the anchor's move released paid
            // for the new period's days, the figures before the run count already (paidBySuperseded).
            const before = await fromPostgres(o.account);
            const [mark] = await db.query(
              `SELECT (SELECT coalesce(max(id), 0) FROM credit_movements WHERE account_id = $1)::text AS id,
                      ARRAY(SELECT id FROM credit_grants WHERE account_id = $1 AND expired_at IS NOT NULL AND kind <> 'allowance') AS lapsed`,
              [o.account],
            );
            const settled = await q.app.get(CreditsSettleService).settleAccount(o.account, clock.now());
            const after = await fromPostgres(o.account);
            const [lapsed] = await db.query(
              `SELECT coalesce(sum(CASE kind WHEN 'burn' THEN amount ELSE -amount END), 0)::text AS paid FROM credit_movements
                WHERE account_id = $1 AND id > $2::bigint AND kind IN ('burn', 'restore') AND grant_id = ANY($3::text[])`,
              [o.account, mark.id, mark.lapsed],
            );
            const micros = (x: string | number) => Math.round(Number(x) * 1e6);
            expect(after.left).toBe((micros(before.left) + micros(settled.uncovered) + micros(lapsed.paid)) / 1e6);
            // The counter, once loaded, leaves what PostgreSQL says.
            const [counter] = await engine.read(o.account, ['credits'], clock.now());
            if (counter && counter.left.amount !== null) expect(Number(counter.left.amount)).toBe(after.left);
          }
        }),
        {
          numRuns: Number(process.env.TM_LAW_RUNS ?? 9),
          // CI's counterexample (stop 27), shrunk: spend past the allowance (1.00), then usage that is all overage,
          // booked by a run that burns nothing; the counter was not read again and left 0.02 less than PostgreSQL.
          examples: [
            // Stop 45's second (seed unknown, run 1113 of 1500 on PostgreSQL), shrunk by hand: 1.01 of usage on 28 April,
            // 0.01 past the allowance; a promotional grant given then, expired at the start of 30 April; the anchor moved
            // to the 15th: the run booking 28 April again on the new allowance has the expired grant pay the 0.01 (it
            // covered the day), which leaves the level as it was while `uncovered` fell by 0.01.
            [[{ op: 'spend', n: 49 }, { op: 'spend', n: 1970 }, { op: 'grant', n: 939 }, { op: 'advance', n: 375 }, { op: 'advance', n: 1785 }, { op: 'anchor', n: 1 }]],
            // Stop 45's (seed -1965723364, 300 runs), shrunk: a grant valid one day from 12:00 expired at 12:00 the
            // next day; usage later that day, past the allowance, was booked on it (a grant pays for the days it
            // covers), while the level had stopped counting it. Grants now end at the start of a UTC day.
            [[{ op: 'grant', n: 1041 }, { op: 'advance', n: 1440 }, { op: 'spend', n: 99 }, { op: 'spend', n: 358 }, { op: 'spend', n: 1 }]],
            [[{ op: 'spend', n: 18 }, { op: 'spend', n: 513 }, { op: 'spend', n: 646 }, { op: 'spend', n: 1 }]],
            // Stop 41's, shrunk: usage past the allowance, then the anchor moved to the 15th: the run that books the
            // period again on the new allowance reported as uncovered what already was (it now reports net of it).
            [[{ op: 'spend', n: 228 }, { op: 'spend', n: 1251 }, { op: 'anchor', n: 1 }, { op: 'spend', n: 1 }]],
            // Stop 44's (seed -427655187, 150 runs), shrunk: usage on 29 April, booked on April's allowance, which
            // expired at its end on 1 May; then the anchor moved to the 15th. That day is the pending 15 April
            // period's now, and the run that grants it booked the day on it (left 0.98) while the figures before
            // it counted the new allowance whole (1.00): they now count what the released allowance paid of it.
            [[{ op: 'advance', n: 978 }, { op: 'advance', n: 913 }, { op: 'spend', n: 1 }, { op: 'advance', n: 1709 }, { op: 'anchor', n: 1 }]],
          ],
        },
      );
    } finally {
      await q.close();
    }
  }, 120_000);

  it('usage metered after its period ended burns the allowance that was in force on its day, not a top-up; the invoice agrees', async () => {
    clock.set('2027-03-10T12:00:00.000Z');
    const o = await newOrg(t);
    await setupPricing(t, o.account);
    expect((await t.request('PUT', `/v1/accounts/${o.account}/subscription`, { body: { plan_id: 'credits-bill', start_date: '2027-03-01', billing_anchor_day: 1 } })).status).toBe(200);
    await settle();
    expect((await t.post(`/v1/accounts/${o.account}/credits/topups`, { id: 'po-late', pack: 'small' }, o.keys.finance)).status).toBe(201);
    await spend(o.keys.agent, 1);
    await settle();
    // April begins: March's allowance expires holding 19.00, April's is granted; the top-up still holds 5.00.
    clock.set('2027-04-01T00:01:00.000Z');
    await settle();
    const remaining = async () => Object.fromEntries((await credits(o.account)).grants.map((g: { kind: string; remaining: string }) => [g.kind, g.remaining]));
    expect(await remaining()).toEqual({ allowance: '20', topup: '5' });
    // An event of 31 March arrives late: March's allowance pays for it, from what it held when it expired,
    // as it would have on time. (It used to burn the top-up, which March's invoice then did not apply.)
    await spend(o.keys.agent, 2, new Date('2027-03-31T22:00:00.000Z'));
    await settle();
    expect(await remaining()).toEqual({ allowance: '20', topup: '5' });
    let c = await credits(o.account);
    expect(c.entries.slice(0, 2).map((m: { kind: string; amount: string; usage_day: string; memo: string | null }) => [m.kind, m.amount, m.usage_day, m.memo])).toEqual([
      ['burn', '2', '2027-03-31', 'usage of 2027-03-31 metered after a grant in force that day expired: burned from what it held'],
      ['adjustment', '2', '2027-03-31', 'usage of 2027-03-31 metered after a grant in force that day expired: burned from what it held'],
    ]);
    expect(Object.fromEntries(c.ledger.map((l: { ledger_account: string; amount: string }) => [l.ledger_account, l.amount]))).toMatchObject({ expired: '17', usage: '3' });
    sumsToZero(c);
    // More than March's allowance still holds: 17.00 from it, the rest from the top-up (in force on that day).
    await spend(o.keys.agent, 18, new Date('2027-03-31T23:00:00.000Z'));
    await settle();
    expect(await remaining()).toEqual({ allowance: '20', topup: '4' });
    c = await credits(o.account);
    expect(Object.fromEntries(c.ledger.map((l: { ledger_account: string; amount: string }) => [l.ledger_account, l.amount]))).toMatchObject({ expired: '0', usage: '21' });
    sumsToZero(c);
    // March's invoice: 21.00 of usage, 20.00 within the allowance, 1.00 of overage paid by the top-up's credit.
    const closed = await t.post(`/v1/accounts/${o.account}/invoices/close`, { finalize: true }, o.keys.finance);
    expect(closed.status).toBe(201);
    const lines = closed.body.lines.map((l: { kind: string; amount: string }) => [l.kind, l.amount]);
    expect(lines).toEqual(expect.arrayContaining([['overage', '1.00'], ['credits_applied', '-1.00']]));

    // A correction takes the 18.00 off 31 March again (what a repricing does to the day's rollup): the
    // top-up gets its 1.00 back, and March's allowance its 17.00, which expires again at once. The ledger is
    // as before that event: usage what was metered, expired what the allowance would have left.
    await t.app.get(DataSource).query(
      `UPDATE meter_spend_daily SET cost = cost - 18 WHERE ctid = (SELECT ctid FROM meter_spend_daily WHERE account_id = $1 AND day = '2027-03-31' AND cost >= 18 LIMIT 1)`,
      [o.account],
    );
    await settle();
    expect(await remaining()).toEqual({ allowance: '20', topup: '5' });
    c = await credits(o.account);
    expect(Object.fromEntries(c.ledger.map((l: { ledger_account: string; amount: string }) => [l.ledger_account, l.amount]))).toMatchObject({ expired: '17', usage: '3' });
    expect(c.entries.slice(0, 3).map((m: { kind: string; amount: string; memo: string | null }) => [m.kind, m.amount, m.memo])).toEqual([
      ['restore', '1', null],
      ['expiry', '17', 'usage of 2027-03-31 went down after a grant that paid for it expired: given back and expired again'],
      ['restore', '17', 'usage of 2027-03-31 went down after a grant that paid for it expired: given back and expired again'],
    ]);
    sumsToZero(c);
  });
});
