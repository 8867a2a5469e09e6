// Health, readiness, metrics, OpenAPI, request ids, shutdown.
import { connect } from 'node:net';
import { jest } from '@jest/globals';
import { Metrics } from '../src/health/metrics.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('operations endpoints', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('live and ready without a key', async () => {
    expect(await t.get('/health/live', null)).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await t.get('/health/ready', null);
    expect(ready.status).toBe(200);
    expect(ready.body.checks.database).toEqual({ status: 'ok' });
    if (process.env.REDIS_URL) expect(ready.body.checks.redis).toEqual({ status: 'ok' });
  });

  it('Prometheus metrics count requests', async () => {
    await t.get('/health/live', null);
    const res = await t.get('/metrics', null);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.text).toMatch(/tokenmeter_http_request_duration_seconds_count\{method="GET",route="\/health\/live",status="200"\} \d+/);
    expect(res.text).toContain('tokenmeter_process_cpu_seconds_total');
  });

  it('metrics that cannot be collected are a 503 in the error format, not a 500', async () => {
    const registry = t.app.get(Metrics).registry;
    const collect = jest.spyOn(registry, 'metrics').mockRejectedValueOnce(new Error('a collector threw'));
    try {
      const res = await t.get('/metrics', null);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('metrics_unavailable');
    } finally {
      collect.mockRestore();
    }
  });

  it('serves the OpenAPI document and the interactive docs', async () => {
    const doc = await t.get('/docs-json', null);
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    for (const path of ['/v1/accounts', '/v1/accounts/{account}/people', '/v1/api-keys', '/v1/audit', '/health/ready']) {
      expect(Object.keys(doc.body.paths)).toContain(path);
    }
    const createAccount = doc.body.paths['/v1/accounts'].post;
    expect(createAccount.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreateAccount' });
    expect(doc.body.components.schemas.CreateAccount.required).toEqual(['id', 'name', 'currency']);
    const ui = await t.get('/docs', null);
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
  });

  it('echoes a valid request id and makes one otherwise', async () => {
    const given = await t.request('GET', '/health/live', { key: null, headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');
    const made = await t.request('GET', '/health/live', { key: null, headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

/** Sends raw HTTP/1.1 on one socket: the head now, the final CRLF when `finish` is called; resolves the answer. */
function rawRequest(port: number, head: string) {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString()));
  const connected = new Promise((resolve) => socket.on('connect', resolve));
  const answer = new Promise<{ status: number; headers: Record<string, string>; body: string }>((resolve) =>
    socket.on('close', () => {
      const [top = '', body = ''] = received.split('\r\n\r\n');
      const [statusLine = '', ...lines] = top.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    }),
  );
  return {
    started: connected.then(() => socket.write(head)),
    finish: () => socket.write('\r\n'),
    answer,
  };
}

describe('graceful shutdown', () => {
  it('answers a request that arrives while closing with 503 in the error format', async () => {
    const app = await startTestApp();
    const contract = await app.contract();
    await app.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.app.getHttpServer().address() as { port: number };
    // A keep-alive connection in the middle of sending a request is not idle, so the close leaves it open.
    const late = rawRequest(port, 'GET /health/live HTTP/1.1\r\nhost: localhost\r\n');
    await late.started;
    await new Promise((r) => setTimeout(r, 50));
    const closed = app.close();
    // Fastify stops listening once its close has begun (after Nest's own shutdown hooks): finish then.
    const server = app.app.getHttpServer();
    while (server.listening) await new Promise((r) => setTimeout(r, 5));
    late.finish();
    const res = await late.answer;
    await closed;
    expect(res.status).toBe(503);
    const body = JSON.parse(res.body);
    expect(body).toEqual({ error: { code: 'shutting_down', message: expect.any(String), request_id: res.headers['x-request-id'] } });
    contract.check({ method: 'GET', url: '/health/live', status: 503, contentType: res.headers['content-type'], body, routed: true });
  });

  it('finishes a request in flight before closing', async () => {
    const { Controller, Get, Module } = await import('@nestjs/common');
    const { Public } = await import('../src/auth/access.decorators.js');
    @Controller('test-slow')
    @Public()
    class SlowController {
      @Get()
      async slow(): Promise<{ done: boolean }> {
        await new Promise((r) => setTimeout(r, 300));
        return { done: true };
      }
    }
    @Module({ controllers: [SlowController] })
    class SlowModule {}
    const app = await startTestApp({ extraModules: [SlowModule] });
    await app.app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.app.getHttpServer().address() as { port: number };
    const inFlight = fetch(`http://127.0.0.1:${address.port}/test-slow`);
    await new Promise((r) => setTimeout(r, 50));
    const closed = app.close();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await closed;
  });
});
