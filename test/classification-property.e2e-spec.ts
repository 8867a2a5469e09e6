// For random task histories sent in random batches (with closes between them), the labels and rollups
// built incrementally equal those a rebuild computes from the raw events alone.
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { ManualClock } from '../src/clock/clock.js';
import { RebuildService } from '../metering/rebuild/rebuild.service.js';
import { labelsOf, labelTotals, rollupsByKey, setupPricing, spendByDay } from './support/metering.js';
import { newAccount, newAgent, newKey, newPerson, newUnit, startTestApp, type TestApp } from './support/test-app.js';

interface Step {
  kind: 'event' | 'close';
  task: number;
  attempt: number;
  outcome: 'success' | 'failure' | null;
  signature: 'E1' | 'E2' | null;
  learnedFrom: number | null;
  taskStatus: 'succeeded' | 'failed' | 'abandoned' | null;
  tokens: number;
}

const step: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom('event', 'event', 'event', 'close'),
  task: fc.integer({ min: 0, max: 2 }),
  attempt: fc.integer({ min: 0, max: 3 }),
  outcome: fc.constantFrom('success', 'failure', 'failure', null),
  signature: fc.constantFrom('E1', 'E2', null),
  learnedFrom: fc.option(fc.integer({ min: 0, max: 3 }), { freq: 4 }),
  taskStatus: fc.option(fc.constantFrom('succeeded', 'failed', 'abandoned'), { freq: 6 }),
  tokens: fc.integer({ min: 0, max: 5000 }),
});

describe('incremental classification equals a rebuild', () => {
  let t: TestApp;
  let clock: ManualClock;
  beforeAll(async () => {
    clock = new ManualClock('2026-03-15T12:00:00.000Z');
    t = await startTestApp({ clock });
    const first = await newAccount(t);
    await setupPricing(t, first.id);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('for random histories', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 6 }), async (steps, batchSize) => {
        run++;
        const account = (await newAccount(t)).id;
        const unit = await newUnit(t, account);
        const person = await newPerson(t, account, unit.id);
        const agent = await newAgent(t, account, person.id);
        const key = (await newKey(t, { role: 'agent', account, agent_id: agent.id })).secret;
        const task = (n: number) => `r${run}-task-${n}`;
        let pending: unknown[] = [];
        const flush = async () => {
          if (pending.length === 0) return;
          const res = await t.post('/v1/events', { events: pending }, key);
          expect(res.status).toBe(200);
          pending = [];
        };
        for (const [i, s] of steps.entries()) {
          clock.advance(1000);
          if (s.kind === 'close') {
            await flush();
            await t.post(`/v1/tasks/${task(s.task)}/close`, { status: s.taskStatus ?? 'succeeded' }, key);
            continue;
          }
          pending.push({
            id: `r${run}-e${i}`,
            timestamp: clock.now().toISOString(),
            task_id: task(s.task),
            attempt_id: `a${s.attempt}`,
            ...(s.outcome ? { outcome: s.outcome } : {}),
            ...(s.signature ? { error_signature: s.signature } : {}),
            ...(s.learnedFrom !== null && s.learnedFrom !== s.attempt ? { learned_from: [`a${s.learnedFrom}`] } : {}),
            ...(s.taskStatus ? { task_status: s.taskStatus } : {}),
            model: 'qwen-turbo',
            usage: { input: s.tokens, output: 7 },
          });
          if (pending.length >= batchSize) await flush();
        }
        await flush();
        const incremental = { labels: await labelsOf(t, account), totals: await labelTotals(t, account) };
        for (const [rollup, { raw, kept }] of Object.entries(await rollupsByKey(t, account))) {
          expect({ rollup, rows: kept }).toEqual({ rollup, rows: raw });
        }
        const report = await t.app.get(RebuildService).rebuild(account);
        expect(report.relabelled).toBe(0);
        expect(await labelsOf(t, account)).toEqual(incremental.labels);
        const rebuilt = await labelTotals(t, account);
        expect(rebuilt).toEqual(incremental.totals);
        const spend = await spendByDay(t, account);
        expect(spend.spend).toEqual(spend.raw);
        // Tokens are conserved: what was accepted is what the rollups hold.
        const [raw] = await t.app.get(DataSource).query(
          'SELECT coalesce(sum(input + output), 0)::text AS tokens FROM events WHERE account_id = $1',
          [account],
        );
        expect(rebuilt.raw.reduce((s, r) => s + Number(r.tokens), 0)).toBe(Number(raw.tokens));
      }),
      { numRuns: 15 },
    );
  }, 120_000);
});
