// The account-wide reading by hour answered with remembered closed hours (metering/readings/hourly-
// readings.ts). Whatever happens between two readings (events in the current hour or late ones in
// compacted hours, the compaction, a rebuild, rollups rewritten behind the service's back, the hour
// turning), the answer is byte for byte the reading computed afresh, and the remembered hours are used.
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { ManualClock } from '../src/clock/clock.js';
import { Metrics } from '../src/health/metrics.js';
import { CompactionService } from '../metering/compaction/compaction.service.js';
import { RebuildService } from '../metering/rebuild/rebuild.service.js';
import { ReadingsService } from '../metering/readings/readings.service.js';
import { setupPricing, spreadOverShards } from './support/metering.js';
import { newAccount, newAgent, newKey, newPerson, newUnit, startTestApp, type TestApp } from './support/test-app.js';

const HOUR = 3_600_000;

type Step =
  | { kind: 'ingest'; hoursAgo: number[]; tokens: number }
  | { kind: 'compact'; lookback: number | null }
  | { kind: 'late-then-compact'; hoursAgo: number[] }
  | { kind: 'rebuild' }
  | { kind: 'spread'; seed: number }
  | { kind: 'hour' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('ingest' as const), hoursAgo: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 60 })), { minLength: 1, maxLength: 6 }), tokens: fc.integer({ min: 1, max: 5000 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('compact' as const), lookback: fc.option(fc.integer({ min: 1, max: 72 })) }) },
  // Events added to compacted hours and folded before anything reads them: only the count of rewrites tells.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('late-then-compact' as const), hoursAgo: fc.array(fc.constantFrom(2, 5, 30), { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'rebuild' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('spread' as const), seed: fc.integer() }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'hour' as const }) },
);

describe('readings by hour with remembered closed hours', () => {
  let t: TestApp;
  let clock: ManualClock;
  let db: DataSource;
  let run = 0;

  beforeAll(async () => {
    clock = new ManualClock('2026-03-20T12:30:00.000Z');
    t = await startTestApp({ clock });
    db = t.app.get(DataSource);
    await setupPricing(t, (await newAccount(t)).id);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  async function account(): Promise<{ id: string; key: string; memberKey: string; person: string }> {
    const id = (await newAccount(t)).id;
    const unit = await newUnit(t, id);
    const person = await newPerson(t, id, unit.id);
    const agent = await newAgent(t, id, person.id);
    return {
      id,
      person: person.id,
      key: (await newKey(t, { role: 'agent', account: id, agent_id: agent.id })).secret,
      memberKey: (await newKey(t, { role: 'member', account: id, person_id: person.id })).secret,
    };
  }

  async function ingest(key: string, hoursAgo: number[], tokens: number): Promise<void> {
    run++;
    const events = hoursAgo.map((h, i) => ({
      id: `r${run}-${i}`,
      timestamp: new Date(clock.now().getTime() - h * HOUR - ((tokens + i) % 1800) * 1000).toISOString(),
      model: ['qwen-turbo', 'gpt-4o', 'claude-opus'][(tokens + i) % 3],
      ...(i % 2 ? { outcome: 'failure' } : { outcome: 'success' }),
      usage: { input: tokens + i, output: 7, cached_input: i },
    }));
    const res = await t.post('/v1/events', { events }, key);
    expect(res.status).toBe(200);
    expect(res.body.rejected ?? []).toEqual([]);
  }

  const outcomes = async (): Promise<Record<string, number>> => {
    const metric = await t.app.get(Metrics).meterHourlyReadings.get();
    return Object.fromEntries(metric.values.map((v) => [String(v.labels.outcome), v.value]));
  };

  /** GET /meter by hour, and what ReadingsService computes afresh for the same range, as JSON texts. */
  async function both(accountId: string, query = ''): Promise<[string, string]> {
    const res = await t.get(`/v1/accounts/${accountId}/meter?group_by=hour${query}`);
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toContain('application/json');
    const { from, to } = res.body as { from: string; to: string };
    const fresh = await t.app.get(ReadingsService).sums(accountId, new Date(from), new Date(to), ['hour']);
    return [res.text, JSON.stringify(fresh)];
  }

  it('answers what a fresh read answers, whatever happened since the hours were remembered', async () => {
    const seen = await outcomes();
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 12 }), async (steps) => {
        const a = await account();
        await ingest(a.key, [0, 2, 5, 30], 100);
        await t.app.get(CompactionService).compact({ account: a.id });
        for (const s of steps) {
          const [answered, fresh] = await both(a.id);
          expect(answered).toBe(fresh);
          if (s.kind === 'ingest') await ingest(a.key, s.hoursAgo, s.tokens);
          else if (s.kind === 'compact') await t.app.get(CompactionService).compact({ account: a.id, lookbackHours: s.lookback });
          else if (s.kind === 'late-then-compact') {
            await ingest(a.key, s.hoursAgo, 11);
            await t.app.get(CompactionService).compact({ account: a.id });
          }
          else if (s.kind === 'rebuild') await t.app.get(RebuildService).rebuild(a.id);
          else if (s.kind === 'spread') await spreadOverShards(db, a.id, s.seed);
          else clock.advance(HOUR);
          const [after, afterFresh] = await both(a.id);
          expect(after).toBe(afterFresh);
          // An explicit range starting at the same hour shares what is remembered.
          const [ranged, rangedFresh] = await both(a.id, `&from=${JSON.parse(after).from}&to=${new Date(Math.ceil(clock.now().getTime() / HOUR) * HOUR).toISOString()}`);
          expect(ranged).toBe(rangedFresh);
        }
      }),
      { numRuns: 6 },
    );
    const now = await outcomes();
    const grew = (k: string) => (now[k] ?? 0) - (seen[k] ?? 0);
    // The remembered hours answered most readings; changes were noticed and read afresh.
    expect(grew('hit')).toBeGreaterThan(grew('miss') + grew('stale'));
    expect(grew('stale')).toBeGreaterThan(0);
  }, 300_000);

  it('a late event, a compaction and a rebuild are each noticed, and an unchanged account is answered from memory', async () => {
    const a = await account();
    await ingest(a.key, [0, 3, 26], 500);
    await t.app.get(CompactionService).compact({ account: a.id });
    const expectOutcome = async (outcome: string) => {
      const before = await outcomes();
      const [answered, fresh] = await both(a.id);
      expect(answered).toBe(fresh);
      const after = await outcomes();
      expect(Object.keys(after).filter((k) => after[k] !== before[k])).toEqual([outcome]);
      return JSON.parse(answered) as { totals: { calls: number } };
    };
    expect((await expectOutcome('miss')).totals.calls).toBe(3);
    expect((await expectOutcome('hit')).totals.calls).toBe(3);
    await ingest(a.key, [0], 7); // the current hour: read afresh anyway, the closed hours still remembered
    expect((await expectOutcome('hit')).totals.calls).toBe(4);
    await ingest(a.key, [3], 8); // a late event in a compacted hour
    expect((await expectOutcome('stale')).totals.calls).toBe(5);
    expect((await expectOutcome('hit')).totals.calls).toBe(5);
    await t.app.get(CompactionService).compact({ account: a.id });
    expect((await expectOutcome('stale')).totals.calls).toBe(5);
    expect((await expectOutcome('hit')).totals.calls).toBe(5);
    // A late event folded by the compaction before any reading: the hours' rows are as many as before and
    // the first sharded hour is the same; the count of rewrites is what tells.
    await ingest(a.key, [3], 9);
    await t.app.get(CompactionService).compact({ account: a.id });
    expect((await expectOutcome('stale')).totals.calls).toBe(6);
    await t.app.get(RebuildService).rebuild(a.id);
    expect((await expectOutcome('stale')).totals.calls).toBe(6);
  });

  it('readings of a person, filtered or by other dimensions are read as before, and agree with the account-wide one', async () => {
    const a = await account();
    await ingest(a.key, [0, 1, 4], 300);
    await t.app.get(CompactionService).compact({ account: a.id });
    await both(a.id);
    const before = await outcomes();
    const member = await t.get(`/v1/accounts/${a.id}/meter?group_by=hour`, a.memberKey);
    expect(member.status).toBe(200);
    const filtered = await t.get(`/v1/accounts/${a.id}/meter?group_by=hour&model=gpt-4o`);
    expect(filtered.status).toBe(200);
    const byDay = await t.get(`/v1/accounts/${a.id}/meter?group_by=day,hour`);
    expect(byDay.status).toBe(200);
    const csv = await t.request('GET', `/v1/accounts/${a.id}/meter?group_by=hour`, { headers: { accept: 'text/csv' } });
    expect(csv.status).toBe(200);
    expect(String(csv.headers['content-type'])).toContain('text/csv');
    expect(await outcomes()).toEqual(before);
    const [all] = await both(a.id);
    expect(member.body.totals).toEqual(JSON.parse(all).totals);
  });
});
