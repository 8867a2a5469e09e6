// The client's resending, against a fetch that plays the network (what is outside the machine): which
// answers and failures send a request again, that every send of a write carries the same Idempotency-Key,
// and what is never sent twice.
import { createTokenmeterClient } from './client.js';

type Outcome = Response | Error;

/** A fetch answering each send with the next outcome, recording what was sent. */
function network(outcomes: Outcome[]) {
  const sent: { method: string; path: string; key: string | null; body: string }[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    sent.push({ method: request.method, path: new URL(request.url).pathname, key: request.headers.get('idempotency-key'), body: await request.text() });
    const next = outcomes.shift();
    if (next === undefined) throw new Error('no more outcomes');
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, sent };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const lost = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'UND_ERR_SOCKET' } });
const refused = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
const inUse = () => json(409, { error: { code: 'idempotency_key_in_use', message: 'in progress', request_id: 'r' } });
const held = () => json(200, { allowed: true, reservation_id: 'res_1' });

function client(outcomes: Outcome[], sameWriteWithinMs?: number) {
  const net = network(outcomes);
  return { api: createTokenmeterClient({ baseUrl: 'http://tm.test', key: 'k', fetch: net.fetch, resendAfterMs: [1, 1], sameWriteWithinMs }), sent: net.sent };
}

describe('resending', () => {
  it('sends a write again after a lost answer, a 503 and a write still running, with one key and the same body', async () => {
    const { api, sent } = client([lost(), json(503, { error: { code: 'shutting_down', message: 'x', request_id: 'r' } }), held()]);
    const { data } = await api.POST('/v1/authorizations', { body: { amount: '0.60' } });
    expect(data).toMatchObject({ reservation_id: 'res_1' });
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((s) => s.key)).size).toBe(1);
    expect(sent[0]!.key).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(new Set(sent.map((s) => s.body))).toEqual(new Set(['{"amount":"0.60"}']));

    const running = client([inUse(), held()]);
    await running.api.POST('/v1/authorizations', { body: { amount: '0.60' } });
    expect(running.sent).toHaveLength(2);
  });

  it('gives each write its own key and keeps one the caller set', async () => {
    const { api, sent } = client([held(), held(), held()]);
    await api.POST('/v1/authorizations', { body: { amount: '1' } });
    await api.POST('/v1/authorizations', { body: { amount: '1' } });
    await api.POST('/v1/authorizations', { body: { amount: '1' }, headers: { 'Idempotency-Key': 'mine' } });
    expect(sent[0]!.key).not.toBe(sent[1]!.key);
    expect(sent[2]!.key).toBe('mine');
  });

  it('stops after the last pause, answering what came last', async () => {
    const { api, sent } = client([lost(), lost(), json(503, { error: { code: 'unavailable', message: 'down', request_id: 'r' } })]);
    const { response } = await api.GET('/v1/models');
    expect([response.status, sent.length]).toEqual([503, 3]);
    const failing = client([lost(), lost(), lost()]);
    await expect(failing.api.GET('/v1/models')).rejects.toThrow('fetch failed');
    expect(failing.sent).toHaveLength(3);
  });

  it('does not send again a refused connection, an abort, another error answer, or the issue of a key', async () => {
    for (const first of [refused(), Object.assign(new Error('aborted'), { name: 'AbortError' }), Object.assign(new Error('late'), { name: 'TimeoutError' })]) {
      const { api, sent } = client([first, held()]);
      await expect(api.POST('/v1/authorizations', { body: { amount: '1' } })).rejects.toBe(first);
      expect(sent).toHaveLength(1);
    }
    const conflict = client([json(409, { error: { code: 'conflict', message: 'x', request_id: 'r' } }), held()]);
    expect((await conflict.api.POST('/v1/authorizations', { body: { amount: '1' } })).response.status).toBe(409);
    expect(conflict.sent).toHaveLength(1);
    const key = client([lost(), json(201, {})]);
    await expect(key.api.POST('/v1/api-keys', { body: { role: 'admin', name: 'x' } })).rejects.toThrow('fetch failed');
    expect(key.sent).toEqual([expect.objectContaining({ path: '/v1/api-keys', key: null })]);
  });

  it('sends reads and deletes again without a key', async () => {
    const { api, sent } = client([lost(), json(200, { reservation_id: 'r', status: 'released' })]);
    await api.DELETE('/v1/authorizations/{id}', { params: { path: { id: 'r' } } });
    expect(sent.map((s) => [s.method, s.key])).toEqual([
      ['DELETE', null],
      ['DELETE', null],
    ]);
  });

  it('sends a write the same as one just sent with its key (a double click), another write or a later one with a new key', async () => {
    const { api, sent } = client([held(), held(), held(), held(), held()], 50);
    const grant = () => api.POST('/v1/authorizations', { body: { amount: '1' } });
    await Promise.all([grant(), grant()]);
    await grant();
    await api.POST('/v1/authorizations', { body: { amount: '2' } });
    await new Promise((resolve) => setTimeout(resolve, 80));
    await grant();
    const keys = sent.map((s) => s.key);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).toBe(keys[0]);
    expect(keys[3]).not.toBe(keys[0]);
    expect(keys[4]).not.toBe(keys[0]);
    // Without the window, each write has its own.
    const plain = client([held(), held()]);
    await Promise.all([plain.api.POST('/v1/authorizations', { body: { amount: '1' } }), plain.api.POST('/v1/authorizations', { body: { amount: '1' } })]);
    expect(plain.sent[0]!.key).not.toBe(plain.sent[1]!.key);
  });
});
