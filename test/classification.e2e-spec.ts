// Effective-spend classification through the API: labels while a task is open, relabelling when it is
// closed (by an event, by the close API, by the inactivity timeout), and rollups that always equal the
// raw events (tokens move between labels, never appear or vanish).
import { ManualClock } from '../src/clock/clock.js';
import { TasksService } from '../metering/tasks/tasks.service.js';
import { RepricingService } from '../metering/pricing/repricing.service.js';
import { RebuildService } from '../metering/rebuild/rebuild.service.js';
import { DataSource } from 'typeorm';
import { expectLabelsAsRebuilt, expectRollupsMatchRaw, labelsOf, labelTotals, setupPricing } from './support/metering.js';
import { newAgent, newKey, newOrg, newPerson, startTestApp, type TestApp } from './support/test-app.js';

/**
 * Publishes an audited correction from 2026-03-01 (base input 0.40 per million tokens) and waits for the
 * pricing cache to see it (it re-checks every 500 ms).
 */
async function publishCorrection(t: TestApp) {
  const correction = await t.post('/v1/price-books', {
    effective_from: '2026-03-01T00:00:00Z',
    correction: true,
    reason: 'base input was mispriced',
    tiers: {
      base: { input: '0.40', output: '1.50' },
      specialized: { input: '2.50', cached_input: '1.25', output: '10.00' },
      premier: { input: '15.00', cached_input: '1.50', cache_write: '18.75', output: '75.00' },
    },
  });
  expect(correction.status).toBe(201);
  await new Promise((r) => setTimeout(r, 600));
  return correction;
}

describe('classification and repricing', () => {
  let t: TestApp;
  let clock: ManualClock;
  let org: Awaited<ReturnType<typeof newOrg>>;
  const send = (events: unknown[]) => t.post('/v1/events', { events }, org.keys.agent);
  const ev = (id: string, extra: Record<string, unknown>) => ({
    id,
    timestamp: clock.now().toISOString(),
    model: 'qwen-turbo',
    usage: { input: 1000, output: 100 },
    ...extra,
  });

  beforeAll(async () => {
    clock = new ManualClock('2026-03-15T12:00:00.000Z');
    t = await startTestApp({ clock });
    org = await newOrg(t);
    await setupPricing(t, org.account);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('without a task: success effective, failure ineffective, no outcome unclassified', async () => {
    const res = await send([ev('s1', { outcome: 'success' }), ev('s2', { outcome: 'failure' }), ev('s3', {})]);
    expect(res.body.results.map((r: { label: string }) => r.label)).toEqual(['effective', 'ineffective', 'unclassified']);
  });

  it('relabels a task when it succeeds: first failure of a signature learned from, repeats not', async () => {
    const open = await send([
      ev('t1-a1', { task_id: 't1', attempt_id: 'a1', outcome: 'failure', error_signature: 'E_TIMEOUT' }),
      ev('t1-a2', { task_id: 't1', attempt_id: 'a2', outcome: 'failure', error_signature: 'E_TIMEOUT' }),
      ev('t1-a3', { task_id: 't1', attempt_id: 'a3', outcome: 'failure', error_signature: 'E_PARSE' }),
      ev('t1-a4', { task_id: 't1', attempt_id: 'a4' }),
    ]);
    expect(open.body.results.map((r: { label: string }) => r.label)).toEqual(['pending', 'pending', 'pending', 'pending']);
    const before = await labelTotals(t, org.account);
    clock.advance(60_000);
    const done = await send([ev('t1-a5', { task_id: 't1', attempt_id: 'a5', outcome: 'success', task_status: 'succeeded' })]);
    expect(done.body.results[0].label).toBe('effective');
    const labels = await labelsOf(t, org.account);
    expect([labels['t1-a1'], labels['t1-a2'], labels['t1-a3'], labels['t1-a4']]).toEqual(['effective', 'ineffective', 'effective', 'effective']);
    await expectRollupsMatchRaw(t, org.account);
    const after = await labelTotals(t, org.account);
    const sum = (rows: { tokens: string }[]) => rows.reduce((s, r) => s + Number(r.tokens), 0);
    expect(sum(after.raw)).toBe(sum(before.raw) + 1100); // only the new event's tokens were added
  });

  it('the close API resolves a task as failed: every attempt that did not succeed is ineffective', async () => {
    await send([
      ev('t2-a1', { task_id: 't2', attempt_id: 'a1', outcome: 'failure' }),
      ev('t2-a2', { task_id: 't2', attempt_id: 'a2', outcome: 'success' }),
      ev('t2-a3', { task_id: 't2', attempt_id: 'a3' }),
    ]);
    const res = await t.post('/v1/tasks/t2/close', { status: 'failed' }, org.keys.agent);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ task_id: 't2', status: 'failed', relabelled_events: 2 });
    const labels = await labelsOf(t, org.account);
    expect([labels['t2-a1'], labels['t2-a2'], labels['t2-a3']]).toEqual(['ineffective', 'effective', 'ineffective']);
    await expectRollupsMatchRaw(t, org.account);
    expect((await t.post('/v1/tasks/no-such-task/close', { status: 'failed' }, org.keys.agent)).status).toBe(404);
  });

  it('a task closed succeeded is answered as it is when closed succeeded again, and refused (409) when closed failed: its spend is not relabelled', async () => {
    clock.advance(60_000);
    await send([
      ev('dep-a1', { task_id: 'deploy', attempt_id: 'a1', outcome: 'failure', error_signature: 'E1' }),
      ev('dep-a2', { task_id: 'deploy', attempt_id: 'a2', outcome: 'success', task_status: 'succeeded' }),
    ]);
    const closedAt = clock.now().toISOString();
    const labels = await labelsOf(t, org.account);
    expect([labels['dep-a1'], labels['dep-a2']]).toEqual(['effective', 'effective']);
    const before = await labelTotals(t, org.account);
    clock.advance(60_000);
    const again = await t.post('/v1/tasks/deploy/close', { status: 'succeeded' }, org.keys.agent);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ task_id: 'deploy', status: 'succeeded', relabelled_events: 0 });
    const refused = await t.post('/v1/tasks/deploy/close', { status: 'failed' }, org.keys.finance);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'task_already_closed', field: 'task', task_status: 'succeeded', closed_at: closedAt });
    expect(refused.body.error.message).toContain(`already closed as succeeded at ${closedAt}`);
    expect((await t.post('/v1/tasks/deploy/close', { status: 'abandoned' }, org.keys.member)).body.error).toMatchObject({ code: 'task_already_closed', task_status: 'succeeded' });
    // Nothing moved: labels, totals and the task row (who closed it, when) are as they were.
    const after = await labelsOf(t, org.account);
    expect([after['dep-a1'], after['dep-a2']]).toEqual(['effective', 'effective']);
    expect(await labelTotals(t, org.account)).toEqual(before);
    const [task] = await t.app.get(DataSource).query('SELECT status, closed_at FROM tasks WHERE account_id = $1 AND task_id = $2', [org.account, 'deploy']);
    expect(task).toEqual({ status: 'succeeded', closed_at: new Date(closedAt) });
    // The inactivity timeout never re-closes it either.
    clock.advance(25 * 3_600_000);
    await t.app.get(TasksService).abandonIdle({ period: 'test' });
    expect((await t.app.get(DataSource).query('SELECT status FROM tasks WHERE account_id = $1 AND task_id = $2', [org.account, 'deploy']))[0].status).toBe('succeeded');
    await expectRollupsMatchRaw(t, org.account);
  });

  it('an agent key closes only tasks of its agent, a member key only tasks of its agents, finance any task of the account', async () => {
    // Another person of the account, with an agent of their own, and a second agent of the first person.
    const bob = await newPerson(t, org.account, org.unit);
    const bobsAgent = await newAgent(t, org.account, bob.id);
    const bobKey = (await newKey(t, { role: 'agent', account: org.account, agent_id: bobsAgent.id })).secret;
    const bobMember = (await newKey(t, { role: 'member', account: org.account, person_id: bob.id })).secret;
    const sibling = await newAgent(t, org.account, org.person);
    const siblingKey = (await newKey(t, { role: 'agent', account: org.account, agent_id: sibling.id })).secret;
    const mine = async (task: string) => send([ev(`${task}-a1`, { task_id: task, attempt_id: 'a1', outcome: 'failure' })]);
    const close = (task: string, key: string, status = 'failed') => t.post(`/v1/tasks/${task}/close`, { status }, key);

    await mine('own-1');
    for (const key of [bobKey, siblingKey, bobMember]) {
      const res = await close('own-1', key);
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'task_not_yours', field: 'task' });
    }
    expect((await labelsOf(t, org.account))['own-1-a1']).toBe('pending');
    expect(await close('own-1', org.keys.agent)).toMatchObject({ status: 200, body: { task_id: 'own-1', status: 'failed', relabelled_events: 1 } });

    await mine('own-2');
    expect(await close('own-2', org.keys.member)).toMatchObject({ status: 200, body: { relabelled_events: 1 } });
    await mine('own-3');
    expect(await close('own-3', org.keys.finance)).toMatchObject({ status: 200, body: { relabelled_events: 1 } });
    // Bob's agent closes its own task; the first person's keys may not.
    await t.post('/v1/events', { events: [ev('bob-a1', { task_id: 'bobs', attempt_id: 'a1', outcome: 'failure' })] }, bobKey);
    expect((await close('bobs', org.keys.agent)).status).toBe(403);
    expect((await close('bobs', org.keys.member)).status).toBe(403);
    expect(await close('bobs', bobMember, 'abandoned')).toMatchObject({ status: 200, body: { status: 'abandoned', relabelled_events: 1 } });
    await expectRollupsMatchRaw(t, org.account);
  });

  it('explicit learned_from decides exactly which failures were learned from', async () => {
    await send([
      ev('t3-a1', { task_id: 't3', attempt_id: 'a1', outcome: 'failure', error_signature: 'A' }),
      ev('t3-a2', { task_id: 't3', attempt_id: 'a2', outcome: 'failure', error_signature: 'B' }),
      ev('t3-a3', { task_id: 't3', attempt_id: 'a3', outcome: 'success', learned_from: ['a2'], task_status: 'succeeded' }),
    ]);
    const labels = await labelsOf(t, org.account);
    expect([labels['t3-a1'], labels['t3-a2'], labels['t3-a3']]).toEqual(['ineffective', 'effective', 'effective']);
    await expectRollupsMatchRaw(t, org.account);
  });

  it('abandons a task after the inactivity timeout', async () => {
    await send([ev('t4-a1', { task_id: 't4', attempt_id: 'a1', outcome: 'failure' })]);
    const tasks = t.app.get(TasksService);
    clock.advance(23 * 3_600_000);
    await tasks.abandonIdle({ period: 'test' });
    expect((await labelsOf(t, org.account))['t4-a1']).toBe('pending');
    clock.advance(2 * 3_600_000);
    await tasks.abandonIdle({ period: 'test' });
    expect((await labelsOf(t, org.account))['t4-a1']).toBe('ineffective');
    await expectRollupsMatchRaw(t, org.account);
  });

  it('prices an unknown model once sales adds it, and lists it until then', async () => {
    const before = (await t.get(`/v1/accounts/${org.account}/meter?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z`)).body;
    const res = await send([ev('u1', { model: 'brand-new-2026-03-01', usage: { input: 2000, output: 0 } })]);
    expect(res.body.results[0]).toMatchObject({ priced: false, needs_pricing: true });
    // Its tokens are read, and said to be outside the cost, in every reading: not a cost of zero.
    const meter = (query: string) => t.get(`/v1/accounts/${org.account}/meter?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z${query}`);
    const unpricedTotals = (await meter('')).body.totals;
    expect(unpricedTotals).toMatchObject({ cost: before.totals.cost, unpriced_tokens: before.totals.unpriced_tokens + 2000 });
    expect(unpricedTotals.tokens.total).toBe(before.totals.tokens.total + 2000);
    const byModel = (await meter('&group_by=model,tier')).body.rows;
    expect(byModel.find((r: { key: { model: string } }) => r.key.model === 'brand-new-2026-03-01')).toMatchObject({
      key: { tier: null },
      calls: 1,
      tokens: { total: 2000 },
      cost: '0.000000000000',
      unpriced_tokens: 2000,
    });
    for (const r of byModel) if (r.key.model !== 'brand-new-2026-03-01') expect(r.unpriced_tokens).toBe(0);
    const byPerson = (await meter('&group_by=person')).body.rows;
    expect(byPerson.reduce((n: number, r: { unpriced_tokens: number }) => n + r.unpriced_tokens, 0)).toBe(unpricedTotals.unpriced_tokens);
    const csv = await t.request('GET', `/v1/accounts/${org.account}/meter?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&group_by=model`, {
      headers: { accept: 'text/csv' },
    });
    const [header, ...lines] = csv.text.split('\r\n');
    const column = header!.split(',').indexOf('unpriced_tokens');
    expect(column).toBeGreaterThan(0);
    expect(lines.find((l) => l.startsWith('brand-new-2026-03-01,'))!.split(',')[column]).toBe('2000');
    await expectRollupsMatchRaw(t, org.account);
    const listed = await t.get('/v1/unpriced-models');
    expect(listed.body.data).toEqual([expect.objectContaining({ model: 'brand-new-2026-03-01', events: 1, accounts: 1 })]);
    const repricing = t.app.get(RepricingService);
    expect(await repricing.priceUnpriced({ period: 'test' })).toBe(0);
    expect((await t.request('PUT', '/v1/models/brand-new', { body: { tier: 'premier', provider: 'x', aliases: [] } })).status).toBeLessThan(300);
    expect(await repricing.priceUnpriced({ period: 'test' })).toBe(1);
    const events = await t.app.get((await import('typeorm')).DataSource).query(
      `SELECT model_id, tier, cost::text FROM events WHERE account_id = $1 AND event_id = 'u1'`,
      [org.account],
    );
    expect(events[0]).toMatchObject({ model_id: 'brand-new', tier: 'premier' });
    expect(Number(events[0].cost)).toBeCloseTo(0.03, 12); // 2000 * 15 / 1M
    expect((await t.get('/v1/unpriced-models')).body.data).toEqual([]);
    await expectRollupsMatchRaw(t, org.account);
    // Priced: its tokens move from unpriced into the cost of its model's row and the totals.
    const pricedTotals = (await meter('')).body.totals;
    expect(pricedTotals.unpriced_tokens).toBe(before.totals.unpriced_tokens);
    expect(Number(pricedTotals.cost) - Number(before.totals.cost)).toBeCloseTo(0.03, 12);
    const row = (await meter('&group_by=model,tier')).body.rows.find((r: { key: { model: string } }) => r.key.model === 'brand-new');
    expect(row).toMatchObject({ key: { tier: 'premier' }, unpriced_tokens: 0, tokens: { total: 2000 } });
  });

  it('an audited price-book correction reprices the events it covers', async () => {
    await send([ev('c1', { timestamp: '2026-03-10T10:00:00Z', model: 'qwen-turbo', usage: { input: 1_000_000, output: 0 } })]);
    await publishCorrection(t);
    const repriced = await t.app.get(RepricingService).applyCorrections({ period: 'test' });
    expect(repriced).toBeGreaterThan(0);
    const [row] = await t.app.get((await import('typeorm')).DataSource).query(
      `SELECT cost::text FROM events WHERE account_id = $1 AND event_id = 'c1'`,
      [org.account],
    );
    expect(Number(row.cost)).toBeCloseTo(0.4, 12);
    await expectRollupsMatchRaw(t, org.account);
    // Applied once: running it again changes nothing.
    expect(await t.app.get(RepricingService).applyCorrections({ period: 'test' })).toBe(0);
  });

  it('a task event sent again is a duplicate; its id under another task is a conflict that changes no label', async () => {
    const first = ev('rs1', { task_id: 'resend', attempt_id: 'a1', outcome: 'failure', error_signature: 'E1' });
    expect((await send([first])).body.results[0]).toMatchObject({ status: 'accepted', label: 'pending' });
    expect((await send([first])).body.results[0]).toMatchObject({ status: 'duplicate', label: 'pending' });
    const other = await send([ev('victim', { task_id: 'other-task', attempt_id: 'v1', outcome: 'failure', error_signature: 'E9' })]);
    expect(other.body.results[0].status).toBe('accepted');
    // rs1 again, now claiming to have succeeded in other-task: a conflict, and other-task stays as it was.
    const hijack = await send([{ ...first, task_id: 'other-task', outcome: 'success', task_status: 'succeeded' }]);
    expect(hijack.body.results[0]).toMatchObject({ status: 'conflict', fields: expect.arrayContaining(['task_id', 'outcome', 'task_status']) });
    const labels = await labelsOf(t, org.account);
    expect(labels.victim).toBe('pending');
    expect(labels.rs1).toBe('pending');
    await expectRollupsMatchRaw(t, org.account);
  });

  it('concurrent requests sharing tasks and ids: each id counted once, labels as a rebuild from scratch gives them', async () => {
    const tasks = ['cc-a', 'cc-b', 'cc-c'];
    const requests = Array.from({ length: 24 }, (_, r) =>
      Array.from({ length: 5 }, (_, k) => {
        const n = (r * 5 + k) % 40; // ids repeat across requests: 120 events, 40 ids
        const task = tasks[n % 3]!;
        return ev(`cc-${n}`, {
          task_id: task,
          attempt_id: `${task}-${n}`,
          outcome: n % 4 === 0 ? 'success' : 'failure',
          error_signature: `E${n % 5}`,
          ...(n === 39 ? { task_status: 'succeeded' } : {}),
        });
      }),
    );
    const answers = await Promise.all(requests.map((events) => send(events)));
    const statuses = answers.flatMap((a) => a.body.results.map((r: { status: string }) => r.status));
    expect(statuses.filter((s) => s === 'accepted')).toHaveLength(40);
    expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(80);
    const db = t.app.get(DataSource);
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM events WHERE account_id = $1 AND event_id LIKE 'cc-%'`, [org.account]);
    expect(n).toBe(40);
    await expectRollupsMatchRaw(t, org.account);
    await expectLabelsAsRebuilt(t, org.account);
  });

  it('a rebuild from raw events gives identical labels and readings', async () => {
    const db = t.app.get(DataSource);
    const readings = async () => ({
      hourly: await db.query(
        `SELECT hour, model, tier, unit_id, person_id, agent_id, operation, channel, label, session_context,
                sum(calls)::text calls, sum(input)::text input, sum(cached_input)::text ci, sum(cache_write)::text cw,
                sum(output)::text output, sum(reasoning)::text reasoning, sum(cost)::numeric(40,18)::text cost
           FROM meter_hourly WHERE account_id = $1
          GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 HAVING sum(calls) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10`,
        [org.account],
      ),
      daily: await db.query(
        `SELECT day::text, tier, label, channel, sum(calls)::text calls, sum(input + cached_input + cache_write + output)::text tokens,
                sum(cost)::numeric(40,18)::text cost
           FROM meter_daily WHERE account_id = $1 GROUP BY 1, 2, 3, 4 HAVING sum(calls) <> 0 ORDER BY 1, 2, 3, 4`,
        [org.account],
      ),
      labels: await labelsOf(t, org.account),
    });
    const before = await readings();
    expect(before.hourly.length).toBeGreaterThan(3);
    const report = await t.app.get(RebuildService).rebuild(org.account);
    expect(report).toMatchObject({ accounts: 1, relabelled: 0 });
    expect(report.tasks).toBeGreaterThanOrEqual(4);
    expect(await readings()).toEqual(before);

    // Damaged labels in several tasks and a lost rollup row are repaired, a few tasks per step or all at once.
    for (const tasksPerStep of [1, 1000]) {
      // An UPDATE ... RETURNING answers [rows, count] through TypeORM.
      const [damaged]: [{ event_id: string }[], number] = await db.query(
        `UPDATE events SET label = CASE label WHEN 'effective' THEN 'ineffective' ELSE 'effective' END
          WHERE account_id = $1 AND event_id IN (
            SELECT DISTINCT ON (task_id) event_id FROM events WHERE account_id = $1 AND task_id IS NOT NULL ORDER BY task_id, event_id)
          RETURNING event_id`,
        [org.account],
      );
      expect(damaged.length).toBeGreaterThanOrEqual(4);
      await db.query('DELETE FROM meter_hourly WHERE ctid = (SELECT ctid FROM meter_hourly WHERE account_id = $1 LIMIT 1)', [org.account]);
      expect(await readings()).not.toEqual(before);
      const repaired = await t.app.get(RebuildService).rebuild(org.account, tasksPerStep);
      expect(repaired).toMatchObject({ accounts: 1, tasks: report.tasks, relabelled: damaged.length });
      expect(await readings()).toEqual(before);
    }
  });
});

describe('a price-book correction and the events ingested after it', () => {
  let t: TestApp;
  afterEach(async () => {
    await t?.close();
  });

  it('reprices what an earlier version priced and does not read what the correction itself priced', async () => {
    const clock = new ManualClock('2026-03-15T12:00:00.000Z');
    t = await startTestApp({ clock });
    const org = await newOrg(t);
    await setupPricing(t, org.account);
    const send = (id: string) =>
      t.post('/v1/events', { events: [{ id, timestamp: '2026-03-10T10:00:00Z', model: 'qwen-turbo', usage: { input: 1_000_000, output: 0 } }] }, org.keys.agent);
    const before = await send('priced-before');
    const correction = await publishCorrection(t);
    const after = await send('priced-after');
    expect(after.body.results[0].cost.total).toBe('0.400000000000');
    expect(before.body.results[0].cost.total).not.toBe('0.400000000000');

    // One event read and repriced: the one the earlier book priced.
    expect(await t.app.get(RepricingService).applyCorrections({ period: 'test' })).toBe(1);
    const rows: { event_id: string; cost: string; price_book_version: number }[] = await t.app.get(DataSource).query(
      'SELECT event_id, cost::text AS cost, price_book_version FROM events WHERE account_id = $1 ORDER BY event_id',
      [org.account],
    );
    const version = correction.body.version;
    expect(rows).toEqual([
      { event_id: 'priced-after', cost: '0.400000000000', price_book_version: version },
      { event_id: 'priced-before', cost: '0.400000000000', price_book_version: version },
    ]);
    await expectRollupsMatchRaw(t, org.account);
  });
});
