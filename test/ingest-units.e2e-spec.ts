// What the ingest write derives as it stores an event. Its time: sent to the database as epoch
// milliseconds, stored to the millisecond. Its unit, when it names none: its person's unit at the
// event's time, or, for an event older than their first membership, the unit they started in. An event
// may name that unit and no other. The rollups (readings by unit) agree with the stored events.
import { DataSource } from 'typeorm';
import { ManualClock } from '../src/clock/clock.js';
import { expectRollupsMatchRaw, setupPricing } from './support/metering.js';
import { newAgent, newKey, newOrg, newPerson, newUnit, startTestApp, type TestApp } from './support/test-app.js';

describe('ingest: the time and the unit of an event', () => {
  let t: TestApp;
  afterEach(async () => {
    await t?.close();
  });

  it('is the person’s unit at the event’s time, the first one before they had any, named or not', async () => {
    const clock = new ManualClock('2026-05-10T00:00:00.000Z');
    t = await startTestApp({ clock });
    const org = await newOrg(t); // the person joins org.unit now
    await setupPricing(t, org.account);
    const platform = await newUnit(t, org.account);
    clock.set('2026-05-12T00:00:00.000Z');
    const move = await t.request('PATCH', `/v1/accounts/${org.account}/people/${org.person}`, {
      key: org.keys.finance,
      body: { unit_id: platform.id, effective_from: '2026-05-11T00:00:00Z' },
    });
    expect(move.status).toBe(200);
    // A second person who only ever was in platform, from now on.
    const other = await newPerson(t, org.account, platform.id);
    const otherAgent = await newAgent(t, org.account, other.id);
    const otherKey = (await newKey(t, { role: 'agent', account: org.account, agent_id: otherAgent.id })).secret;

    const ev = (id: string, timestamp: string, extra: Record<string, unknown> = {}) => ({ id, timestamp, model: 'qwen-turbo', usage: { input: 100, output: 10 }, ...extra });
    const sent = await Promise.all([
      t.post('/v1/events', { events: [
        ev('before-joining', '2026-05-01T00:00:00Z'),
        ev('in-first-unit', '2026-05-10T12:00:00Z'),
        ev('at-the-move', '2026-05-11T00:00:00Z'),
        ev('after-the-move', '2026-05-11T06:00:00Z'),
        ev('names-its-unit', '2026-05-11T07:00:00Z', { unit_id: platform.id }),
        ev('names-its-unit-before-the-move', '2026-05-10T23:00:00Z', { unit_id: org.unit }),
      ] }, org.keys.agent),
      t.post('/v1/events', { events: [ev('other-before-joining', '2026-05-02T00:00:00Z'), ev('other-now', '2026-05-11T23:00:00Z')] }, otherKey),
    ]);
    for (const s of sent) expect(s.body.results.map((r: { status: string }) => r.status).every((s: string) => s === 'accepted')).toBe(true);

    const rows: { event_id: string; unit_id: string }[] = await t.app.get(DataSource).query(
      'SELECT event_id, unit_id FROM events WHERE account_id = $1 ORDER BY event_id',
      [org.account],
    );
    expect(Object.fromEntries(rows.map((r) => [r.event_id, r.unit_id]))).toEqual({
      'before-joining': org.unit,
      'in-first-unit': org.unit,
      'at-the-move': platform.id,
      'after-the-move': platform.id,
      'names-its-unit': platform.id,
      'names-its-unit-before-the-move': org.unit,
      'other-before-joining': platform.id,
      'other-now': platform.id,
    });
    const byUnit = await t.get(`/v1/accounts/${org.account}/meter?from=2026-05-01T00:00:00Z&to=2026-05-13T00:00:00Z&group_by=unit`, org.keys.finance);
    expect(byUnit.status).toBe(200);
    expect(Object.fromEntries(byUnit.body.rows.map((r: { key: { unit: string }; calls: number }) => [r.key.unit, r.calls]))).toEqual({ [org.unit]: 3, [platform.id]: 5 });
    await expectRollupsMatchRaw(t, org.account);
  });

  it('stores the event’s time and the time it was received to the millisecond, offsets resolved, the earliest time taken included', async () => {
    const clock = new ManualClock('2026-05-10T08:30:15.987Z');
    t = await startTestApp({ clock });
    const org = await newOrg(t);
    await setupPricing(t, org.account);
    const sent = {
      'ms': '2026-05-10T08:30:14.001Z',
      'micro': '2026-05-10T08:30:14.999999Z',
      'offset': '2026-05-10T10:00:00.5+02:00',
      'earliest': '2000-01-01T00:00:00.123Z',
      'leap-day': '2024-02-29T23:59:59.999Z',
    };
    const res = await t.post('/v1/events', { events: Object.entries(sent).map(([id, timestamp]) => ({ id, timestamp, model: 'qwen-turbo', usage: { input: 1, output: 1 } })) }, org.keys.agent);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted']);
    const rows: { event_id: string; ts: Date; received_at: Date }[] = await t.app.get(DataSource).query(
      'SELECT event_id, ts, received_at FROM events WHERE account_id = $1',
      [org.account],
    );
    expect(Object.fromEntries(rows.map((r) => [r.event_id, r.ts.toISOString()]))).toEqual({
      'ms': '2026-05-10T08:30:14.001Z',
      'micro': '2026-05-10T08:30:14.999Z',
      'offset': '2026-05-10T08:00:00.500Z',
      'earliest': '2000-01-01T00:00:00.123Z',
      'leap-day': '2024-02-29T23:59:59.999Z',
    });
    for (const r of rows) expect(r.received_at.toISOString()).toBe('2026-05-10T08:30:15.987Z');
  });

  it('keeps writing, relabelling included, when a later release has added a column to events', async () => {
    const clock = new ManualClock('2026-05-10T08:00:00.000Z');
    t = await startTestApp({ clock });
    const org = await newOrg(t);
    await setupPricing(t, org.account);
    const db = t.app.get(DataSource);
    await db.query('ALTER TABLE events ADD COLUMN added_by_a_later_release text');
    const ev = (id: string, extra: Record<string, unknown>) => ({ id, timestamp: clock.now().toISOString(), model: 'qwen-turbo', usage: { input: 10, output: 1 }, ...extra });
    const first = await t.post('/v1/events', { events: [ev('a1', { task_id: 'later', attempt_id: 'a1', outcome: 'failure', error_signature: 'E' })] }, org.keys.agent);
    expect(first.body.results[0]).toMatchObject({ status: 'accepted', label: 'pending' });
    // The task is known now: its next events take the locked path, and closing it relabels a1.
    const done = await t.post('/v1/events', { events: [ev('a2', { task_id: 'later', attempt_id: 'a2', outcome: 'success', task_status: 'succeeded' })] }, org.keys.agent);
    expect(done.body.results[0]).toMatchObject({ status: 'accepted', label: 'effective' });
    const labels: { event_id: string; label: string }[] = await db.query('SELECT event_id, label FROM events WHERE account_id = $1 ORDER BY event_id', [org.account]);
    expect(labels).toEqual([{ event_id: 'a1', label: 'effective' }, { event_id: 'a2', label: 'effective' }]);
    await expectRollupsMatchRaw(t, org.account);
  });
});

// An event may name its unit only as its person's unit at its time: an agent reports for its owner, and
// naming another unit would move its spend (and the hard budgets it is counted against) elsewhere.
describe('ingest: a unit an event names', () => {
  let t: TestApp;
  let clock: ManualClock;
  let org: Awaited<ReturnType<typeof newOrg>>;
  let team2: string;
  let n = 0;
  const NOW = '2026-05-20T12:00:00.000Z';
  /** qwen-turbo is base: 0.50 per million input tokens, so 1,200,000 input tokens cost 0.60. */
  const ev = (extra: Record<string, unknown> = {}) => ({ id: `u-${++n}`, timestamp: '2026-05-20T11:00:00Z', model: 'qwen-turbo', usage: { input: 1_200_000, output: 0 }, ...extra });
  const send = (events: unknown[], key = org.keys.agent) => t.post('/v1/events', { events }, key);
  const stored = async (): Promise<Record<string, string>> =>
    Object.fromEntries(
      ((await t.app.get(DataSource).query('SELECT event_id, unit_id FROM events WHERE account_id = $1', [org.account])) as { event_id: string; unit_id: string }[]).map((r) => [r.event_id, r.unit_id]),
    );

  beforeAll(async () => {
    clock = new ManualClock(NOW);
    t = await startTestApp({ clock });
    org = await newOrg(t);
    await setupPricing(t, org.account);
    team2 = (await newUnit(t, org.account)).id;
    for (const unit of [org.unit, team2]) {
      const put = await t.request('PUT', `/v1/accounts/${org.account}/budgets/unit:${unit}`, { key: org.keys.finance, body: { period: 'month', amount_limit: '1.00', enforcement: 'hard' } });
      expect(put.status).toBe(200);
    }
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('rejects a unit that does not exist and another team’s unit, stores nothing for them, and answers the batch in order', async () => {
    const [a, b, c, d, e] = [ev(), ev({ unit_id: 'zzz' }), ev({ unit_id: team2 }), ev({ unit_id: org.unit }), ev()];
    const res = await send([a, b, c, d, e]);
    expect(res.status).toBe(200);
    const results = res.body.results;
    expect(results.map((r: { index: number; id: string; status: string }) => [r.index, r.id, r.status])).toEqual([
      [0, a.id, 'accepted'], [1, b.id, 'rejected'], [2, c.id, 'rejected'], [3, d.id, 'accepted'], [4, e.id, 'accepted'],
    ]);
    expect(results[1]).toMatchObject({ code: 'unit_not_found', field: 'unit_id' });
    expect(results[1].message).toContain('"zzz"');
    expect(results[1].message).toContain(`"${org.unit}"`);
    expect(results[2]).toMatchObject({ code: 'unit_not_owner', field: 'unit_id' });
    expect(results[2].message).toContain(`"${org.unit}"`);
    // The accepted ones read the owner's team's hard budget after the write: 1.00 - 3 x 0.60.
    expect([results[0], results[3], results[4]].map((r: { reading: { budget_left: string | null } }) => r.reading.budget_left)).toEqual(['-0.8', '-0.8', '-0.8']);
    expect(await stored()).toEqual({ [a.id]: org.unit, [d.id]: org.unit, [e.id]: org.unit });

    // The budget cannot be bypassed: the owner's team carries all the spend, the other team none, no phantom unit.
    const budgets = await t.get(`/v1/accounts/${org.account}/budgets`, org.keys.finance);
    const spent = (node: string) => budgets.body.data.find((x: { node: string; period: { kind: string } }) => x.node === node && x.period.kind === 'month')?.spent;
    expect(spent(`unit:${org.unit}`)).toEqual({ amount: '1.8', tokens: 3_600_000 });
    expect(spent(`unit:${team2}`)).toEqual({ amount: '0', tokens: 0 });
    const byUnit = await t.get(`/v1/accounts/${org.account}/meter?from=2026-05-01T00:00:00Z&to=2026-06-01T00:00:00Z&group_by=unit`, org.keys.finance);
    expect(byUnit.body.rows.map((r: { key: { unit: string } }) => r.key.unit)).toEqual([org.unit]);
    await expectRollupsMatchRaw(t, org.account);

    // The rejected ids were never used: sent again as the owner's, they are accepted.
    const again = await send([{ ...b, unit_id: undefined }, { ...c, unit_id: org.unit }]);
    expect(again.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'accepted']);
  });

  it('is the unit the person was in at the event’s time, not the one they are in now', async () => {
    clock.set('2026-05-20T08:00:00.000Z'); // the person joins o.unit then
    const o = await newOrg(t);
    clock.set(NOW);
    await setupPricing(t, o.account);
    const platform = (await newUnit(t, o.account)).id;
    const move = await t.request('PATCH', `/v1/accounts/${o.account}/people/${o.person}`, { key: o.keys.finance, body: { unit_id: platform, effective_from: '2026-05-20T10:00:00Z' } });
    expect(move.status).toBe(200);
    const res = await send([
      ev({ timestamp: '2026-05-20T09:00:00Z', unit_id: o.unit }),
      ev({ timestamp: '2026-05-20T09:00:00Z', unit_id: platform }),
      ev({ timestamp: '2026-05-20T11:00:00Z', unit_id: platform }),
      ev({ timestamp: '2026-05-20T11:00:00Z', unit_id: o.unit }),
    ], o.keys.agent);
    expect(res.body.results.map((r: { status: string; code?: string }) => r.code ?? r.status)).toEqual(['accepted', 'unit_not_owner', 'accepted', 'unit_not_owner']);
    expect(res.body.results[1].message).toContain(`"${o.unit}"`);
    expect(res.body.results[3].message).toContain(`"${platform}"`);
  });

  it('only an agent key reports events: a finance key cannot name a unit (or send at all)', async () => {
    const res = await send([ev({ unit_id: team2, person_id: org.person })], org.keys.finance);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect(Object.keys(await stored())).not.toContain(`u-${n}`);
  });

  it('an event that names its own unit is the same event as one that names none; a conflict lists unit_id only when sent', async () => {
    const plain = ev();
    expect((await send([plain])).body.results[0].status).toBe('accepted');
    // Only the output changed: the request named no unit, so unit_id is not among what differs.
    const changed = await send([{ ...plain, usage: { input: 1_200_000, output: 1 } }]);
    expect(changed.body.results[0]).toMatchObject({ status: 'conflict', code: 'id_conflict', fields: ['usage'] });
    expect(changed.body.results[0].message).not.toContain('unit_id');
    // Naming the unit it was stored in is the same event; naming another is rejected before any comparison.
    expect((await send([{ ...plain, unit_id: org.unit }])).body.results[0].status).toBe('duplicate');
    expect((await send([{ ...plain, unit_id: team2 }])).body.results[0]).toMatchObject({ status: 'rejected', code: 'unit_not_owner' });
    // And the other way round: stored naming its unit, sent again naming none.
    const named = ev({ unit_id: org.unit });
    expect((await send([named])).body.results[0].status).toBe('accepted');
    expect((await send([{ ...named, unit_id: undefined }])).body.results[0].status).toBe('duplicate');
    const namedChanged = await send([{ ...named, unit_id: undefined, usage: { input: 1_200_000, output: 1 } }]);
    expect(namedChanged.body.results[0]).toMatchObject({ status: 'conflict', fields: ['usage'] });
  });
});
