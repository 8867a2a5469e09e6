// `npm run worker` as an operator runs it, beside an API process on one PostgreSQL and one Redis: with
// TOKENMETER_WORKER_PORT it answers its probes and /metrics (the jobs it ran, the shared queue), refuses any
// other route in the API's error format, and stops on TERM with its listener. Needs both services.
import { pruneJobs } from '../src/jobs/job-housekeeping.service.js';
import { JobQueue } from '../src/jobs/jobs.js';
import { buildIfStale, ServiceProcess } from './support/service-process.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const both = process.env.DATABASE_URL && process.env.REDIS_URL ? describe : describe.skip;

/** A sample of a Prometheus text: `name{labels} value`; null when the series is absent. */
function sample(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

both('a worker process (npm run worker)', () => {
  let t: TestApp | undefined;
  let worker: ServiceProcess | undefined;
  beforeAll(() => buildIfStale(), 300_000);
  afterAll(async () => {
    await worker?.stop('SIGKILL');
    worker?.remove();
    await t?.close();
  });

  it('answers its probes and /metrics with the jobs it ran, refuses other routes, and closes its port on TERM', async () => {
    // The API consumes no jobs: what it queues, only the worker runs.
    t = await startTestApp({ env: { TOKENMETER_API_RUNS_JOBS: 'false' } });
    const api = t;
    worker = await ServiceProcess.start(
      {
        DATABASE_URL: api.config.databaseUrl!,
        REDIS_URL: api.config.redisUrl!,
        TOKENMETER_QUEUE_PREFIX: api.config.queuePrefix,
        TOKENMETER_WORKER_PORT: '0',
      },
      undefined,
      'dist/src/worker.js',
    );
    const url = worker.url;

    // The probes answer what the API's own routes answer, by the same OpenAPI document.
    for (const [path, body] of [
      ['/health/live', { status: 'ok' }],
      ['/health/ready', { status: 'ok', checks: { database: { status: 'ok' }, redis: { status: 'ok' } } }],
    ] as const) {
      const res = await fetch(`${url}${path}`);
      const json: unknown = await res.json();
      expect([path, res.status, json]).toEqual([path, 200, body]);
      await api.checkResponse({ method: 'GET', url: path, status: res.status, contentType: res.headers.get('content-type') ?? undefined, body: json });
    }

    const metricsOf = async (): Promise<string> => {
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return res.text();
    };
    const done = 'tokenmeter_job_runs_total{job="jobs.prune",outcome="done"}';
    // The worker's first tick queued today's prune, and it ran here.
    const before = await until('the worker\'s own prune', async () => sample(await metricsOf(), done));
    expect(before).toBeGreaterThanOrEqual(1);
    // A job the API queues runs on the worker and shows on the worker's /metrics, not on the API's.
    await api.app.get(JobQueue).enqueue(pruneJobs, { period: 'queued-by-the-api' });
    await until('the queued prune', async () => {
      const n = sample(await metricsOf(), done);
      return n !== null && n >= before + 1 ? n : null;
    });
    const text = await metricsOf();
    expect(sample(text, 'tokenmeter_jobs{state="due"}')).toEqual(expect.any(Number));
    expect(sample(text, 'tokenmeter_jobs_oldest_due_seconds')).toEqual(expect.any(Number));
    expect(sample(text, 'tokenmeter_job_seconds_count{job="jobs.prune"}')).toBeGreaterThanOrEqual(before + 1);
    expect(text).toContain('tokenmeter_process_cpu_seconds_total');
    expect(sample((await api.get('/metrics', null)).text, done)).toBeNull();

    // Any other route is refused in the API's error format, naming what a worker answers.
    const unknown = await fetch(`${url}/v1/accounts`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: {
        code: 'route_not_found',
        message: 'Cannot GET /v1/accounts. A worker answers GET /health/live, /health/ready, /metrics.',
        request_id: expect.any(String),
      },
    });
    const post = await fetch(`${url}/metrics`, { method: 'POST' });
    expect([post.status, post.headers.get('allow'), ((await post.json()) as { error: { code: string } }).error.code]).toEqual([
      405,
      'GET, HEAD',
      'method_not_allowed',
    ]);

    const exit = await worker.stop('SIGTERM');
    expect(exit.code ?? exit.signal).toBe(143);
    expect(worker.lines.filter((line) => line.component === 'shutdown').map((line) => line.msg)).toEqual(['shutdown started', 'shutdown finished']);
    expect(worker.stderr.join('')).toBe('');
    await expect(fetch(`${url}/health/live`)).rejects.toThrow();
  }, 180_000);
});
