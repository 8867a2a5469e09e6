// SIGTERM on the built service: one log line when the shutdown starts, one when it ends naming what it
// waited for, both JSON (pino) like every other line; the process then ends with SIGTERM's status.
import { buildIfStale, ServiceProcess } from './support/service-process.js';

describe('graceful shutdown', () => {
  let service: ServiceProcess | undefined;
  beforeAll(() => buildIfStale(), 300_000);
  afterAll(async () => {
    await service?.stop('SIGKILL');
    service?.remove();
  });

  it('logs its start and its end with what it waited for: a live stream, jobs, requests, the database', async () => {
    service = await ServiceProcess.start();
    const auth = { authorization: `Bearer ${service.adminKey}`, 'content-type': 'application/json' };
    const account = await fetch(`${service.url}/v1/accounts`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'acme', name: 'Acme', currency: 'EUR' }) });
    expect(account.status).toBe(201);
    // A client watching the live meter: an open request the shutdown must end, not wait for.
    const stream = await fetch(`${service.url}/v1/accounts/acme/meter/stream`, { headers: auth });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('event: ready');

    const exit = await service.stop('SIGTERM');
    expect(exit.code ?? exit.signal).toBe(143);
    const shutdownLines = service.lines.filter((line) => line.component === 'shutdown');
    expect(shutdownLines.map((line) => line.msg)).toEqual(['shutdown started', 'shutdown finished']);
    const [started, finished] = shutdownLines as [Record<string, any>, Record<string, any>];
    expect(started).toMatchObject({ level: 30, service: 'tokenmeter', signal: 'SIGTERM', requests_in_flight: 1, timeout_ms: 10000 });
    expect(finished).toMatchObject({
      level: 30,
      signal: 'SIGTERM',
      duration_ms: expect.any(Number),
      waited: {
        meter_streams: { open: 1, ms: expect.any(Number) },
        // A timer's job (a sweep) may be mid-run when the signal comes; the shutdown waits for it either way.
        jobs: { backend: 'database', running: expect.any(Number), ms: expect.any(Number) },
        http: { requests_in_flight: expect.any(Number), ms: expect.any(Number) },
        database: { store: 'embedded', ms: expect.any(Number) },
      },
    });
    // The stream was ended by the shutdown, not left hanging.
    expect((await reader.read()).done).toBe(true);
    // Nothing is logged after the last line, and nothing outside the JSON log.
    expect(service.lines[service.lines.length - 1]).toBe(finished);
    expect(service.stderr.join('')).toBe('');
  }, 180_000);
});
