// Ingest writes a group whose tasks this process has never written in one statement that takes them to
// be new; the database refuses it when one is not (another process, or an earlier run, wrote it), and the
// group is written on the locked path instead. Either way the labels are what a rebuild from raw events
// gives, and the rollups equal the raw events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ManualClock } from '../src/clock/clock.js';
import type { NewEventRow, StoredEvent } from '../metering/ingest/event-row.js';
import { EventsRepository } from '../metering/ingest/events.repository.js';
import { expectLabelsAsRebuilt, expectRollupsMatchRaw, setupPricing } from './support/metering.js';
import { createTestDatabase, newOrg, startTestApp, type TestApp } from './support/test-app.js';

async function metric(t: TestApp, name: string, labels = ''): Promise<number> {
  const text = (await t.get('/metrics', null)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('ingest of tasks: the new-task statement and its refusal', () => {
  let dir: string | null = null;
  const apps: TestApp[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });

  /** Two apps over one store, one after the other (the embedded store has one process at a time). */
  async function sharedStore(clock: ManualClock) {
    const place: { databaseUrl: string | null; dataDir?: string; env: Record<string, string> } = process.env.DATABASE_URL
      ? { databaseUrl: await createTestDatabase(), env: {} }
      : { databaseUrl: null, dataDir: (dir = mkdtempSync(join(tmpdir(), 'tokenmeter-'))), env: { REDIS_URL: '' } };
    return async (adminKey?: string) => {
      const app = await startTestApp({ clock, ...place, env: adminKey ? { ...place.env, TOKENMETER_ADMIN_KEY: adminKey } : place.env });
      apps.push(app);
      return app;
    };
  }

  const ev = (clock: ManualClock, id: string, extra: Record<string, unknown>) => ({
    id,
    timestamp: clock.now().toISOString(),
    model: 'qwen-turbo',
    usage: { input: 1000, output: 100 },
    ...extra,
  });

  it('a task continued by a process that never saw it: refused, then classified with its stored attempts', async () => {
    const clock = new ManualClock('2026-03-15T12:00:00.000Z');
    const start = await sharedStore(clock);
    const first = await start();
    const org = await newOrg(first);
    await setupPricing(first, org.account);

    const opened = await first.post('/v1/events', { events: [
      ev(clock, 'n-a1', { task_id: 'n-t', attempt_id: 'a1', outcome: 'failure', error_signature: 'E_X' }),
      ev(clock, 'n-a2', { task_id: 'n-t', attempt_id: 'a2', outcome: 'failure', error_signature: 'E_X' }),
    ] }, org.keys.agent);
    expect(opened.body.results.map((r: { status: string; label: string }) => [r.status, r.label])).toEqual([['accepted', 'pending'], ['accepted', 'pending']]);
    expect(await metric(first, 'tokenmeter_ingest_write_seconds_count', '{path="new_tasks"}')).toBe(1);
    expect(await metric(first, 'tokenmeter_ingest_writes_refused_total', '{path="new_tasks"}')).toBe(0);
    await first.close();
    apps.splice(0);

    clock.advance(60_000);
    const second = await start(first.adminKey);
    const done = await second.post('/v1/events', { events: [
      ev(clock, 'n-a3', { task_id: 'n-t', attempt_id: 'a3', outcome: 'success', learned_from: ['a1'], task_status: 'succeeded' }),
    ] }, org.keys.agent);
    expect(done.body.results[0]).toMatchObject({ status: 'accepted', label: 'effective' });
    expect(await metric(second, 'tokenmeter_ingest_writes_refused_total', '{path="new_tasks"}')).toBe(1);
    expect(await metric(second, 'tokenmeter_ingest_write_seconds_count', '{path="transaction"}')).toBe(1);

    // The stored attempts were classified with the new one: a1 was learned from, a2 repeated its error.
    expect(await expectLabelsAsRebuilt(second, org.account)).toEqual({ 'n-a1': 'effective', 'n-a2': 'ineffective', 'n-a3': 'effective' });
    const db = second.app.get(DataSource);
    const [task] = await db.query(`SELECT status, closed_at FROM tasks WHERE account_id = $1 AND task_id = 'n-t'`, [org.account]);
    expect(task.status).toBe('succeeded');
    await expectRollupsMatchRaw(second, org.account);
  }, 180_000);

  it('a new task closed in its first request is stored closed; an id taken elsewhere refuses the statement and nothing of it is kept', async () => {
    const clock = new ManualClock('2026-03-15T12:00:00.000Z');
    const t = await (await sharedStore(clock))();
    const org = await newOrg(t);
    await setupPricing(t, org.account);
    const send = (events: unknown[]) => t.post('/v1/events', { events }, org.keys.agent);

    const closed = await send([
      ev(clock, 'c-a1', { task_id: 'c-t', attempt_id: 'a1', outcome: 'failure', error_signature: 'E_Y' }),
      ev(clock, 'c-a2', { task_id: 'c-t', attempt_id: 'a2', outcome: 'success', task_status: 'succeeded' }),
    ]);
    expect(closed.body.results.map((r: { label: string }) => r.label)).toEqual(['effective', 'effective']);
    const db = t.app.get(DataSource);
    const [task] = await db.query(`SELECT status, closed_at, closed_by, opened_at FROM tasks WHERE account_id = $1 AND task_id = 'c-t'`, [org.account]);
    expect(task).toMatchObject({ status: 'succeeded', closed_at: new Date('2026-03-15T12:00:00.000Z'), opened_at: new Date('2026-03-15T12:00:00.000Z') });
    expect(task.closed_by).not.toBeNull();

    // A standalone event takes an id; a new task then reuses it: the new-task statement is refused and
    // rolled back whole (its other event and the task are not kept by it), and the locked path answers
    // the reused id as a conflict and stores the rest once.
    await send([ev(clock, 'x-1', { outcome: 'success' })]);
    const refusedBefore = await metric(t, 'tokenmeter_ingest_writes_refused_total', '{path="new_tasks"}');
    const reuse = await send([
      ev(clock, 'x-1', { task_id: 'x-t', attempt_id: 'a1', outcome: 'failure' }),
      ev(clock, 'x-2', { task_id: 'x-t', attempt_id: 'a2', outcome: 'failure' }),
    ]);
    expect(reuse.body.results.map((r: { status: string }) => r.status)).toEqual(['conflict', 'accepted']);
    expect(await metric(t, 'tokenmeter_ingest_writes_refused_total', '{path="new_tasks"}')).toBe(refusedBefore + 1);
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM events WHERE account_id = $1 AND event_id IN ('x-1', 'x-2')`, [org.account]);
    expect(n).toBe(2);
    const [{ tasks }] = await db.query(`SELECT count(*)::int AS tasks FROM tasks WHERE account_id = $1 AND task_id = 'x-t'`, [org.account]);
    expect(tasks).toBe(1);
    await expectRollupsMatchRaw(t, org.account);
  }, 180_000);

  // Needs a second connection held open beside the app's: PostgreSQL only (the embedded store has one).
  (process.env.DATABASE_URL ? it : it.skip)('an id claimed by a writer that has not committed yet is never classified as an attempt', async () => {
    const clock = new ManualClock('2026-03-15T12:00:00.000Z');
    const t = await (await sharedStore(clock))();
    const org = await newOrg(t);
    await setupPricing(t, org.account);
    const send = (events: unknown[]) => t.post('/v1/events', { events }, org.keys.agent);
    const db = t.app.get(DataSource);

    // The task's first attempt, through this process (so its next request takes the locked path).
    await send([ev(clock, 'l-a1', { task_id: 'l-t', attempt_id: 'a1', outcome: 'failure', error_signature: 'E_Z' })]);
    const [a1] = (await db.query(`SELECT * FROM events WHERE account_id = $1 AND event_id = 'l-a1'`, [org.account])) as StoredEvent[];

    // Another writer stores a standalone event under the id "l-x" and does not commit yet.
    const other: NewEventRow = {
      ...a1!,
      event_id: 'l-x',
      task_id: null,
      attempt_id: null,
      label: 'ineffective',
      seq: Number(a1!.seq) + 1,
      content_hash: 'another writer',
      allowance_left: null,
    };
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let claimed!: () => void;
    const hasClaimed = new Promise<void>((r) => (claimed = r));
    const otherWriter = db.transaction(async (tx) => {
      await t.app.get(EventsRepository).writeBatch(tx, org.account, { events: [other], relabelled: null, labels: null, allowance: null });
      claimed();
      await gate;
    });
    await hasClaimed;

    // The task's next request reuses "l-x" for an attempt said to be earlier than a1 with a1's error:
    // counted, it would make a1 a repeat (ineffective). The locked path reads the ids before the other
    // writer commits, so "l-x" looks free; its claim then waits for that commit.
    clock.advance(1000);
    const answer = send([
      ev(clock, 'l-x', { task_id: 'l-t', attempt_id: 'ax', outcome: 'failure', error_signature: 'E_Z', timestamp: '2026-03-15T11:00:00.000Z' }),
      ev(clock, 'l-a2', { task_id: 'l-t', attempt_id: 'a2', outcome: 'success', task_status: 'succeeded' }),
    ]);
    for (let waited = 0; ; waited += 20) {
      const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      if (n > 0) break;
      if (waited > 10_000) throw new Error('the ingest write never waited for the other writer');
      await new Promise((r) => setTimeout(r, 20));
    }
    release();
    await otherWriter;
    const res = await answer;

    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['conflict', 'accepted']);
    expect(await metric(t, 'tokenmeter_ingest_writes_refused_total', '{path="transaction"}')).toBe(1);
    expect(await expectLabelsAsRebuilt(t, org.account)).toMatchObject({ 'l-a1': 'effective', 'l-a2': 'effective', 'l-x': 'ineffective' });
    await expectRollupsMatchRaw(t, org.account);
  }, 180_000);
});
