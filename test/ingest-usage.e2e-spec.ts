// Usage objects through POST /v1/events: a misspelled or unknown count rejects its event (nothing else),
// provider cache writes and thinking are priced as such, and fields accepted without being counted are
// named in the result, counted on /metrics and listed for operators, durably and across processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ManualClock } from '../src/clock/clock.js';
import { setupPricing } from './support/metering.js';
import { createTestDatabase, newOrg, startTestApp, type TestApp } from './support/test-app.js';

async function metric(t: TestApp, name: string, labels: string): Promise<number> {
  const text = (await t.get('/metrics', null)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

interface Listed {
  path: string;
  format: string;
  events: number;
  first_seen: string;
  last_seen: string;
}

async function listed(t: TestApp, key?: string): Promise<Listed[]> {
  const res = await t.get('/v1/ignored-usage-fields', key);
  expect(res.status).toBe(200);
  return res.body.data as Listed[];
}

describe('ingest: usage objects exactly as the providers send them', () => {
  let t: TestApp;
  let clock: ManualClock;
  let org: Awaited<ReturnType<typeof newOrg>>;
  let n = 0;
  const id = () => `usage-${++n}`;
  const send = (events: unknown[]) => t.post('/v1/events', { events }, org.keys.agent);
  const at = '2026-03-15T11:00:00Z';

  beforeAll(async () => {
    clock = new ManualClock('2026-03-15T12:00:00.000Z');
    t = await startTestApp({ clock });
    org = await newOrg(t);
    await setupPricing(t, org.account);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('rejects a misspelled, missing or unknown count with its full path, and keeps the batch\'s good events', async () => {
    const res = await send([
      { id: id(), timestamp: at, model: 'gpt-4o', usage: { prompt_token: 10, completion_tokens: 5 } },
      { id: id(), timestamp: at, model: 'gpt-4o', usage: { input: 10, outptu: 5 } },
      { id: id(), timestamp: at, model: 'gpt-4o', usage: { prompt_tokens: 10, completion_tokens: 5, tool_tokens: 3 } },
      { id: id(), timestamp: at, model: 'claude-opus', usage: { input_tokens: 10, cache_read_tokens: 4 } },
      { id: id(), timestamp: at, model: 'gpt-4o', usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 14 } },
      { id: id(), timestamp: at, model: 'gpt-4o', usage: { prompt_tokens: 10, completion_tokens: 5 } },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { status: string; code?: string; field?: string }) => [r.status, r.code ?? null, r.field ?? null])).toEqual([
      ['rejected', 'unknown_usage_field', 'usage.prompt_token'],
      ['rejected', 'unknown_usage_field', 'usage.outptu'],
      ['rejected', 'unknown_usage_field', 'usage.tool_tokens'],
      ['rejected', 'unknown_usage_field', 'usage.cache_read_tokens'],
      ['rejected', 'total_mismatch', 'usage.total_tokens'],
      ['accepted', null, null],
    ]);
    expect(res.body.results[0].message).toMatch(/prompt_token/);
    const missing = await send([{ id: id(), timestamp: at, model: 'claude-opus', usage: { input_tokens: 10, cache_read_input_tokens: 4 } }]);
    expect(missing.body.results[0]).toMatchObject({ status: 'rejected', code: 'missing_usage_field', field: 'usage.output_tokens' });
  });

  it('prices OpenAI\'s cache_write_tokens at the cache-write rate, as a part of input (never twice)', async () => {
    // claude-opus is premier: input 15, cached_input 1.50, cache_write 18.75, output 75 per 1M tokens.
    const res = await send([
      { id: id(), timestamp: at, model: 'claude-opus', usage: {
        input_tokens: 10_000, input_tokens_details: { cached_tokens: 1000, cache_write_tokens: 4000 }, output_tokens: 100, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 10_100,
      } },
      { id: id(), timestamp: at, model: 'claude-opus', usage: {
        prompt_tokens: 10_000, completion_tokens: 100, total_tokens: 10_100, prompt_tokens_details: { cached_tokens: 1000, cache_write_tokens: 4000 },
      } },
    ]);
    for (const r of res.body.results) {
      expect(r).toMatchObject({ status: 'accepted', tokens: { input: 5000, cached_input: 1000, cache_write: 4000, output: 100, reasoning: 0, total: 10_100 } });
      expect(Number(r.cost.input)).toBeCloseTo(0.075, 12);
      expect(Number(r.cost.cached_input)).toBeCloseTo(0.0015, 12);
      expect(Number(r.cost.cache_write)).toBeCloseTo(0.075, 12);
      expect(Number(r.cost.output)).toBeCloseTo(0.0075, 12);
      expect(r.ignored_usage_fields).toBeUndefined();
    }
  });

  it('accepts a current Anthropic usage object with thinking tokens, as reasoning inside output', async () => {
    const res = await send([{ id: id(), timestamp: at, model: 'claude-opus', usage: {
      input_tokens: 50, cache_creation_input_tokens: 0, cache_read_input_tokens: 2000, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: 600, output_tokens_details: { thinking_tokens: 450 }, server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
      service_tier: 'standard', inference_geo: 'global', speed: 'standard',
    } }]);
    expect(res.body.results[0]).toMatchObject({ status: 'accepted', tokens: { input: 50, cached_input: 2000, cache_write: 0, output: 600, reasoning: 450, total: 2650 } });
  });

  it('names fields accepted without counting them, counts them on /metrics and lists them for operators', async () => {
    const usage = { prompt_tokens: 100, completion_tokens: 10, region: 'eu-1', prompt_tokens_details: { cached_tokens: 20, sparkle_tokens: 5 } };
    const first = id();
    const res = await send([
      { id: first, timestamp: at, model: 'gpt-4o', usage },
      { id: id(), timestamp: at, model: 'gpt-4o', usage: { ...usage, region: 'eu-2' } },
      { id: id(), timestamp: at, model: 'qwen-turbo', usage: { input_tokens: 10, output_tokens: 1, plugins: { search: { count: 1 } }, output_tokens_details: { reasoning_tokens: 0, odd: 'x' } }, usage_format: 'dashscope' },
    ]);
    expect(res.body.results.map((r: { status: string; ignored_usage_fields?: string[] }) => [r.status, r.ignored_usage_fields])).toEqual([
      ['accepted', ['usage.region', 'usage.prompt_tokens_details.sparkle_tokens']],
      ['accepted', ['usage.region', 'usage.prompt_tokens_details.sparkle_tokens']],
      ['accepted', ['usage.output_tokens_details.odd']],
    ]);
    expect(res.body.results[0].tokens).toMatchObject({ input: 80, cached_input: 20, output: 10, total: 110 });

    expect(await metric(t, 'tokenmeter_usage_ignored_fields_total', '{format="openai_chat",field="usage.region"}')).toBe(2);
    expect(await metric(t, 'tokenmeter_usage_ignored_fields_total', '{format="dashscope",field="usage.output_tokens_details.odd"}')).toBe(1);
    const rows = await listed(t);
    expect(rows.map((r) => [r.format, r.path, r.events])).toEqual([
      ['dashscope', 'usage.output_tokens_details.odd', 1],
      ['openai_chat', 'usage.prompt_tokens_details.sparkle_tokens', 2],
      ['openai_chat', 'usage.region', 2],
    ]);
    expect(rows[0]).toMatchObject({ first_seen: clock.now().toISOString(), last_seen: clock.now().toISOString() });

    // The same event again, differing only in an ignored field: a duplicate (not a conflict), answered with
    // the fields of what was sent this time; a duplicate is not counted again.
    clock.advance(60_000);
    const again = await send([{ id: first, timestamp: at, model: 'gpt-4o', usage: { ...usage, region: 'elsewhere', colour: 'red' } }]);
    expect(again.body.results[0]).toMatchObject({ status: 'duplicate', ignored_usage_fields: ['usage.region', 'usage.prompt_tokens_details.sparkle_tokens', 'usage.colour'] });
    expect((await listed(t)).find((r) => r.path === 'usage.region')?.events).toBe(2);
    expect(await metric(t, 'tokenmeter_usage_ignored_fields_total', '{format="openai_chat",field="usage.region"}')).toBe(2);

    const later = await send([{ id: id(), timestamp: at, model: 'gpt-4o', usage }]);
    expect(later.body.results[0].status).toBe('accepted');
    const region = (await listed(t)).find((r) => r.path === 'usage.region')!;
    expect(region).toMatchObject({ events: 3, first_seen: '2026-03-15T12:00:00.000Z', last_seen: clock.now().toISOString() });
  });

  it('lists ignored fields for admin and sales only', async () => {
    for (const role of ['finance', 'member', 'agent'] as const) {
      expect((await t.get('/v1/ignored-usage-fields', org.keys[role])).status).toBe(403);
    }
    expect((await t.get('/v1/ignored-usage-fields', org.keys.sales)).status).toBe(200);
  });
});

describe('ingest: the listing of ignored usage fields is stored, for every process', () => {
  let dir: string | null = null;
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('survives a restart and adds up what each process saw', async () => {
    const clock = new ManualClock('2026-03-15T12:00:00.000Z');
    const place: { databaseUrl: string | null; dataDir?: string; env: Record<string, string> } = process.env.DATABASE_URL
      ? { databaseUrl: await createTestDatabase(), env: {} }
      : { databaseUrl: null, dataDir: (dir = mkdtempSync(join(tmpdir(), 'tokenmeter-'))), env: { REDIS_URL: '' } };
    const event = (eventId: string) => ({ id: eventId, timestamp: '2026-03-15T11:00:00Z', model: 'gpt-4o', usage: { input_tokens: 5, output_tokens: 1, input_tokens_details: { cached_tokens: 0, novel_tokens: 1 } } });

    const first = await startTestApp({ clock, ...place });
    const org = await newOrg(first);
    expect((await first.post('/v1/events', { events: [event('p-1')] }, org.keys.agent)).body.results[0].status).toBe('accepted');
    await first.close();

    clock.advance(3_600_000);
    const second = await startTestApp({ clock, ...place, env: { ...place.env, TOKENMETER_ADMIN_KEY: first.adminKey } });
    try {
      expect(await listed(second, first.adminKey)).toEqual([
        { format: 'openai_responses', path: 'usage.input_tokens_details.novel_tokens', events: 1, first_seen: '2026-03-15T12:00:00.000Z', last_seen: '2026-03-15T12:00:00.000Z' },
      ]);
      await second.post('/v1/events', { events: [event('p-2')] }, org.keys.agent);
      expect(await listed(second, first.adminKey)).toEqual([
        { format: 'openai_responses', path: 'usage.input_tokens_details.novel_tokens', events: 2, first_seen: '2026-03-15T12:00:00.000Z', last_seen: '2026-03-15T13:00:00.000Z' },
      ]);
    } finally {
      await second.close();
    }
    // Two starts and closes of a store on disk (migrations on the first): 5-8 s alone, past the default
    // 30 s late in a loaded CI run of the whole embedded suite (stop 43).
  }, 120_000);
});

describe('ingest: ignored usage fields cannot swamp /metrics, and their listing never costs an event', () => {
  let t: TestApp;
  let org: Awaited<ReturnType<typeof newOrg>>;

  beforeAll(async () => {
    t = await startTestApp();
    org = await newOrg(t);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('gives 200 (format, field) pairs their own series and counts the rest as field="other"; the listing keeps all', async () => {
    const events = Array.from({ length: 11 }, (_, e) => ({
      id: `swamp-${e}`,
      timestamp: '2026-03-15T11:00:00Z',
      model: 'gpt-4o',
      usage: { prompt_tokens: 3, completion_tokens: 1, ...Object.fromEntries(Array.from({ length: 20 }, (_, f) => [`f_${e}_${f}`, 'x'])) },
    }));
    const res = await t.post('/v1/events', { events }, org.keys.agent);
    expect(res.body.results.every((r: { status: string }) => r.status === 'accepted')).toBe(true);
    const text = (await t.get('/metrics', null)).text;
    const series = text.split('\n').filter((l) => l.startsWith('tokenmeter_usage_ignored_fields_total{'));
    expect(series).toHaveLength(201);
    expect(await metric(t, 'tokenmeter_usage_ignored_fields_total', '{format="openai_chat",field="other"}')).toBe(20);
    expect(await listed(t)).toHaveLength(220);
  });

  it('an event whose fields cannot be listed (the table is gone) is still accepted', async () => {
    await t.app.get(DataSource).query('DROP TABLE ignored_usage_fields');
    const res = await t.post('/v1/events', { events: [
      { id: 'unlisted', timestamp: '2026-03-15T11:00:00Z', model: 'gpt-4o', usage: { prompt_tokens: 3, completion_tokens: 1, novel: 'x' } },
    ] }, org.keys.agent);
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toMatchObject({ status: 'accepted', ignored_usage_fields: ['usage.novel'] });
  });
});
