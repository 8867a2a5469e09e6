// What the ingest write derives as it stores an event. Its time: sent to the database as epoch
// milliseconds, stored to the millisecond. Its unit, when it names none: its person's unit at the
// event's time, or, for an event older than their first membership, the unit they started in. An event
// that names a unit keeps it. The rollups (readings by unit) agree with the stored events.
import { DataSource } from 'typeorm';
import { ManualClock } from '../src/clock/clock.js';
import { expectRollupsMatchRaw, setupPricing } from './support/metering.js';
import { newAgent, newKey, newOrg, newPerson, newUnit, startTestApp, type TestApp } from './support/test-app.js';

describe('ingest: the time and the unit of an event', () => {
  let t: TestApp;
  afterEach(async () => {
    await t?.close();
  });

  it('is the person’s unit at the event’s time, the first one before they had any, or the one the event names', async () => {
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
        ev('names-its-unit', '2026-05-11T07:00:00Z', { unit_id: org.unit }),
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
      'names-its-unit': org.unit,
      'other-before-joining': platform.id,
      'other-now': platform.id,
    });
    const byUnit = await t.get(`/v1/accounts/${org.account}/meter?from=2026-05-01T00:00:00Z&to=2026-05-13T00:00:00Z&group_by=unit`, org.keys.finance);
    expect(byUnit.status).toBe(200);
    expect(Object.fromEntries(byUnit.body.rows.map((r: { key: { unit: string }; calls: number }) => [r.key.unit, r.calls]))).toEqual({ [org.unit]: 3, [platform.id]: 4 });
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
