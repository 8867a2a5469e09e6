// Outgoing webhooks end to end, against real HTTP receivers on loopback addresses and whichever job
// backend is configured (BullMQ on REDIS_URL, the database queue otherwise). The retry schedule follows
// the injected clock: tests move it to a delivery's next attempt and run what is due, never sleeping.
import { readFileSync } from 'node:fs';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { RETENTION_MS, WebhookDeliveryService } from '../billing/webhooks/webhook-delivery.service.js';
import { WebhookEvents } from '../billing/webhooks/webhook-events.js';
import { RETRY_WINDOW_MS } from '../billing/webhooks/retry-schedule.js';
import { verifySignature } from '../billing/webhooks/signature.js';
import type { WebhookEventType } from '../billing/webhooks/event-types.js';
import { TasksService } from '../metering/tasks/tasks.service.js';
import { ManualClock } from '../src/clock/clock.js';
import { TransactionRunner } from '../src/database/transactions.js';
import { setupPricing } from './support/metering.js';
import { newOrg, startTestApp, type TestApp } from './support/test-app.js';

type Behaviour = number | 'hang';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Set when the connection closed (the sender gave up or the answer was sent). */
  closed: boolean;
}

/** A webhook receiver on a loopback address: answers each path's requests from its plan (default 200). */
class Receiver {
  readonly got: Received[] = [];
  private readonly plans = new Map<string, Behaviour[]>();
  private server!: Server;
  port = 0;

  constructor(readonly host: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const path = req.url ?? '/';
        const entry: Received = { path, headers: req.headers, body, closed: false };
        res.on('close', () => (entry.closed = true));
        this.got.push(entry);
        const behaviour = this.plans.get(path)?.shift() ?? 200;
        if (behaviour !== 'hang') this.answer(res, behaviour);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, this.host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private answer(res: ServerResponse, status: number): void {
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'receiver trouble');
  }

  url(path: string): string {
    return `http://${this.host}:${this.port}${path}`;
  }

  plan(path: string, ...behaviours: Behaviour[]): void {
    this.plans.set(path, behaviours);
  }

  at(path: string): Received[] {
    return this.got.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The README's verification lines, run as written, with `Date.now()` read from the test's clock. */
function readmeVerifier(): (header: string, body: string, secret: string, nowMs: number) => boolean {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /<!-- webhook-verify -->\s*```js\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README has no webhook-verify block');
  const lines = block.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('import ') && !l.startsWith('//'));
  expect(lines).toHaveLength(3);
  const run = new Function('header', 'body', 'secret', 'createHmac', 'timingSafeEqual', 'Buffer', 'Date', `${lines.join('\n')}\nreturn ok;`);
  return (header, body, secret, nowMs) => run(header, body, secret, createHmac, timingSafeEqual, Buffer, { now: () => nowMs }) as boolean;
}

const ALLOWED = '127.0.0.1/32';
const TIMEOUT_MS = 1500;

describe('outgoing webhooks', () => {
  let t: TestApp;
  let clock: ManualClock;
  let receiver: Receiver;
  let elsewhere: Receiver;
  let org: Awaited<ReturnType<typeof newOrg>>;
  let other: Awaited<ReturnType<typeof newOrg>>;
  let paths = 0;

  beforeAll(async () => {
    clock = new ManualClock('2026-03-15T12:00:00.000Z');
    t = await startTestApp({ clock, env: { TOKENMETER_WEBHOOK_ALLOW_PRIVATE: ALLOWED, TOKENMETER_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS) } });
    receiver = await new Receiver('127.0.0.1').start();
    // Loopback too, but outside the allow-list: what a private address looks like to the service.
    elsewhere = await new Receiver('127.0.0.2').start();
    org = await newOrg(t);
    other = await newOrg(t);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await receiver?.stop();
    await elsewhere?.stop();
  });

  const emit = (account: string, type: WebhookEventType, data: object = { n: 1 }) => t.app.get(WebhookEvents).emit(null, account, type, data);
  const nextPath = () => `/hook-${++paths}`;

  async function endpoint(body: Record<string, unknown>, key = org.keys.finance) {
    const res = await t.post('/v1/webhook-endpoints', body, key);
    expect(res.status).toBe(201);
    return res.body as { id: string; secret: string; event_types: string[]; enabled: boolean };
  }

  async function deliveries(endpointId: string, key = org.keys.finance) {
    const res = await t.get(`/v1/webhook-endpoints/${endpointId}/deliveries`, key);
    expect(res.status).toBe(200);
    return res.body.data as any[];
  }

  async function settled(endpointId: string, attempts: number, key = org.keys.finance) {
    await waitFor(async () => {
      const [d] = await deliveries(endpointId, key);
      return d !== undefined && d.attempt_count === attempts && d.attempts.length === attempts;
    }, `attempt ${attempts} of the delivery to be recorded`);
    return (await deliveries(endpointId, key))[0];
  }

  /** How long after its scheduled time runNextAttempt runs an attempt (past the sweep's grace). */
  const PAST_GRACE_MS = 61_000;

  /** Moves the clock past the delivery's next attempt (and the sweep's grace) and runs what is due. */
  async function runNextAttempt(endpointId: string): Promise<void> {
    const [d] = await deliveries(endpointId);
    expect(d.status).toBe('pending');
    clock.set(new Date(new Date(d.next_attempt_at).getTime() + PAST_GRACE_MS));
    await t.app.get(WebhookDeliveryService).sweep();
  }

  it('delivers a signed event that the README lines verify, with the event id in a header', async () => {
    const path = nextPath();
    const ep = await endpoint({ url: receiver.url(path), description: 'finance tools' });
    expect(ep.secret).toMatch(/^whsec_/);
    expect(ep.event_types).toEqual(['budget.threshold_crossed', 'budget.forecast_exceeded', 'allowance.exhausted', 'invoice.finalized', 'invoice.paid']);

    const eventId = await emit(org.account, 'budget.threshold_crossed', { node: 'platform', threshold_pct: 80 });
    await waitFor(() => receiver.at(path).length === 1, 'the delivery');
    const [req] = receiver.at(path);
    expect(req!.headers['tokenmeter-event-id']).toBe(eventId);
    expect(req!.headers['tokenmeter-event-type']).toBe('budget.threshold_crossed');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req!.body)).toEqual({
      id: eventId,
      type: 'budget.threshold_crossed',
      created_at: '2026-03-15T12:00:00.000Z',
      account: org.account,
      data: { node: 'platform', threshold_pct: 80 },
    });

    const header = String(req!.headers['tokenmeter-signature']);
    expect(header).toMatch(/^t=1773576000,v1=[0-9a-f]{64}$/);
    const verify = readmeVerifier();
    const now = clock.now().getTime();
    expect(verify(header, req!.body, ep.secret, now)).toBe(true);
    expect(verify(header, req!.body.replace('80', '81'), ep.secret, now)).toBe(false);
    expect(verify(header, req!.body, `${ep.secret}x`, now)).toBe(false);
    expect(verify(header, req!.body, ep.secret, now + 600_000)).toBe(false);

    const d = await settled(ep.id, 1);
    expect(d).toMatchObject({ event_id: eventId, event_type: 'budget.threshold_crossed', status: 'succeeded', next_attempt_at: null, last_status_code: 200, last_error: null });
    expect(d.attempts).toEqual([expect.objectContaining({ attempt: 1, status_code: 200, error: null, response_excerpt: 'ok' })]);
  });

  it('does not retry after a 2xx', async () => {
    const path = nextPath();
    const ep = await endpoint({ url: receiver.url(path) });
    receiver.plan(path, 204);
    await emit(org.account, 'invoice.paid');
    await settled(ep.id, 1);
    clock.advance(RETRY_WINDOW_MS + 3_600_000);
    await t.app.get(WebhookDeliveryService).sweep();
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.at(path)).toHaveLength(1);
    expect((await deliveries(ep.id))[0]).toMatchObject({ status: 'succeeded', attempt_count: 1, last_status_code: 204 });
  });

  it('retries after a 500, at the scheduled time, with the same event and body, until a 2xx', async () => {
    const path = nextPath();
    const ep = await endpoint({ url: receiver.url(path) });
    receiver.plan(path, 500, 503, 200);
    const eventId = await emit(org.account, 'allowance.exhausted', { allowance: '50.00' });

    const first = await settled(ep.id, 1);
    expect(first).toMatchObject({ status: 'pending', last_status_code: 500, last_error: 'the receiver answered HTTP 500' });
    expect(first.attempts[0]).toMatchObject({ status_code: 500, response_excerpt: 'receiver trouble' });
    const wait = new Date(first.next_attempt_at).getTime() - new Date(first.attempts[0].started_at).getTime();
    expect(wait).toBeGreaterThanOrEqual(22_500);
    expect(wait).toBeLessThanOrEqual(37_500);
    // Nothing happens before the scheduled time.
    clock.advance(15_000);
    await t.app.get(WebhookDeliveryService).sweep();
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.at(path)).toHaveLength(1);

    await runNextAttempt(ep.id);
    await settled(ep.id, 2);
    await runNextAttempt(ep.id);
    const done = await settled(ep.id, 3);
    expect(done).toMatchObject({ status: 'succeeded', attempt_count: 3, last_status_code: 200, next_attempt_at: null });
    expect(done.attempts.map((a: any) => a.status_code)).toEqual([500, 503, 200]);

    const got = receiver.at(path);
    expect(got).toHaveLength(3);
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    expect(got.map((r) => r.headers['tokenmeter-event-id'])).toEqual([eventId, eventId, eventId]);
    expect(got.map((r) => r.headers['tokenmeter-delivery-attempt'])).toEqual(['1', '2', '3']);
    // Each attempt is signed at its own time.
    const last = got[2]!;
    expect(verifySignature(String(last.headers['tokenmeter-signature']), ep.secret, last.body, Math.floor(clock.now().getTime() / 1000))).toBe(true);
  });

  it('gives up after about a day of failures and marks the delivery failed', async () => {
    const path = nextPath();
    const ep = await endpoint({ url: receiver.url(path) });
    receiver.plan(path, ...Array<number>(60).fill(500));
    await emit(org.account, 'invoice.finalized', { invoice: 'inv_1' });
    let d = await settled(ep.id, 1);
    while (d.status === 'pending') {
      await runNextAttempt(ep.id);
      d = await settled(ep.id, d.attempt_count + 1);
    }
    expect(d.status).toBe('failed');
    expect(d.next_attempt_at).toBeNull();
    expect(d.attempt_count).toBeGreaterThanOrEqual(20);
    expect(d.attempt_count).toBeLessThanOrEqual(40);
    const lastStart = new Date(d.attempts[d.attempts.length - 1].started_at).getTime();
    const deadline = new Date(d.deadline_at).getTime();
    expect(deadline - new Date(d.created_at).getTime()).toBe(RETRY_WINDOW_MS);
    // Each attempt was scheduled at or before the deadline; runNextAttempt starts it PAST_GRACE_MS later,
    // so the last one may start up to that much after the deadline (it did when its draw fell in the last minute).
    expect(lastStart - PAST_GRACE_MS).toBeLessThanOrEqual(deadline);
    expect(deadline - lastStart).toBeLessThan(2 * 3_600_000);
    expect(receiver.at(path)).toHaveLength(d.attempt_count);
  }, 120_000);

  it('times out a receiver that hangs and retries it', async () => {
    const path = nextPath();
    const ep = await endpoint({ url: receiver.url(path) });
    receiver.plan(path, 'hang', 200);
    await emit(org.account, 'invoice.paid');
    const first = await settled(ep.id, 1);
    expect(first).toMatchObject({ status: 'pending', last_status_code: null, last_error: `no response within ${TIMEOUT_MS} ms` });
    expect(first.attempts[0].duration_ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(receiver.at(path)[0]!.closed).toBe(true);
    await runNextAttempt(ep.id);
    expect(await settled(ep.id, 2)).toMatchObject({ status: 'succeeded' });
  });

  it('a slow receiver holds up neither ingest nor requests', async () => {
    const path = nextPath();
    const ep = await endpoint({ url: receiver.url(path) });
    receiver.plan(path, 'hang');
    await emit(org.account, 'invoice.paid');
    await waitFor(() => receiver.at(path).length === 1, 'the receiver to hold the delivery');
    const held = receiver.at(path)[0]!;

    const started = Date.now();
    const ingest = await t.post('/v1/events', { events: [{ id: `op-${Date.now()}`, timestamp: new Date(clock.now().getTime() - 1000).toISOString(), operation: 'approval.create', channel: 'program' }] }, org.keys.agent);
    const list = await t.get('/v1/webhook-endpoints', org.keys.finance);
    const elapsed = Date.now() - started;
    expect(ingest.status).toBe(200);
    expect(ingest.body.results[0].status).toBe('accepted');
    expect(list.status).toBe(200);
    // Answered while the delivery was still waiting on the receiver.
    expect(held.closed).toBe(false);
    expect(elapsed).toBeLessThan(TIMEOUT_MS);
    await settled(ep.id, 1);
  });

  it('skips disabled endpoints, cancels what was pending for them, and delivers again once enabled', async () => {
    const pathA = nextPath();
    const pathB = nextPath();
    const a = await endpoint({ url: receiver.url(pathA) });
    const b = await endpoint({ url: receiver.url(pathB) });
    receiver.plan(pathA, 500);
    await emit(org.account, 'invoice.paid', { n: 1 });
    await settled(a.id, 1);
    await waitFor(() => receiver.at(pathB).length === 1, 'endpoint B');

    const off = await t.request('PATCH', `/v1/webhook-endpoints/${a.id}`, { body: { enabled: false }, key: org.keys.finance });
    expect(off.status).toBe(200);
    expect(off.body.enabled).toBe(false);
    expect((await deliveries(a.id))[0]).toMatchObject({ status: 'canceled', last_error: 'canceled: the endpoint was disabled', next_attempt_at: null });

    await emit(org.account, 'invoice.paid', { n: 2 });
    await waitFor(() => receiver.at(pathB).length === 2, 'endpoint B again');
    clock.advance(3_600_000);
    await t.app.get(WebhookDeliveryService).sweep();
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.at(pathA)).toHaveLength(1);
    expect(await deliveries(a.id)).toHaveLength(1);

    const on = await t.request('PATCH', `/v1/webhook-endpoints/${a.id}`, { body: { enabled: true }, key: org.keys.finance });
    expect(on.body.enabled).toBe(true);
    await emit(org.account, 'invoice.paid', { n: 3 });
    await waitFor(() => receiver.at(pathA).length === 2, 'endpoint A, enabled again');
    expect(JSON.parse(receiver.at(pathA)[1]!.body).data).toEqual({ n: 3 });
    // Replaying to a disabled endpoint is refused.
    await t.request('PATCH', `/v1/webhook-endpoints/${b.id}`, { body: { enabled: false }, key: org.keys.finance });
    const [bd] = await deliveries(b.id);
    const refused = await t.post(`/v1/webhook-endpoints/${b.id}/deliveries/${bd.id}/replay`, {}, org.keys.finance);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('webhook_endpoint_disabled');
    await t.request('DELETE', `/v1/webhook-endpoints/${b.id}`, { key: org.keys.finance });
  });

  it('skips deleted endpoints, and a deleted endpoint is gone', async () => {
    const path = nextPath();
    const ep = await endpoint({ url: receiver.url(path) });
    receiver.plan(path, 500);
    await emit(org.account, 'invoice.paid');
    await settled(ep.id, 1);
    const del = await t.request('DELETE', `/v1/webhook-endpoints/${ep.id}`, { key: org.keys.finance });
    expect(del.status).toBe(200);
    expect(await t.app.get(WebhookEvents).emit(null, org.account, 'invoice.paid', {})).not.toBeNull(); // other endpoints still listen
    clock.advance(3_600_000);
    await t.app.get(WebhookDeliveryService).sweep();
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.at(path)).toHaveLength(1);
    expect((await t.get(`/v1/webhook-endpoints/${ep.id}`, org.keys.finance)).status).toBe(404);
    expect((await t.get('/v1/webhook-endpoints', org.keys.finance)).body.data.map((e: any) => e.id)).not.toContain(ep.id);
    const [row] = await t.app.get(DataSource).query(`SELECT status, last_error FROM webhook_deliveries WHERE endpoint_id = $1`, [ep.id]);
    expect(row).toEqual({ status: 'canceled', last_error: 'canceled: the endpoint was deleted' });
  });

  it('sends an endpoint only the types it subscribed to; task.classified only to those who opted in', async () => {
    const org2 = await newOrg(t);
    const paid = nextPath();
    const all = nextPath();
    const tasks = nextPath();
    await endpoint({ url: receiver.url(paid), event_types: ['invoice.paid'] }, org2.keys.finance);
    const dflt = await endpoint({ url: receiver.url(all) }, org2.keys.finance);
    await endpoint({ url: receiver.url(tasks), event_types: ['task.classified'] }, org2.keys.finance);
    expect(dflt.event_types).not.toContain('task.classified');

    await emit(org2.account, 'budget.forecast_exceeded');
    await emit(org2.account, 'task.classified', { task: 'fix-login', label: 'effective' });
    await emit(org2.account, 'invoice.paid');
    await waitFor(() => receiver.at(all).length === 2 && receiver.at(tasks).length === 1 && receiver.at(paid).length === 1, 'the deliveries');
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.at(paid).map((r) => r.headers['tokenmeter-event-type'])).toEqual(['invoice.paid']);
    expect(receiver.at(all).map((r) => r.headers['tokenmeter-event-type']).sort()).toEqual(['budget.forecast_exceeded', 'invoice.paid']);
    expect(receiver.at(tasks).map((r) => r.headers['tokenmeter-event-type'])).toEqual(['task.classified']);
    // An account without a subscribed endpoint stores nothing.
    const before = await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM webhook_events`);
    expect(await emit(other.account, 'invoice.paid')).toBeNull();
    expect(await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM webhook_events`)).toEqual(before);
  });

  it('announces a resolved task as task.classified, signed, with its classification, only to endpoints that opted in', async () => {
    const org6 = await newOrg(t);
    await setupPricing(t, org6.account);
    const opted = nextPath();
    const dflt = nextPath();
    const ep = await endpoint({ url: receiver.url(opted), event_types: ['task.classified'] }, org6.keys.finance);
    await endpoint({ url: receiver.url(dflt) }, org6.keys.finance);
    // gpt-4o input 2.50 per 1M: 400,000 tokens cost 1.00, 800,000 2.00. The first failure of a signature is
    // learned from (effective); the same failure again is not (ineffective).
    let n = 0;
    const ingest = async (events: Record<string, unknown>[]) => {
      const res = await t.post('/v1/events', { events: events.map((e) => ({ id: `tc-${++n}`, timestamp: clock.now().toISOString(), model: 'gpt-4o', ...e })) }, org6.keys.agent);
      expect(res.status).toBe(200);
      for (const r of res.body.results) expect(r.status).toBe('accepted');
    };
    await ingest([
      { usage: { prompt_tokens: 400_000, completion_tokens: 0 }, task_id: 'deploy', attempt_id: 'a1', outcome: 'failure', error_signature: 'E_TIMEOUT' },
      { usage: { prompt_tokens: 400_000, completion_tokens: 0 }, task_id: 'deploy', attempt_id: 'a2', outcome: 'failure', error_signature: 'E_TIMEOUT' },
      { usage: { prompt_tokens: 800_000, completion_tokens: 0 }, task_id: 'deploy', attempt_id: 'a3', outcome: 'success' },
    ]);
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.at(opted)).toHaveLength(0); // open tasks are not announced

    // Resolved by the close API.
    const closed = await t.post('/v1/tasks/deploy/close', { status: 'succeeded' }, org6.keys.agent);
    expect(closed.status).toBe(200);
    await waitFor(() => receiver.at(opted).length === 1, 'the task.classified delivery');
    const [req] = receiver.at(opted);
    expect(req!.headers['tokenmeter-event-type']).toBe('task.classified');
    expect(verifySignature(String(req!.headers['tokenmeter-signature']), ep.secret, req!.body, Math.floor(clock.now().getTime() / 1000))).toBe(true);
    const zero = { events: 0, tokens: 0, cost: '0' };
    expect(JSON.parse(req!.body)).toMatchObject({
      type: 'task.classified',
      account: org6.account,
      data: {
        task_id: 'deploy',
        status: 'succeeded',
        closed_at: clock.now().toISOString(),
        closed_by: expect.any(String),
        attempts: 3,
        failed_attempts: 2,
        labels: { effective: { events: 2, tokens: 1_200_000, cost: '3' }, ineffective: { events: 1, tokens: 400_000, cost: '1' }, pending: zero, unclassified: zero },
      },
    });

    // Resolved by an ingested event carrying task_status (a task new to the service: ingest's fast path).
    await ingest([{ usage: { prompt_tokens: 200_000, completion_tokens: 0 }, task_id: 'ship', attempt_id: 'b1', outcome: 'failure', task_status: 'failed' }]);
    await waitFor(() => receiver.at(opted).length === 2, 'the second task.classified delivery');
    expect(JSON.parse(receiver.at(opted)[1]!.body).data).toMatchObject({
      task_id: 'ship',
      status: 'failed',
      attempts: 1,
      failed_attempts: 1,
      labels: { ineffective: { events: 1, tokens: 200_000, cost: '0.5' }, effective: zero },
    });

    // Resolved by the inactivity timeout (the account's default: 24 hours without an event): abandoned.
    await ingest([{ usage: { prompt_tokens: 400_000, completion_tokens: 0 }, task_id: 'idle', attempt_id: 'c1', outcome: 'failure' }]);
    clock.advance(23 * 3_600_000);
    await t.app.get(TasksService).abandonIdle({ period: 'test' });
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.at(opted)).toHaveLength(2); // not idle long enough yet
    clock.advance(2 * 3_600_000);
    await t.app.get(TasksService).abandonIdle({ period: 'test' });
    await waitFor(() => receiver.at(opted).length === 3, 'the task.classified delivery of the abandoned task');
    expect(JSON.parse(receiver.at(opted)[2]!.body).data).toMatchObject({
      task_id: 'idle',
      status: 'abandoned',
      closed_at: clock.now().toISOString(),
      closed_by: 'inactivity-timeout',
      attempts: 1,
      failed_attempts: 1,
      labels: { ineffective: { events: 1, tokens: 400_000, cost: '1' }, effective: zero, pending: zero },
    });

    // The endpoint on the default types never hears of tasks.
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.at(dflt)).toHaveLength(0);
    const types = await t.app.get(DataSource).query(`SELECT type FROM webhook_events WHERE account_id = $1`, [org6.account]);
    expect(types).toEqual([{ type: 'task.classified' }, { type: 'task.classified' }, { type: 'task.classified' }]);
  });

  it('refuses private addresses at creation', async () => {
    for (const url of ['http://10.0.0.1/hook', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]:8080/', 'https://192.168.1.10/', elsewhere.url('/x'), 'http://[::ffff:10.0.0.1]/']) {
      const res = await t.post('/v1/webhook-endpoints', { url }, org.keys.finance);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'webhook_url_not_allowed', field: 'url' });
    }
    const res = await t.post('/v1/webhook-endpoints', { url: 'http://169.254.169.254/' }, org.keys.finance);
    expect(res.body.error.message).toBe(
      'The URL may not be used: address 169.254.169.254 is linkLocal, not a public address (allow it with TOKENMETER_WEBHOOK_ALLOW_PRIVATE).',
    );
    const ep = await endpoint({ url: receiver.url('/ok') });
    const patch = await t.request('PATCH', `/v1/webhook-endpoints/${ep.id}`, { body: { url: 'http://10.1.1.1/' }, key: org.keys.finance });
    expect(patch.status).toBe(400);
    expect(patch.body.error.code).toBe('webhook_url_not_allowed');
    await t.request('DELETE', `/v1/webhook-endpoints/${ep.id}`, { key: org.keys.finance });
  });

  it('refuses a private address at delivery time, without connecting', async () => {
    const org3 = await newOrg(t);
    const ep = await endpoint({ url: receiver.url('/moving') }, org3.keys.finance);
    // The host now leads somewhere private (as a DNS change would): the check runs again at delivery.
    await t.app.get(DataSource).query(`UPDATE webhook_endpoints SET url = $2 WHERE id = $1`, [ep.id, elsewhere.url('/moving')]);
    await emit(org3.account, 'invoice.paid');
    const d = await settled(ep.id, 1, org3.keys.finance);
    expect(d).toMatchObject({ status: 'pending', last_status_code: null });
    expect(d.last_error).toBe('address 127.0.0.2 is loopback, not a public address (allow it with TOKENMETER_WEBHOOK_ALLOW_PRIVATE)');
    expect(elsewhere.got).toHaveLength(0);
    expect(receiver.at('/moving')).toHaveLength(0);
  });

  it('answers bad input with a 4xx naming the field, and another account’s endpoint with a 404', async () => {
    const bad = async (body: unknown, code: string, field?: string, key = org.keys.finance) => {
      const res = await t.post('/v1/webhook-endpoints', body, key);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code, ...(field ? { field } : {}) });
    };
    await bad({ url: 'ftp://example.com/hook' }, 'webhook_url_invalid', 'url');
    await bad({ url: 'not a url' }, 'webhook_url_invalid', 'url');
    await bad({ url: 'https://user:pw@example.com/' }, 'webhook_url_invalid', 'url');
    await bad({ url: receiver.url('/x'), event_types: ['invoice.paid', 'invoice.sent'] }, 'webhook_event_type_unknown', 'event_types[1]');
    await bad({ url: receiver.url('/x'), event_types: [] }, 'invalid_value', 'event_types');
    await bad({ url: receiver.url('/x'), colour: 'red' }, 'unknown_field', 'colour');
    await bad({}, 'missing_field', 'url');
    await bad({ url: receiver.url('/x') }, 'missing_field', 'account', t.adminKey);
    // The account named where the listing takes it, in the query string: the answer says where it goes.
    const noAccount = await t.post('/v1/webhook-endpoints', { url: receiver.url('/x') });
    expect(noAccount.body.error.message).toBe('Field "account" is required with an operator key.');
    const inQuery = await t.post(`/v1/webhook-endpoints?account=${org.account}`, { url: receiver.url('/x') });
    expect([inQuery.status, inQuery.body.error.code, inQuery.body.error.field, inQuery.body.error.message]).toEqual([
      400,
      'unknown_field',
      'account',
      'Query parameter "account" is not read here: send "account" as a field of the body.',
    ]);

    const cross = await t.post('/v1/webhook-endpoints', { url: receiver.url('/x'), account: other.account }, org.keys.finance);
    expect(cross.status).toBe(404);
    expect((await t.post('/v1/webhook-endpoints', { url: receiver.url('/x') }, org.keys.member)).status).toBe(403);

    const theirs = await endpoint({ url: receiver.url('/theirs') }, other.keys.finance);
    await t.app.get(WebhookEvents).emit(null, other.account, 'invoice.paid', {});
    await settled(theirs.id, 1, other.keys.finance);
    const [theirDelivery] = await deliveries(theirs.id, other.keys.finance);
    const base = `/v1/webhook-endpoints/${theirs.id}`;
    const asMine = org.keys.finance;
    expect((await t.get(base, asMine)).status).toBe(404);
    expect((await t.get(base, asMine)).body.error.code).toBe('webhook_endpoint_not_found');
    expect((await t.request('PATCH', base, { body: { enabled: false }, key: asMine })).status).toBe(404);
    expect((await t.request('DELETE', base, { key: asMine })).status).toBe(404);
    expect((await t.post(`${base}/rotate-secret`, {}, asMine)).status).toBe(404);
    expect((await t.get(`${base}/deliveries`, asMine)).status).toBe(404);
    expect((await t.get(`${base}/deliveries/${theirDelivery.id}`, asMine)).status).toBe(404);
    expect((await t.post(`${base}/deliveries/${theirDelivery.id}/replay`, {}, asMine)).status).toBe(404);
    expect((await t.get('/v1/webhook-endpoints', asMine)).body.data.map((e: any) => e.id)).not.toContain(theirs.id);
    expect((await t.get(`/v1/webhook-endpoints?account=${other.account}`, asMine)).status).toBe(404);
    // Still there for its owner and for an admin.
    expect((await t.get(base, other.keys.finance)).body.enabled).toBe(true);
    expect((await t.get(base)).status).toBe(200);
    expect((await t.get(`/v1/webhook-endpoints/nope`, asMine)).body.error).toMatchObject({ code: 'invalid_id', field: 'id' });
    expect((await t.get(`${base}/deliveries?status=lost`, other.keys.finance)).status).toBe(400);
    expect((await t.get(`${base}/deliveries?cursor=abc`, other.keys.finance)).body.error.code).toBe('invalid_cursor');
  });

  it('replays a delivery by hand as a new delivery of the same event', async () => {
    const path = nextPath();
    const ep = await endpoint({ url: receiver.url(path) });
    const eventId = await emit(org.account, 'invoice.finalized', { invoice: 'inv_9' });
    const original = await settled(ep.id, 1);
    const res = await t.post(`/v1/webhook-endpoints/${ep.id}/deliveries/${original.id}/replay`, {}, org.keys.finance);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ replay_of: original.id, event_id: eventId, status: 'pending', attempt_count: 0 });
    await waitFor(() => receiver.at(path).length === 2, 'the replay');
    const [a, b] = receiver.at(path);
    expect(b!.body).toBe(a!.body);
    expect(b!.headers['tokenmeter-event-id']).toBe(eventId);
    expect(b!.headers['tokenmeter-delivery-id']).toBe(res.body.id);

    await waitFor(async () => (await deliveries(ep.id))[0].status === 'succeeded', 'the replay to be recorded');
    const page1 = await t.get(`/v1/webhook-endpoints/${ep.id}/deliveries?limit=1`, org.keys.finance);
    expect(page1.body.data.map((d: any) => d.id)).toEqual([res.body.id]);
    const page2 = await t.get(`/v1/webhook-endpoints/${ep.id}/deliveries?limit=1&cursor=${page1.body.next_cursor}`, org.keys.finance);
    expect(page2.body.data.map((d: any) => d.id)).toEqual([original.id]);
    const one = await t.get(`/v1/webhook-endpoints/${ep.id}/deliveries/${original.id}`, org.keys.finance);
    expect(one.body.payload).toMatchObject({ id: eventId, data: { invoice: 'inv_9' } });
  });

  it('stores an event in the caller’s transaction: delivered after the commit, never after a rollback', async () => {
    const org4 = await newOrg(t);
    const path = nextPath();
    await endpoint({ url: receiver.url(path) }, org4.keys.finance);
    const transactions = t.app.get(TransactionRunner);
    const events = t.app.get(WebhookEvents);
    const db = t.app.get(DataSource);

    let committed: string | null = null;
    await transactions.run(async (tx) => {
      committed = await events.emit(tx, org4.account, 'budget.threshold_crossed', { in: 'commit' });
      await new Promise((r) => setTimeout(r, 300));
      // Not delivered while the transaction is open.
      expect(receiver.at(path)).toHaveLength(0);
    });
    await waitFor(() => receiver.at(path).length === 1, 'the committed event');
    expect(receiver.at(path)[0]!.headers['tokenmeter-event-id']).toBe(committed);

    let rolledBack: string | null = null;
    await expect(
      transactions.run(async (tx) => {
        rolledBack = await events.emit(tx, org4.account, 'budget.threshold_crossed', { in: 'rollback' });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(rolledBack).toMatch(/^evt_/);
    clock.advance(3_600_000);
    await t.app.get(WebhookDeliveryService).sweep();
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.at(path)).toHaveLength(1);
    expect(await db.query(`SELECT id FROM webhook_events WHERE id = $1`, [rolledBack])).toEqual([]);
  });

  it('rotates the secret: both sign while the old one lasts, then only the new one', async () => {
    const path = nextPath();
    const ep = await endpoint({ url: receiver.url(path) });
    const rotated = await t.post(`/v1/webhook-endpoints/${ep.id}/rotate-secret`, { expire_previous_in_seconds: 3600 }, org.keys.finance);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(ep.secret);
    expect(rotated.body.previous_secret_expires_at).toBe(new Date(clock.now().getTime() + 3_600_000).toISOString());
    await emit(org.account, 'invoice.paid');
    await waitFor(() => receiver.at(path).length === 1, 'the delivery');
    const first = receiver.at(path)[0]!;
    const now = Math.floor(clock.now().getTime() / 1000);
    const header = String(first.headers['tokenmeter-signature']);
    expect(header.split(',v1=')).toHaveLength(3);
    expect(verifySignature(header, rotated.body.secret, first.body, now)).toBe(true);
    expect(verifySignature(header, ep.secret, first.body, now)).toBe(true);

    const again = await t.post(`/v1/webhook-endpoints/${ep.id}/rotate-secret`, { expire_previous_in_seconds: 0 }, org.keys.finance);
    await emit(org.account, 'invoice.paid');
    await waitFor(() => receiver.at(path).length === 2, 'the second delivery');
    const second = receiver.at(path)[1]!;
    const header2 = String(second.headers['tokenmeter-signature']);
    expect(header2.split(',v1=')).toHaveLength(2);
    expect(verifySignature(header2, again.body.secret, second.body, now)).toBe(true);
    expect(verifySignature(header2, rotated.body.secret, second.body, now)).toBe(false);
  });

  it('audits every change to an endpoint, never with a secret', async () => {
    const ep = await endpoint({ url: receiver.url('/audited') });
    await t.request('PATCH', `/v1/webhook-endpoints/${ep.id}`, { body: { enabled: false }, key: org.keys.finance });
    await t.request('PATCH', `/v1/webhook-endpoints/${ep.id}`, { body: { event_types: ['invoice.paid'], enabled: true }, key: org.keys.finance });
    const rotated = await t.post(`/v1/webhook-endpoints/${ep.id}/rotate-secret`, {}, org.keys.finance);
    await t.request('DELETE', `/v1/webhook-endpoints/${ep.id}`, { key: org.keys.finance });
    const audit = await t.get(`/v1/audit?account=${org.account}&entity_type=webhook_endpoint&limit=1000`);
    const rows = audit.body.data.filter((r: any) => r.entity_id === ep.id);
    expect(rows.map((r: any) => r.action)).toEqual([
      'webhook_endpoint.create',
      'webhook_endpoint.disable',
      'webhook_endpoint.update',
      'webhook_endpoint.rotate_secret',
      'webhook_endpoint.delete',
    ]);
    expect(rows[2].after.event_types).toEqual(['invoice.paid']);
    const text = JSON.stringify(rows);
    expect(text).not.toContain(ep.secret);
    expect(text).not.toContain(rotated.body.secret);
    expect(text).not.toContain('whsec_');
    expect(audit.body.verification.valid).toBe(true);
  });

  it('forgets finished deliveries and their events after 30 days, keeping newer ones', async () => {
    const org5 = await newOrg(t);
    const path = nextPath();
    const ep = await endpoint({ url: receiver.url(path) }, org5.keys.finance);
    const oldEvent = await emit(org5.account, 'invoice.paid', { age: 'old' });
    const old = await settled(ep.id, 1, org5.keys.finance);
    clock.advance(RETENTION_MS + 1000);
    const newEvent = await emit(org5.account, 'invoice.paid', { age: 'new' });
    await waitFor(async () => (await deliveries(ep.id, org5.keys.finance)).filter((d) => d.status === 'succeeded').length === 2, 'the new delivery');
    const pruned = await t.app.get(WebhookDeliveryService).prune();
    expect(pruned.deliveries).toBeGreaterThanOrEqual(1);
    const left = await deliveries(ep.id, org5.keys.finance);
    expect(left.map((d) => d.event_id)).toEqual([newEvent]);
    expect((await t.get(`/v1/webhook-endpoints/${ep.id}/deliveries/${old.id}`, org5.keys.finance)).status).toBe(404);
    const db = t.app.get(DataSource);
    expect(await db.query(`SELECT id FROM webhook_events WHERE id = ANY ($1::text[]) ORDER BY created_at`, [[oldEvent, newEvent]])).toEqual([{ id: newEvent }]);
    expect(await db.query(`SELECT 1 FROM webhook_delivery_attempts WHERE delivery_id = $1`, [old.id])).toEqual([]);
  });

  it('lets an admin manage any account’s endpoints by naming the account', async () => {
    const res = await t.post('/v1/webhook-endpoints', { account: other.account, url: receiver.url('/admin'), event_types: ['invoice.paid'] });
    expect(res.status).toBe(201);
    expect(res.body.account).toBe(other.account);
    const listed = await t.get(`/v1/webhook-endpoints?account=${other.account}`);
    expect(listed.body.data.map((e: any) => e.id)).toContain(res.body.id);
    expect((await t.post('/v1/webhook-endpoints', { account: 'no-such-account', url: receiver.url('/admin') })).status).toBe(404);
  });

  it('documents every webhook route with its responses in OpenAPI', async () => {
    const doc = (await t.get('/docs-json', null)).body;
    const paths = doc.paths as Record<string, Record<string, any>>;
    expect(Object.keys(paths).filter((p) => p.startsWith('/v1/webhook-endpoints')).sort()).toEqual([
      '/v1/webhook-endpoints',
      '/v1/webhook-endpoints/{id}',
      '/v1/webhook-endpoints/{id}/deliveries',
      '/v1/webhook-endpoints/{id}/deliveries/{delivery}',
      '/v1/webhook-endpoints/{id}/deliveries/{delivery}/replay',
      '/v1/webhook-endpoints/{id}/rotate-secret',
    ]);
    expect(paths['/v1/webhook-endpoints']!.post.responses['201'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/WebhookEndpointWithSecret',
    });
    expect(doc.components.schemas.WebhookEndpointWithSecret.required).toContain('secret');
    for (const [path, ops] of Object.entries(paths).filter(([p]) => p.startsWith('/v1/webhook-endpoints'))) {
      for (const [method, op] of Object.entries(ops)) {
        const success = Object.keys(op.responses).filter((s) => s.startsWith('2'));
        expect(`${method} ${path} ${success.length}`).toBe(`${method} ${path} 1`);
        expect(op.responses[success[0]!].content['application/json'].schema).toBeDefined();
      }
    }
  });
});
