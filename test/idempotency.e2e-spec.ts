// Idempotency-Key end to end, on whichever store the environment gives: a retried write is done once and
// its first answer given again; a key reused for another request, a key still in use, a bad key, a failed
// request giving its key back, keys per API key, expiry and pruning; and every write route takes the
// header but the two idempotent by their own ids and the key issue (whose answer holds a secret never stored).
import { jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { ManualClock } from '../src/clock/clock.js';
import { withCommitMark, withoutCommitMark } from '../src/database/commit-marks.js';
import { TransactionRunner } from '../src/database/transactions.js';
import { IN_FLIGHT_MS, KEY_TTL_MS, requestFingerprint } from '../src/http/idempotency/idempotency.js';
import { IdempotencyHousekeeping } from '../src/http/idempotency/idempotency.module.js';
import { IdempotencyRepository } from '../src/http/idempotency/idempotency.repository.js';
import { COMPLETE_RETRY_MS } from '../src/http/idempotency/idempotent-writes.js';
import { putBudget } from './support/budgets.js';
import { setupPricing } from './support/metering.js';
import { newKey, newOrg, startTestApp, type TestApp } from './support/test-app.js';

const NOW = '2026-03-15T12:00:00.000Z';

async function waitFor(done: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Idempotency-Key', () => {
  let t: TestApp;
  let clock: ManualClock;
  let n = 0;
  const fresh = () => `retry-${++n}-${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    clock = new ManualClock(NOW);
    t = await startTestApp({ clock, env: { TOKENMETER_WEBHOOK_ALLOW_PRIVATE: '127.0.0.1' } });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  async function org() {
    const o = await newOrg(t);
    await setupPricing(t, o.account);
    return o;
  }
  const grant = (account: string, body: unknown, key: string, idempotencyKey?: string, raw?: string) =>
    t.request('POST', `/v1/accounts/${account}/credits/grants`, {
      key,
      ...(raw === undefined ? { body } : { rawBody: raw }),
      headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
    });
  const promotional = async (account: string) =>
    ((await t.get(`/v1/accounts/${account}/credits`)).body.grants as { kind: string; amount: string }[]).filter((g) => g.kind === 'promotional');
  const keyRows = async (idempotencyKey: string) =>
    (await t.app.get(DataSource).query('SELECT status, completed_at FROM idempotency_keys WHERE idempotency_key = $1', [idempotencyKey])) as unknown[];
  const committedAt = async (idempotencyKey: string) =>
    (
      (await t.app.get(DataSource).query('SELECT committed_at FROM idempotency_keys WHERE idempotency_key = $1', [idempotencyKey])) as {
        committed_at: Date | null;
      }[]
    )[0]?.committed_at;

  it('does a retried grant once and answers the retry with the first answer', async () => {
    const o = await org();
    const key = fresh();
    const first = await grant(o.account, { amount: '3.00', reason: 'launch' }, o.keys.sales, key);
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    // The same body with its fields in another order is the same request.
    const again = await grant(o.account, undefined, o.keys.sales, key, '{"reason":"launch","amount":"3.00"}');
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await promotional(o.account)).toHaveLength(1);
    // Without a key, each request is a grant of its own, as before.
    await grant(o.account, { amount: '3.00' }, o.keys.sales);
    await grant(o.account, { amount: '3.00' }, o.keys.sales);
    expect(await promotional(o.account)).toHaveLength(3);
  });

  it('does concurrent requests with one key once: the others are told it is in progress or get the answer', async () => {
    const o = await org();
    const key = fresh();
    const answers = await Promise.all(Array.from({ length: 6 }, () => grant(o.account, { amount: '2.00' }, o.keys.sales, key)));
    const done = answers.filter((a) => a.status === 201);
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(answers.filter((a) => a.status !== 201).map((a) => [a.status, a.body.error?.code])).toEqual(
      answers.filter((a) => a.status !== 201).map(() => [409, 'idempotency_key_in_use']),
    );
    // Every 201 is the one grant: the first, or a replay of it.
    expect(new Set(done.map((a) => a.body.id)).size).toBe(1);
    expect(await promotional(o.account)).toHaveLength(1);
  });

  it('refuses a key reused for another request, and changes nothing', async () => {
    const o = await org();
    const key = fresh();
    expect((await grant(o.account, { amount: '3.00' }, t.adminKey, key)).status).toBe(201);
    const other = await grant(o.account, { amount: '4.00' }, t.adminKey, key);
    expect(other.status).toBe(422);
    expect(other.body.error).toMatchObject({ code: 'idempotency_key_reused', field: 'Idempotency-Key' });
    expect(other.body.error.message).toContain(`POST /v1/accounts/${o.account}/credits/grants`);
    // Another route with the same key: reused as well, and not done.
    await putBudget(t, o.account, `budget/unit:${o.unit}/month:2026-03-01`, { amount: '10.00' });
    await putBudget(t, o.account, `budget/person:${o.person}/month:2026-03-01`, { amount: '5.00' });
    const transfer = await t.request('POST', `/v1/accounts/${o.account}/budgets/transfers`, {
      body: { period: 'month', from: `person:${o.person}`, to: `unit:${o.unit}`, amount: '1' },
      headers: { 'idempotency-key': key },
    });
    expect([transfer.status, transfer.body.error?.code]).toEqual([422, 'idempotency_key_reused']);
    expect((await promotional(o.account)).map((g) => g.amount)).toEqual(['3']);
    const budgets = (await t.get(`/v1/accounts/${o.account}/budgets`)).body.data as { node: string; limit: { amount: string | null } }[];
    expect(budgets.find((b) => b.node === `person:${o.person}`)?.limit.amount).toBe('5');
  });

  it('keeps keys per API key: another key with the same Idempotency-Key is another request', async () => {
    const o = await org();
    const key = fresh();
    const otherSales = (await newKey(t, { role: 'sales' })).secret;
    expect((await grant(o.account, { amount: '1.00' }, o.keys.sales, key)).status).toBe(201);
    const second = await grant(o.account, { amount: '1.00' }, otherSales, key);
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(await promotional(o.account)).toHaveLength(2);
  });

  it('gives the key back when the request fails, so the corrected retry runs', async () => {
    const o = await org();
    const key = fresh();
    const bad = await grant(o.account, { amount: '-1' }, o.keys.sales, key);
    expect(bad.status).toBe(400);
    expect(await keyRows(key)).toEqual([]);
    const corrected = await grant(o.account, { amount: '1.00' }, o.keys.sales, key);
    expect(corrected.status).toBe(201);
    expect(corrected.headers['idempotent-replayed']).toBeUndefined();
    expect(await promotional(o.account)).toHaveLength(1);
  });

  it('answers a committed write even when its answer cannot be kept at once, and keeps it on a later try: the retry is a replay', async () => {
    const o = await org();
    const key = fresh();
    const repository = t.app.get(IdempotencyRepository);
    // The database refuses the first attempt to keep the answer (a dropped connection, say), after the grant committed.
    const complete = jest.spyOn(repository, 'complete').mockRejectedValueOnce(new Error('Connection terminated unexpectedly'));
    try {
      const first = await grant(o.account, { amount: '4.00' }, o.keys.sales, key);
      // Not a 500 for a write that is done: its answer.
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ kind: 'promotional', amount: '4' });
      // Kept on a later try, in the background.
      await waitFor(async () => ((await keyRows(key)) as { status: number | null }[])[0]?.status === 201);
      expect(complete).toHaveBeenCalledTimes(2);
      // Every later try falls within the minute a retry is told the key is in progress, never after a retry took it over.
      expect(COMPLETE_RETRY_MS.reduce((a, b) => a + b, 0)).toBeLessThan(IN_FLIGHT_MS);
      const retry = await grant(o.account, { amount: '4.00' }, o.keys.sales, key);
      expect(retry.status).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(retry.body).toEqual(first.body);
      expect(await promotional(o.account)).toHaveLength(1);
    } finally {
      complete.mockRestore();
    }
  });

  it('never does a committed write again when its answer was lost with its process: the retry is told it was done', async () => {
    const o = await org();
    const key = fresh();
    const repository = t.app.get(IdempotencyRepository);
    // Every attempt to keep the answer fails, as when the process dies between the write's commit and keeping it.
    const complete = jest.spyOn(repository, 'complete').mockRejectedValue(new Error('Connection terminated unexpectedly'));
    try {
      const first = await grant(o.account, { amount: '7.00' }, o.keys.sales, key);
      expect(first.status).toBe(201);
      // The grant's own transaction marked the key: its commit is as durable as the grant.
      expect(await keyRows(key)).toEqual([{ status: null, completed_at: null }]);
      expect((await committedAt(key))?.toISOString()).toBe(clock.now().toISOString());
      // Within the minute the answer may still be kept: in progress.
      const soon = await grant(o.account, { amount: '7.00' }, o.keys.sales, key);
      expect([soon.status, soon.body.error?.code]).toEqual([409, 'idempotency_key_in_use']);
      // After it, the key is not taken over (a key whose write never committed would be): done, not done again.
      clock.advance(IN_FLIGHT_MS + 1);
      const later = await grant(o.account, { amount: '7.00' }, o.keys.sales, key);
      expect([later.status, later.body.error?.code, later.body.error?.field]).toEqual([409, 'idempotency_key_unanswered', 'Idempotency-Key']);
      expect(later.body.error.message).toContain(`POST /v1/accounts/${o.account}/credits/grants`);
      expect((await promotional(o.account)).map((g) => g.amount)).toEqual(['7']);
      // Another body under the key is still another request.
      expect((await grant(o.account, { amount: '8.00' }, o.keys.sales, key)).body.error?.code).toBe('idempotency_key_reused');
    } finally {
      complete.mockRestore();
    }
    // The background tries keep the answer once the database takes it: from then on a retry is a replay.
    await waitFor(async () => ((await keyRows(key)) as { status: number | null }[])[0]?.status === 201, 40_000);
    const replay = await grant(o.account, { amount: '7.00' }, o.keys.sales, key);
    expect([replay.status, replay.headers['idempotent-replayed']]).toEqual([201, 'true']);
    expect(await promotional(o.account)).toHaveLength(1);
  }, 60_000);

  it('marks the key in the write of each kind of route: an account, a person, a transfer, a plan version, a webhook endpoint, a top-up, an authorization', async () => {
    const o = await org();
    await putBudget(t, o.account, `budget/unit:${o.unit}/month:2026-03-01`, { amount: '10.00' });
    await putBudget(t, o.account, `budget/person:${o.person}/month:2026-03-01`, { amount: '5.00' });
    await t.request('PUT', '/v1/plans/marked-packs', {
      body: { currency: 'EUR', base_fee: '10.00', included_allowance: '5.00', overage_policy: 'bill', topup_packs: [{ id: 'small', allowance: '5.00', price: '6.00', validity_days: 30 }] },
    });
    await t.request('PUT', `/v1/accounts/${o.account}/subscription`, { body: { plan_id: 'marked-packs', start_date: '2026-01-01', billing_anchor_day: 1 } });
    const writes: ['POST' | 'PUT', string, string, unknown][] = [
      ['POST', '/v1/accounts', t.adminKey, { id: `marked-${n}`, name: 'Marked', currency: 'EUR' }],
      ['POST', `/v1/accounts/${o.account}/people`, t.adminKey, { id: `p-marked-${n}`, name: 'Pat', unit_id: o.unit }],
      ['POST', `/v1/accounts/${o.account}/budgets/transfers`, t.adminKey, { period: 'month', from: `person:${o.person}`, to: `unit:${o.unit}`, amount: '1' }],
      ['PUT', `/v1/plans/marked-${n}`, t.adminKey, { currency: 'EUR', base_fee: '1.00', included_allowance: '1.00', overage_policy: 'bill' }],
      ['POST', '/v1/webhook-endpoints', o.keys.finance, { url: 'http://127.0.0.1:9/marked' }],
      ['POST', `/v1/accounts/${o.account}/credits/topups`, o.keys.finance, { id: `marked-${n}`, pack: 'small' }],
      // With Redis a hold's row is written behind its answer; asked for with the header, it is written before it, marked.
      ['POST', '/v1/authorizations', o.keys.agent, { amount: '0.10' }],
    ];
    const complete = jest.spyOn(t.app.get(IdempotencyRepository), 'complete').mockResolvedValue(undefined);
    try {
      for (const [method, url, key, body] of writes) {
        const idempotencyKey = fresh();
        const res = await t.request(method, url, { key, body, headers: { 'idempotency-key': idempotencyKey } });
        expect([method, url, res.status, res.status < 300 ? null : res.body]).toEqual([method, url, res.status, null]);
        expect([url, (await committedAt(idempotencyKey))?.toISOString()]).toEqual([url, clock.now().toISOString()]);
      }
    } finally {
      complete.mockRestore();
    }
  });

  it('marks a key committed in a transaction that wrote, never in one that only read or rolled back, after its request, or in background work', async () => {
    const o = await org();
    const repository = t.app.get(IdempotencyRepository);
    const transactions = t.app.get(TransactionRunner);
    const sales = await newKey(t, { role: 'sales' });
    const url = `/v1/accounts/${o.account}/credits/grants`;
    const claimOf = async (key: string) => {
      const taken = await repository.take(sales.id, key, requestFingerprint('POST', url, {}), `POST ${url}`, clock.now());
      if (!('claim' in taken)) throw new Error('not taken');
      return taken.claim;
    };
    const markOf = (claim: Awaited<ReturnType<typeof claimOf>>) => ({ open: true, write: (tx: Parameters<typeof repository.markCommitted>[0]) => repository.markCommitted(tx, claim, clock.now()) });
    const write = (tx: { query: (sql: string, params: unknown[]) => Promise<unknown> }) =>
      tx.query(`UPDATE accounts SET name = name WHERE id = $1`, [o.account]);

    const read = fresh();
    await withCommitMark(markOf(await claimOf(read)), () => transactions.run((tx) => tx.query('SELECT 1')));
    expect(await committedAt(read)).toBeNull();

    const failed = fresh();
    await expect(
      withCommitMark(markOf(await claimOf(failed)), () =>
        transactions.run(async (tx) => {
          await write(tx);
          throw new Error('refused');
        }),
      ),
    ).rejects.toThrow('refused');
    expect(await committedAt(failed)).toBeNull();

    const closed = fresh();
    const mark = markOf(await claimOf(closed));
    mark.open = false;
    await withCommitMark(mark, () => transactions.run(write));
    expect(await committedAt(closed)).toBeNull();

    // Background work a request's timer starts (the in-process jobs' poll) runs outside its mark.
    const background = fresh();
    await withCommitMark(markOf(await claimOf(background)), () => new Promise((done) => setTimeout(() => void withoutCommitMark(() => transactions.run(write)).then(done), 0)));
    expect(await committedAt(background)).toBeNull();

    const wrote = fresh();
    await withCommitMark(markOf(await claimOf(wrote)), () => transactions.run(write));
    expect(await committedAt(wrote)).toBeInstanceOf(Date);
    // A committed key is not taken over after the minute; a key that only read is.
    clock.advance(IN_FLIGHT_MS + 1);
    expect('stored' in (await repository.take(sales.id, wrote, requestFingerprint('POST', url, {}), `POST ${url}`, clock.now()))).toBe(true);
    expect('claim' in (await repository.take(sales.id, read, requestFingerprint('POST', url, {}), `POST ${url}`, clock.now()))).toBe(true);
  });

  it('tells a retry the first request is in progress, until it is abandoned', async () => {
    const o = await org();
    const key = fresh();
    const body = { amount: '2.00' };
    const url = `/v1/accounts/${o.account}/credits/grants`;
    // A request that took the key and has not answered (its process died, say).
    const sales = await newKey(t, { role: 'sales' });
    const taken = await t.app.get(IdempotencyRepository).take(sales.id, key, requestFingerprint('POST', url, body), `POST ${url}`, clock.now());
    expect('claim' in taken).toBe(true);
    const busy = await grant(o.account, body, sales.secret, key);
    expect(busy.status).toBe(409);
    expect(busy.body.error).toMatchObject({ code: 'idempotency_key_in_use', field: 'Idempotency-Key' });
    expect(await promotional(o.account)).toHaveLength(0);
    clock.advance(IN_FLIGHT_MS + 1);
    const takenOver = await grant(o.account, body, sales.secret, key);
    expect(takenOver.status).toBe(201);
    expect(await promotional(o.account)).toHaveLength(1);
  });

  it('forgets a key after a day: then it is a new request, and the daily job prunes it', async () => {
    const o = await org();
    const key = fresh();
    expect((await grant(o.account, { amount: '1.00' }, o.keys.sales, key)).status).toBe(201);
    clock.advance(KEY_TTL_MS - 1);
    expect((await grant(o.account, { amount: '1.00' }, o.keys.sales, key)).headers['idempotent-replayed']).toBe('true');
    clock.advance(2);
    const later = await grant(o.account, { amount: '5.00' }, o.keys.sales, key);
    expect(later.status).toBe(201);
    expect((await promotional(o.account)).map((g) => g.amount).sort()).toEqual(['1', '5']);
    const older = fresh();
    expect((await grant(o.account, { amount: '1.50' }, o.keys.sales, older)).status).toBe(201);
    clock.advance(KEY_TTL_MS + 1);
    expect(await t.app.get(IdempotencyHousekeeping).prune({ period: 'test' })).toBeGreaterThanOrEqual(2);
    expect(await keyRows(older)).toEqual([]);
  });

  it('refuses a malformed key before doing anything', async () => {
    const o = await org();
    for (const bad of ['with space', 'x'.repeat(256), 'ünïcode']) {
      const res = await grant(o.account, { amount: '1.00' }, o.keys.sales, bad);
      expect([res.status, res.body.error.code, res.body.error.field]).toEqual([400, 'invalid_idempotency_key', 'Idempotency-Key']);
    }
    expect(await promotional(o.account)).toHaveLength(0);
  });

  it('answers a retried authorization with the same reservation, holding once', async () => {
    const o = await org();
    await putBudget(t, o.account, `budget/person:${o.person}/month:2026-03-01`, { amount: '1.00' });
    const key = fresh();
    const hold = () => t.request('POST', '/v1/authorizations', { key: o.keys.agent, body: { amount: '0.60' }, headers: { 'idempotency-key': key } });
    const first = await hold();
    expect(first.body.allowed).toBe(true);
    const again = await hold();
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.reservation_id).toBe(first.body.reservation_id);
    // Held once: a second 0.60 does not fit in 1.00 beside the first.
    const next = await t.post('/v1/authorizations', { amount: '0.60' }, o.keys.agent);
    expect(next.body).toMatchObject({ allowed: false });
  });

  it('never holds a retried authorization twice when its answer was lost with its process, on any store', async () => {
    const o = await org();
    await putBudget(t, o.account, `budget/person:${o.person}/month:2026-03-01`, { amount: '1.00' });
    const key = fresh();
    const hold = () => t.request('POST', '/v1/authorizations', { key: o.keys.agent, body: { amount: '0.40' }, headers: { 'idempotency-key': key } });
    const complete = jest.spyOn(t.app.get(IdempotencyRepository), 'complete').mockRejectedValue(new Error('Connection terminated unexpectedly'));
    let reservation: string;
    try {
      const first = await hold();
      expect([first.status, first.body.allowed]).toEqual([200, true]);
      reservation = first.body.reservation_id as string;
      // The hold's row and the key's mark committed together, before the answer (with Redis too, whose rows are otherwise written behind).
      const rows = (await t.app.get(DataSource).query('SELECT id FROM authorization_reservations WHERE account_id = $1', [o.account])) as { id: string }[];
      expect(rows).toEqual([{ id: reservation }]);
      expect((await committedAt(key))?.toISOString()).toBe(clock.now().toISOString());
      clock.advance(IN_FLIGHT_MS + 1);
      const later = await hold();
      expect([later.status, later.body.error?.code]).toEqual([409, 'idempotency_key_unanswered']);
    } finally {
      complete.mockRestore();
    }
    // Held once: 0.60 is left beside the first 0.40, not 0.20 beside two.
    const next = await t.post('/v1/authorizations', { amount: '0.60' }, o.keys.agent);
    expect(next.body).toMatchObject({ allowed: true });
    expect(next.body.levels.find((l: { level: string }) => l.level.startsWith('budget/person:'))).toMatchObject({ held: { amount: '1' }, left: { amount: '0' } });
    expect((await t.request('DELETE', `/v1/authorizations/${reservation}`, { key: o.keys.agent })).status).toBe(200);
  }, 60_000);

  it('keeps a replay’s status: a top-up answered 201 is replayed 201, not the 200 of a repeated purchase id', async () => {
    const o = await org();
    const plan = await t.request('PUT', '/v1/plans/idempotent-packs', {
      body: { currency: 'EUR', base_fee: '10.00', included_allowance: '5.00', overage_policy: 'bill', topup_packs: [{ id: 'small', allowance: '5.00', price: '6.00', validity_days: 30 }] },
    });
    expect(plan.status).toBeLessThan(300);
    const sub = await t.request('PUT', `/v1/accounts/${o.account}/subscription`, { body: { plan_id: 'idempotent-packs', start_date: '2026-01-01', billing_anchor_day: 1 } });
    expect(sub.status).toBe(200);
    const key = fresh();
    const buy = (headers: Record<string, string>) =>
      t.request('POST', `/v1/accounts/${o.account}/credits/topups`, { key: o.keys.finance, body: { id: 'p1', pack: 'small' }, headers });
    expect((await buy({ 'idempotency-key': key })).status).toBe(201);
    const again = await buy({ 'idempotency-key': key });
    expect([again.status, again.headers['idempotent-replayed']]).toEqual([201, 'true']);
    // The purchase id alone answers a repeat 200.
    expect((await buy({})).status).toBe(200);
  });

  it('publishes a plan version once for a retried PUT', async () => {
    const key = fresh();
    const plan = `idempotent-${n}`;
    const put = () =>
      t.request('PUT', `/v1/plans/${plan}`, { body: { currency: 'EUR', base_fee: '10.00', included_allowance: '5.00', overage_policy: 'bill' }, headers: { 'idempotency-key': key } });
    expect((await put()).body.version).toBe(1);
    const again = await put();
    expect([again.body.version, again.headers['idempotent-replayed']]).toEqual([1, 'true']);
    expect((await t.get(`/v1/plans/${plan}/versions`)).body.data).toHaveLength(1);
  });

  it('documents the header on every write route but those idempotent by their own ids and the key issue', async () => {
    const document = (await t.get('/docs-json', null)).body as { paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>> };
    const posts = Object.entries(document.paths).flatMap(([path, item]) => (item.post === undefined ? [] : [{ path, op: item.post }]));
    const without = posts.filter(({ op }) => !(op.parameters ?? []).some((p) => p.in === 'header' && p.name === 'Idempotency-Key')).map((p) => p.path);
    // A new key's secret is never stored, so no answer holding it is kept to be given again.
    expect(without.sort()).toEqual(['/v1/api-keys', '/v1/events', '/v1/stripe/webhook']);
    expect(posts.length).toBeGreaterThan(15);
    // A plan's PUT publishes a new version each time: it takes the header too.
    expect(document.paths['/v1/plans/{plan}']!.put!.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'Idempotency-Key' }));
  });
});
