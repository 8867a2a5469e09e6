// Readings end to end, on events reported through POST /v1/events: totals by every dimension from the
// rollups, member vs finance visibility, CSV, keyset paging, the live stream over a real socket, bad input.
import { Decimal } from 'decimal.js';
import { ManualClock } from '../src/clock/clock.js';
import { MeterStreamService } from '../metering/stream/meter-stream.service.js';
import { GROUP_BY_DIMS } from '../metering/readings/reading-query.js';
import { newAgent, newKey, newOrg, newPerson, newUnit, startTestApp, type TestApp } from './support/test-app.js';

type Org = Awaited<ReturnType<typeof newOrg>>;

const rates = (input: string, output: string) => ({ input, output });

interface Seeded {
  id: string;
  person: string;
  unit: string;
  tokens: number;
  cost: string | null;
  label: string;
}

describe('readings', () => {
  let t: TestApp;
  let clock: ManualClock;
  let org: Org;
  /** Same unit as org.person. */
  let p2: { id: string; agentKey: string };
  /** Another unit. */
  let p3: { id: string; unit: string; agentKey: string; memberKey: string };
  const seeded: Seeded[] = [];

  async function report(key: string, person: string, unit: string, events: Record<string, unknown>[]): Promise<void> {
    const res = await t.request('POST', '/v1/events', { key, body: { events } });
    expect(res.status).toBe(200);
    for (const r of res.body.results) {
      expect(r).toMatchObject({ status: 'accepted' });
      seeded.push({ id: r.id, person, unit, tokens: r.tokens.total, cost: r.cost?.total ?? null, label: r.label });
    }
  }

  const meter = (query: string, key: string = org.keys.finance) => t.get(`/v1/accounts/${org.account}/meter${query}`, key);
  const events = (query: string, key: string = org.keys.finance) => t.get(`/v1/accounts/${org.account}/events${query}`, key);
  const MARCH = '?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z';

  beforeAll(async () => {
    clock = new ManualClock('2026-01-01T00:00:00.000Z');
    t = await startTestApp({ clock });
    org = await newOrg(t);
    expect((await t.request('PUT', '/v1/models/gpt-4o', { key: org.keys.sales, body: { tier: 'base', provider: 'openai' } })).status).toBe(200);
    const book = await t.post(
      '/v1/price-books',
      { effective_from: '2026-01-01T00:00:00Z', tiers: { base: rates('1', '2'), specialized: rates('3', '6'), premier: rates('10', '30') } },
      org.keys.sales,
    );
    expect(book.status).toBe(201);
    clock.set('2026-03-15T12:00:00.000Z');

    const person2 = await newPerson(t, org.account, org.unit);
    const agent2 = await newAgent(t, org.account, person2.id);
    p2 = { id: person2.id, agentKey: (await newKey(t, { role: 'agent', account: org.account, agent_id: agent2.id })).secret };
    const unit3 = await newUnit(t, org.account);
    const person3 = await newPerson(t, org.account, unit3.id);
    const agent3 = await newAgent(t, org.account, person3.id);
    p3 = {
      id: person3.id,
      unit: unit3.id,
      agentKey: (await newKey(t, { role: 'agent', account: org.account, agent_id: agent3.id })).secret,
      memberKey: (await newKey(t, { role: 'member', account: org.account, person_id: person3.id })).secret,
    };

    await report(org.keys.agent, org.person, org.unit, [
      { id: 'e1', timestamp: '2026-03-10T09:15:00Z', operation: 'approval.create', channel: 'cli', model: 'gpt-4o', usage: { input: 1000, output: 500 }, outcome: 'success', session_id: 's1', session_context: 'internal' },
      { id: 'e2', timestamp: '2026-03-10T09:45:00Z', operation: 'orchestrate', channel: 'program', session_id: 's1', session_context: 'internal' },
      { id: 'e3', timestamp: '2026-03-11T14:05:00Z', operation: 'search', channel: 'mcp', model: 'gpt-4o', usage: { input: 2000, cached_input: 1000, output: 300, reasoning: 100 }, outcome: 'failure' },
    ]);
    await report(p2.agentKey, p2.id, org.unit, [
      // Same timestamp twice: paging must order by id within it.
      { id: 'e4', timestamp: '2026-03-12T10:00:00Z', operation: 'chat.reply', channel: 'chat', model: 'mystery-1', usage: { input: 100, output: 50 } },
      { id: 'e7', timestamp: '2026-03-12T10:00:00Z', operation: 'orchestrate', channel: 'program' },
    ]);
    await report(p3.agentKey, p3.id, p3.unit, [
      { id: 'e5', timestamp: '2026-03-13T08:00:00Z', operation: '=HYPERLINK("x")', channel: 'api', model: 'gpt-4o', usage: { input: 4000, output: 1000 }, outcome: 'success', metadata: { ticket: 'T-1, urgent' } },
      { id: 'e6', timestamp: '2026-02-20T08:00:00Z', operation: 'search', channel: 'api', model: 'gpt-4o', usage: { input: 10, output: 10 } },
    ]);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const inMarch = () => seeded.filter((e) => e.id !== 'e6');
  const sumCost = (list: Seeded[]) => list.reduce((d, e) => (e.cost === null ? d : d.plus(e.cost)), new Decimal(0));

  describe('totals', () => {
    it('defaults to this calendar month up to the end of the current hour', async () => {
      const res = await meter('');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ from: '2026-03-01T00:00:00.000Z', to: '2026-03-15T13:00:00.000Z', group_by: [], rows: [expect.anything()] });
      const march = inMarch();
      expect(res.body.totals.calls).toBe(march.length);
      expect(res.body.totals.tokens.total).toBe(march.reduce((n, e) => n + e.tokens, 0));
      expect(new Decimal(res.body.totals.cost).equals(sumCost(march))).toBe(true);
      expect(res.body.totals.cost).toMatch(/^\d+\.\d{12,}$/);
      // e4's mystery-1 has no price: its 150 tokens are counted, and said to be outside the cost.
      expect(res.body.totals.unpriced_tokens).toBe(march.filter((e) => e.cost === null).reduce((n, e) => n + e.tokens, 0));
      expect(res.body.totals.unpriced_tokens).toBe(150);
      // Effective: e1 (1500) and e5 (5000); ineffective: e3 (3300).
      expect(res.body.totals.effective_ratio).toBeCloseTo(6500 / 9800, 12);
      expect(res.body.rows[0]).toEqual({ key: {}, ...res.body.totals });
      expect(res.body.totals.tokens).toEqual({ input: 7100, cached_input: 1000, cache_write: 0, output: 1850, reasoning: 100, total: 9950 });
    });

    it('a range that includes February counts its event; an empty range has no rows and zero totals', async () => {
      const res = await meter('?from=2026-02-01T00:00:00Z&to=2026-04-01T00:00:00Z');
      expect(res.body.totals.calls).toBe(seeded.length);
      const empty = await meter('?from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z');
      expect(empty.status).toBe(200);
      expect(empty.body.rows).toEqual([]);
      expect(empty.body.totals).toMatchObject({ calls: 0, tokens: { total: 0 }, effective_ratio: null });
      expect(new Decimal(empty.body.totals.cost).isZero()).toBe(true);
    });

    it.each(GROUP_BY_DIMS)('group_by=%s: rows add up to the totals', async (dim) => {
      const res = await meter(`${MARCH}&group_by=${dim}`);
      expect(res.status).toBe(200);
      expect(res.body.group_by).toEqual([dim]);
      const rows = res.body.rows as { key: Record<string, string | null>; calls: number; tokens: { total: number }; cost: string }[];
      expect(rows.every((r) => Object.keys(r.key).join() === dim)).toBe(true);
      expect(rows.reduce((n, r) => n + r.calls, 0)).toBe(res.body.totals.calls);
      expect(rows.reduce((n, r) => n + r.tokens.total, 0)).toBe(res.body.totals.tokens.total);
      expect(rows.reduce((d, r) => d.plus(r.cost), new Decimal(0)).equals(res.body.totals.cost)).toBe(true);
      expect(new Set(rows.map((r) => r.key[dim])).size).toBe(rows.length);
    });

    it('keys are what was metered, null where absent', async () => {
      const keys = async (dim: string) =>
        Object.fromEntries(((await meter(`${MARCH}&group_by=${dim}`)).body.rows as any[]).map((r) => [String(r.key[dim]), r.calls]));
      expect(await keys('channel')).toEqual({ api: 1, chat: 1, cli: 1, mcp: 1, program: 2 });
      expect(await keys('model')).toEqual({ null: 2, 'gpt-4o': 3, 'mystery-1': 1 });
      expect(await keys('tier')).toEqual({ null: 3, base: 3 });
      expect(await keys('person')).toEqual({ [org.person]: 3, [p2.id]: 2, [p3.id]: 1 });
      expect(await keys('unit')).toEqual({ [org.unit]: 5, [p3.unit]: 1 });
      expect(await keys('label')).toEqual({ effective: 2, ineffective: 1, unclassified: 3 });
      expect(await keys('session_context')).toEqual({ null: 4, internal: 2 });
      expect(await keys('day')).toEqual({ '2026-03-10': 2, '2026-03-11': 1, '2026-03-12': 2, '2026-03-13': 1 });
      expect(await keys('hour')).toEqual({
        '2026-03-10T09:00:00.000Z': 2,
        '2026-03-11T14:00:00.000Z': 1,
        '2026-03-12T10:00:00.000Z': 2,
        '2026-03-13T08:00:00.000Z': 1,
      });
      const program = (await meter(`${MARCH}&group_by=channel&channel=program`)).body.rows;
      expect(program).toEqual([expect.objectContaining({ key: { channel: 'program' }, calls: 2, tokens: expect.objectContaining({ total: 0 }), effective_ratio: null })]);
    });

    it('the effective ratio is per row', async () => {
      const rows = (await meter(`${MARCH}&group_by=label`)).body.rows as any[];
      expect(Object.fromEntries(rows.map((r) => [r.key.label, r.effective_ratio]))).toEqual({ effective: 1, ineffective: 0, unclassified: null });
    });

    it('the daily and hourly rollups agree', async () => {
      // Whole days over channel: the daily rollup; with person: the hourly one.
      const daily = (await meter(`${MARCH}&group_by=day,channel`)).body;
      const hourly = (await meter(`${MARCH}&group_by=day,channel,person`)).body;
      expect(daily.totals).toEqual(hourly.totals);
      expect(daily.rows.map((r: any) => r.key)).toContainEqual({ day: '2026-03-10', channel: 'program' });
      const partial = (await meter('?from=2026-03-10T09:00:00Z&to=2026-03-10T10:00:00Z&group_by=channel')).body;
      expect(partial.totals.calls).toBe(2);
    });

    it('filters by person, unit, agent, model, channel and label', async () => {
      const calls = async (q: string) => (await meter(`${MARCH}&${q}`)).body.totals.calls;
      expect(await calls(`person=${org.person}`)).toBe(3);
      expect(await calls(`unit=${p3.unit}`)).toBe(1);
      expect(await calls(`agent=${org.agent}`)).toBe(3);
      expect(await calls('model=gpt-4o')).toBe(3);
      expect(await calls('model=mystery-1')).toBe(1);
      expect(await calls('channel=program')).toBe(2);
      expect(await calls('label=effective')).toBe(2);
      expect(await calls(`label=effective&person=${p3.id}`)).toBe(1);
    });
  });

  describe('visibility', () => {
    it('finance, admin and sales see the whole account', async () => {
      for (const key of [org.keys.finance, org.keys.admin, org.keys.sales]) {
        const res = await meter(`${MARCH}&group_by=person`, key);
        expect(res.status).toBe(200);
        expect(res.body.rows.map((r: any) => r.key.person).sort()).toEqual([org.person, p2.id, p3.id].sort());
      }
    });

    it('a member sees their own usage and their unit, not another unit', async () => {
      const res = await meter(`${MARCH}&group_by=person`, org.keys.member);
      expect(res.body.rows.map((r: any) => r.key.person).sort()).toEqual([org.person, p2.id].sort());
      expect((await meter(`${MARCH}&person=${p3.id}`, org.keys.member)).body.totals.calls).toBe(0);
      const list = await events('?limit=1000', org.keys.member);
      expect(list.body.data.map((e: any) => e.id).sort()).toEqual(['e1', 'e2', 'e3', 'e4', 'e7']);
      const other = await events(`?person=${p3.id}`, org.keys.member);
      expect(other.body.data).toEqual([]);
    });

    it('a member of the other unit sees only that unit; an agent key sees what its owner sees', async () => {
      const res = await meter('?from=2026-02-01T00:00:00Z&to=2026-04-01T00:00:00Z&group_by=person', p3.memberKey);
      expect(res.body.rows.map((r: any) => r.key.person)).toEqual([p3.id]);
      expect(res.body.totals.calls).toBe(2);
      expect((await events('', p3.agentKey)).body.data.map((e: any) => e.id)).toEqual(['e5', 'e6']);
      expect((await meter(`${MARCH}&group_by=person`, org.keys.agent)).body.rows).toHaveLength(2);
    });

    it("another account's key gets a 404; an operator asking for an unknown account too", async () => {
      const other = await newOrg(t);
      expect((await meter('', other.keys.finance)).status).toBe(404);
      expect((await events('', other.keys.member)).status).toBe(404);
      expect((await t.get('/v1/accounts/no-such-account/meter', org.keys.admin)).status).toBe(404);
    });
  });

  describe('listing', () => {
    it('lists operations newest first with their meter', async () => {
      const res = await events('');
      expect(res.status).toBe(200);
      expect(res.body.next_cursor).toBeNull();
      expect(res.body.data.map((e: any) => e.id)).toEqual(['e5', 'e7', 'e4', 'e3', 'e2', 'e1', 'e6']);
      const e3 = res.body.data.find((e: any) => e.id === 'e3');
      expect(e3).toMatchObject({
        timestamp: '2026-03-11T14:05:00.000Z',
        received_at: '2026-03-15T12:00:00.000Z',
        person_id: org.person,
        agent_id: org.agent,
        unit_id: org.unit,
        operation: 'search',
        channel: 'mcp',
        model: 'gpt-4o',
        model_name: 'gpt-4o',
        tier: 'base',
        priced: true,
        outcome: 'failure',
        label: 'ineffective',
        adjustment: false,
        tokens: { input: 2000, cached_input: 1000, cache_write: 0, output: 300, reasoning: 100, total: 3300 },
      });
      expect(Object.keys(e3.cost)).toEqual(['input', 'cached_input', 'cache_write', 'output', 'reasoning', 'total']);
      expect(new Decimal(e3.cost.total).equals(seeded.find((e) => e.id === 'e3')!.cost!)).toBe(true);
      const e4 = res.body.data.find((e: any) => e.id === 'e4');
      expect(e4).toMatchObject({ model: 'mystery-1', model_name: 'mystery-1', priced: false, cost: null, tier: null });
      const e2 = res.body.data.find((e: any) => e.id === 'e2');
      expect(e2).toMatchObject({ model: null, channel: 'program', tokens: { total: 0 }, session_id: 's1', session_context: 'internal' });
      expect(res.body.data.find((e: any) => e.id === 'e5').metadata).toEqual({ ticket: 'T-1, urgent' });
    });

    it('filters', async () => {
      const ids = async (q: string) => (await events(q)).body.data.map((e: any) => e.id);
      expect(await ids('?channel=program')).toEqual(['e7', 'e2']);
      expect(await ids('?model=mystery-1')).toEqual(['e4']);
      expect(await ids('?session=s1')).toEqual(['e2', 'e1']);
      expect(await ids('?operation=search')).toEqual(['e3', 'e6']);
      expect(await ids('?label=ineffective')).toEqual(['e3']);
      expect(await ids(`?person=${p2.id}`)).toEqual(['e7', 'e4']);
      expect(await ids(`?unit=${p3.unit}`)).toEqual(['e5', 'e6']);
      expect(await ids(`?agent=${org.agent}&from=2026-03-10T09:30:00Z&to=2026-03-11T00:00:00Z`)).toEqual(['e2']);
    });

    it('pages by keyset without duplicates or gaps, ties on time broken by id', async () => {
      const all = (await events('?limit=1000')).body.data.map((e: any) => e.id);
      for (const limit of [1, 2, 3]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const res: any = await events(`?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
          expect(res.status).toBe(200);
          expect(res.body.data.length).toBeLessThanOrEqual(limit);
          seen.push(...res.body.data.map((e: any) => e.id));
          cursor = res.body.next_cursor;
          pages++;
        } while (cursor !== null && pages < 20);
        expect(seen).toEqual(all);
      }
    });
  });

  describe('CSV', () => {
    it('a reading as CSV: a key column per dimension, flattened sums', async () => {
      const res = await t.request('GET', `/v1/accounts/${org.account}/meter${MARCH}&group_by=channel,model`, {
        key: org.keys.finance,
        headers: { accept: 'text/csv' },
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      const lines = res.text.split('\r\n');
      expect(lines[0]).toBe(
        'key_channel,key_model,calls,tokens_input,tokens_cached_input,tokens_cache_write,tokens_output,tokens_reasoning,tokens_total,cost,unpriced_tokens,effective_ratio',
      );
      expect(lines).toContainEqual(expect.stringMatching(/^program,,2,0,0,0,0,0,0,0\.0+,0,$/));
      expect(lines).toHaveLength(1 + 5 + 1);
      const csv = await meter(`${MARCH}&format=csv`);
      expect(csv.text.split('\r\n')[0]).toMatch(/^calls,/);
    });

    it('a listing as CSV, with formulas defused and the next cursor in a header', async () => {
      const res = await t.request('GET', `/v1/accounts/${org.account}/events?limit=2`, { key: org.keys.finance, headers: { accept: 'text/csv' } });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      expect(res.headers['x-next-cursor']).toEqual(expect.any(String));
      const lines = res.text.split('\r\n');
      expect(lines[0]).toContain('id,timestamp,received_at,person_id');
      expect(lines[0]).toContain('tokens_input');
      expect(lines[0]).toContain('cost_total');
      expect(lines[1]).toContain(`e5,2026-03-13T08:00:00.000Z`);
      expect(lines[1]).toContain(`"'=HYPERLINK(""x"")"`);
      expect(lines[1]).toContain('"{""ticket"":""T-1, urgent""}"');
      expect(lines).toHaveLength(1 + 2 + 1);
    });
  });

  describe('bad input', () => {
    it.each([
      ['?group_by=model,colour', 'invalid_group_by', 'group_by'],
      ['?from=2026-03-01T00:30:00Z', 'invalid_range', 'from'],
      ['?to=2026-03-02T00:00:00.5Z', 'invalid_range', 'to'],
      ['?from=2026-03-01', 'invalid_range', 'from'],
      ['?from=2026-03-02T00:00:00Z&to=2026-03-02T00:00:00Z', 'invalid_range', 'from'],
      ['?from=2026-03-03T00:00:00Z&to=2026-03-02T00:00:00Z', 'invalid_range', 'from'],
      ['?from=2025-01-01T00:00:00Z&to=2026-03-01T00:00:00Z', 'invalid_range', 'to'],
      // Only "from" sent: the span is too long because of it, not of the default "to".
      ['?from=1900-01-01T00:00:00Z', 'invalid_range', 'from'],
      ['?label=great', 'invalid_value', 'label'],
      ['?colour=red', 'unknown_field', 'colour'],
    ])('meter%s -> 400 %s on %s', async (query, code, field) => {
      const res = await meter(query);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code, field });
    });

    it.each([
      ['?cursor=bm9wZQ', 'invalid_cursor', 'cursor'],
      ['?limit=0', 'invalid_value', 'limit'],
      ['?limit=1001', 'invalid_value', 'limit'],
      ['?from=soon', 'invalid_range', 'from'],
      ['?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', 'invalid_range', 'from'],
    ])('events%s -> 400 %s on %s', async (query, code, field) => {
      const res = await events(query);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code, field });
    });
  });

  describe('live stream', () => {
    let base: string;
    beforeAll(async () => {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const address = t.app.getHttpServer().address() as { port: number };
      base = `http://127.0.0.1:${address.port}`;
    });

    /** Opens the stream and reads SSE messages as they come. */
    async function open(key: string, query = '') {
      const abort = new AbortController();
      const url = `/v1/accounts/${org.account}/meter/stream${query}`;
      const res = await fetch(`${base}${url}`, {
        headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' },
        signal: abort.signal,
      });
      await t.checkResponse({ method: 'GET', url, status: res.status, contentType: res.headers.get('content-type') ?? undefined, body: '' });
      const contract = await t.contract();
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      const next = async (): Promise<{ event: string; data: any }> => {
        for (;;) {
          const end = buffer.indexOf('\n\n');
          if (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const lines = block.split('\n').filter((l) => !l.startsWith(':') && !l.startsWith('retry:'));
            if (lines.length === 0) continue;
            const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
            const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
            const parsed = JSON.parse(data);
            // Each message's data is the documented component for its event.
            contract.checkComponent(event === 'ready' ? 'MeterStreamReady' : 'MeterStreamOperation', parsed);
            return { event, data: parsed };
          }
          const { value, done } = await reader.read();
          if (done) throw new Error('stream ended');
          buffer += decoder.decode(value, { stream: true });
        }
      };
      return { res, next, close: () => abort.abort() };
    }

    const listed = async (id: string) => (await events(`?limit=1000`)).body.data.find((e: any) => e.id === id);

    it('delivers a published operation with the running month totals', async () => {
      const stream = await open(org.keys.finance);
      expect(stream.res.status).toBe(200);
      expect(stream.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const ready = await stream.next();
      expect(ready.event).toBe('ready');
      expect(ready.data.period).toEqual({ from: '2026-03-01T00:00:00.000Z', to: '2026-04-01T00:00:00.000Z' });
      const month = (await meter('')).body.totals;
      expect(ready.data.totals).toEqual({ calls: month.calls, tokens: month.tokens, cost: month.cost, unpriced_tokens: month.unpriced_tokens });

      await report(org.keys.agent, org.person, org.unit, [
        { id: 'live-1', timestamp: '2026-03-15T11:59:00Z', operation: 'deploy', channel: 'cli', model: 'gpt-4o', usage: { input: 10, output: 20 } },
      ]);
      // Ingest publishes the operation after its commit.
      const message = await stream.next();
      const view = await listed('live-1');
      expect(message.event).toBe('operation');
      expect(message.data.event).toEqual(view);
      expect(message.data.totals.calls).toBe(month.calls + 1);
      expect(message.data.totals.tokens.total).toBe(month.tokens.total + 30);
      expect(new Decimal(message.data.totals.cost).equals(new Decimal(month.cost).plus(view.cost.total))).toBe(true);
      expect(message.data.totals.unpriced_tokens).toBe(month.unpriced_tokens);
      // An operation of a model with no price: its tokens join the running unpriced tokens, not the cost.
      await report(org.keys.agent, org.person, org.unit, [
        { id: 'live-2', timestamp: '2026-03-15T11:59:30Z', operation: 'deploy', channel: 'cli', model: 'mystery-live', usage: { input: 7, output: 3 } },
      ]);
      const unpriced = await stream.next();
      expect(unpriced.data.totals).toMatchObject({ calls: month.calls + 2, cost: message.data.totals.cost, unpriced_tokens: month.unpriced_tokens + 10 });
      expect((await meter('')).body.totals).toMatchObject({ cost: message.data.totals.cost, unpriced_tokens: month.unpriced_tokens + 10 });
      stream.close();
    });

    it('a member streams their own person and their unit\'s people, as their readings show', async () => {
      const url = `/v1/accounts/${org.account}/meter/stream?person=${p3.id}`;
      const refused = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${org.keys.member}` } });
      expect(refused.status).toBe(403);
      await t.checkResponse({ method: 'GET', url, status: 403, contentType: refused.headers.get('content-type') ?? undefined, body: await refused.json() });
      const stream = await open(org.keys.member);
      const ready = await stream.next();
      // Their own operations this month and their unit's (p2's), the live one reported above included; not p3's.
      expect(ready.data.totals.calls).toBe(inMarch().filter((e) => e.unit === org.unit).length);
      expect(inMarch().filter((e) => e.unit === org.unit).length).toBeGreaterThan(inMarch().filter((e) => e.person === org.person).length);
      const reading = (await meter(`?from=${ready.data.period.from}&to=${ready.data.period.to}`, org.keys.member)).body.totals;
      expect({ calls: ready.data.totals.calls, cost: ready.data.totals.cost }).toEqual({ calls: reading.calls, cost: reading.cost });
      expect(inMarch().some((e) => e.id === 'live-1')).toBe(true);

      const service = t.app.get(MeterStreamService);
      const otherUnit = await listed('e5');
      const mine = await listed('e1');
      const teammate = (await events(`?person=${p2.id}&limit=1`)).body.data[0];
      service.publish(org.account, otherUnit);
      service.publish(org.account, { ...mine, id: 'replayed-e1' });
      service.publish(org.account, { ...teammate, id: 'replayed-teammate' });
      expect((await stream.next()).data.event.id).toBe('replayed-e1');
      expect((await stream.next()).data.event.id).toBe('replayed-teammate');
      stream.close();
      // Narrowed to a teammate: theirs only.
      const narrowed = await open(org.keys.member, `?person=${p2.id}`);
      expect((await narrowed.next()).data.totals.calls).toBe(inMarch().filter((e) => e.person === p2.id).length);
      service.publish(org.account, { ...mine, id: 'replayed-e1-again' });
      service.publish(org.account, { ...teammate, id: 'replayed-teammate-again' });
      expect((await narrowed.next()).data.event.id).toBe('replayed-teammate-again');
      narrowed.close();
    });

    it('finance can narrow the stream to a person', async () => {
      const stream = await open(org.keys.finance, `?person=${p3.id}`);
      const ready = await stream.next();
      expect(ready.data.totals.calls).toBe(1);
      const service = t.app.get(MeterStreamService);
      service.publish(org.account, await listed('e1'));
      service.publish(org.account, await listed('e5'));
      expect((await stream.next()).data.event.id).toBe('e5');
      stream.close();
    });
  });
});
