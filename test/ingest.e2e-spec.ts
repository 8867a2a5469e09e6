// POST /v1/events end to end: results per event, pricing, duplicates and conflicts, rejections that
// cost nothing else, unknown models, late and future events, the reading after each event.
import { ManualClock } from '../src/clock/clock.js';
import { setupPricing } from './support/metering.js';
import { newOrg, startTestApp, type TestApp } from './support/test-app.js';

const NOW = '2026-03-15T12:00:00.000Z';

describe('ingest', () => {
  let t: TestApp;
  let clock: ManualClock;
  let org: Awaited<ReturnType<typeof newOrg>>;
  let n = 0;
  const id = () => `evt-${++n}`;
  const send = (events: unknown[], key = org.keys.agent) => t.post('/v1/events', { events }, key);

  beforeAll(async () => {
    clock = new ManualClock(NOW);
    t = await startTestApp({ clock });
    org = await newOrg(t);
    await setupPricing(t, org.account);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('prices an event and answers with tokens, cost by kind, tier, label and the reading after it', async () => {
    const res = await send([
      { id: id(), timestamp: '2026-03-15T11:00:00Z', operation: 'code.edit', channel: 'cli', model: 'gpt-4o-2024-08-06', outcome: 'success',
        usage: { prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 200 }, completion_tokens_details: { reasoning_tokens: 100 } } },
    ]);
    expect(res.status).toBe(200);
    const [r] = res.body.results;
    expect(r).toMatchObject({
      index: 0,
      status: 'accepted',
      model: 'gpt-4o',
      tier: 'specialized',
      priced: true,
      needs_pricing: false,
      label: 'effective',
      tokens: { input: 1000, cached_input: 200, cache_write: 0, output: 300, reasoning: 100, total: 1500 },
    });
    // 1000 * 2.50/1M + 200 * 1.25/1M + 200 * 10/1M + 100 * 10 (reasoning defaults to output)/1M
    expect(Number(r.cost.input)).toBeCloseTo(0.0025, 12);
    expect(Number(r.cost.cached_input)).toBeCloseTo(0.00025, 12);
    expect(Number(r.cost.output)).toBeCloseTo(0.002, 12);
    expect(Number(r.cost.reasoning)).toBeCloseTo(0.001, 12);
    expect(Number(r.cost.total)).toBeCloseTo(0.00575, 12);
    expect(Number(r.reading.allowance_left)).toBeCloseTo(50 - 0.00575, 10);
  });

  it('keeps the good events of a batch with bad ones, each answered in order', async () => {
    const good1 = id();
    const good2 = id();
    const res = await send([
      { id: good1, timestamp: '2026-03-15T11:01:00Z', model: 'qwen-turbo', usage: { input: 10, output: 5 } },
      { id: id(), timestamp: '2026-03-15T11:01:00Z', model: 'qwen-turbo', usage: { input: -1, output: 5 } },
      { id: id(), timestamp: '2026-03-15T11:01:00Z', model: 'qwen-turbo', usage: { input: 1.5, output: 5 } },
      { id: id(), timestamp: '2026-03-15T11:01:00Z', model: 'qwen-turbo', usage: { input: '10', output: 5 } },
      { id: id(), timestamp: '2026-03-15T11:01:00Z', model: 'qwen-turbo', usage: { input: 2 ** 53 + 2, output: 5 } },
      { id: id(), timestamp: '2026-03-15T11:01:00Z', usage: { input: 10, output: 5 } },
      { id: 'x'.repeat(256), timestamp: '2026-03-15T11:01:00Z', channel: 'program' },
      { id: id(), timestamp: '2026-03-15T11:01:00Z', operation: 'a\u0000b' },
      { id: id(), timestamp: '15/03/2026 11:01' },
      { id: id(), timestamp: '2026-03-15T12:06:00Z', channel: 'program' },
      { id: id(), timestamp: '0001-01-01T00:00:00Z', channel: 'program' },
      { id: id(), timestamp: '2026-03-15T11:01:00Z', colour: 'red' },
      { id: id(), timestamp: '2026-03-15T11:01:00Z', person_id: 'someone-else' },
      { id: good2, timestamp: '2026-03-15T11:01:00Z', channel: 'program', operation: 'approval.create' },
    ]);
    expect(res.status).toBe(200);
    const results = res.body.results;
    expect(results.map((r: { status: string }) => r.status)).toEqual([
      'accepted', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'accepted',
    ]);
    expect(results.map((r: { code?: string }) => r.code ?? null)).toEqual([
      null, 'negative', 'fractional', 'not_a_number', 'unsafe_integer', 'model_required', 'too_long', 'nul_byte',
      'invalid_timestamp', 'timestamp_in_future', 'timestamp_too_old', 'unknown_field', 'person_mismatch', null,
    ]);
    expect(results[1].field).toBe('usage.input');
    expect(results[13]).toMatchObject({ id: good2, tokens: { total: 0 }, cost: { total: '0' }, priced: true });
  });

  it('counts a duplicate once and names the fields of a conflict', async () => {
    const event = { id: id(), timestamp: '2026-03-15T11:02:00Z', model: 'qwen-turbo', usage: { input: 100, output: 50 }, operation: 'x' };
    const first = await send([event]);
    expect(first.body.results[0].status).toBe('accepted');
    const again = await send([event, { ...event, usage: { input: 100, output: 51 }, operation: 'y' }]);
    expect(again.body.results[0]).toMatchObject({ status: 'duplicate', id: event.id, cost: first.body.results[0].cost });
    expect(again.body.results[1]).toMatchObject({ status: 'conflict', code: 'id_conflict', fields: ['operation', 'usage'] });
    // The same usage in a provider shape is the same event.
    const sameInOpenAiShape = await send([{ ...event, usage: { prompt_tokens: 100, completion_tokens: 50 } }]);
    expect(sameInOpenAiShape.body.results[0].status).toBe('duplicate');
    const listed = await t.get(`/v1/audit?limit=1`); // unrelated route still fine
    expect(listed.status).toBe(200);
  });

  it('a duplicate inside one batch is counted once', async () => {
    const event = { id: id(), timestamp: '2026-03-15T11:03:00Z', channel: 'program' };
    const res = await send([event, event, { ...event, operation: 'other' }]);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'duplicate', 'conflict']);
  });

  it('concurrent requests with the same id count it once', async () => {
    const event = { id: id(), timestamp: '2026-03-15T11:04:00Z', model: 'claude-opus', usage: { input: 1000, output: 1000 } };
    const answers = await Promise.all(Array.from({ length: 6 }, () => send([event])));
    const statuses = answers.map((a) => a.body.results[0].status).sort();
    expect(statuses).toEqual(['accepted', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
  });

  it('stores an unknown model unpriced and flags it', async () => {
    const res = await send([{ id: id(), timestamp: '2026-03-15T11:05:00Z', model: 'mystery-9000', usage: { input: 500, output: 20 } }]);
    expect(res.body.results[0]).toMatchObject({ status: 'accepted', priced: false, needs_pricing: true, cost: null, tier: null, model: 'mystery-9000' });
  });

  it('accepts a late event and refuses one from the future', async () => {
    const late = await send([{ id: id(), timestamp: '2025-11-02T08:00:00Z', channel: 'program' }]);
    expect(late.body.results[0]).toMatchObject({ status: 'accepted', adjustment: false });
    const soon = await send([{ id: id(), timestamp: '2026-03-15T12:04:59Z', channel: 'program' }]);
    expect(soon.body.results[0].status).toBe('accepted');
  });

  it('only agent keys report events', async () => {
    for (const role of ['admin', 'finance', 'member'] as const) {
      expect((await send([{ id: id(), timestamp: NOW }], org.keys[role])).status).toBe(403);
    }
  });

  it('a batch over 1000 events is a 413', async () => {
    const events = Array.from({ length: 1001 }, (_, i) => ({ id: `big-${i}`, timestamp: NOW }));
    const res = await send(events);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('batch_too_large');
  });

  it('a body over the limit is a 413', async () => {
    const events = Array.from({ length: 900 }, (_, i) => ({ id: `huge-${i}`, timestamp: NOW, metadata: { pad: 'x'.repeat(5000) } }));
    const res = await send(events);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('reports its group commits in the metrics', async () => {
    const count = async (name: string) => {
      const text = (await t.get('/metrics', null)).text;
      const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const [writes, events] = [await count('tokenmeter_ingest_group_requests_count'), await count('tokenmeter_ingest_group_events_sum')];
    const answers = await Promise.all(Array.from({ length: 4 }, (_, r) => send([0, 1, 2].map((k) => ({ id: id(), timestamp: NOW, channel: 'program', operation: `m${r}${k}` })))));
    expect(answers.every((a) => a.body.results.every((x: { status: string }) => x.status === 'accepted'))).toBe(true);
    const groups = (await count('tokenmeter_ingest_group_requests_count')) - writes;
    expect(groups).toBeGreaterThanOrEqual(1);
    expect(groups).toBeLessThanOrEqual(4);
    expect((await count('tokenmeter_ingest_group_events_sum')) - events).toBe(12);
  });

  it('learned_from naming an attempt of another task is rejected', async () => {
    const res = await send([
      { id: id(), timestamp: '2026-03-15T11:10:00Z', task_id: 'task-a', attempt_id: 'a1', outcome: 'failure', channel: 'program' },
      { id: id(), timestamp: '2026-03-15T11:11:00Z', task_id: 'task-b', attempt_id: 'b1', outcome: 'success', learned_from: ['a1'], channel: 'program' },
    ]);
    expect(res.body.results[0].status).toBe('accepted');
    expect(res.body.results[1]).toMatchObject({ status: 'rejected', code: 'learned_from_unknown_attempt', field: 'learned_from' });
  });
});
