// The job interface against the configured backend (BullMQ on REDIS_URL, else the database queue):
// jobs run, a deterministic id runs once, failures retry, and wiring mistakes stop the start.
import { Injectable, Module } from '@nestjs/common';
import { ManualClock } from '../src/clock/clock.js';
import { defineJob, JOB_BACKEND, JobHandler, JobQueue, type JobBackend } from '../src/jobs/jobs.js';
import { checkJobWiring, JobsService, JobWiringError, periodKey } from '../src/jobs/jobs.service.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const record = defineJob<{ n: number }>('test.record', { maxAttempts: 3 });
const flaky = defineJob<{ failTimes: number; tag: string }>('test.flaky', { maxAttempts: 3 });
const hourly = defineJob<{ period: string }>('test.hourly');

@Injectable()
class Recorder {
  readonly seen: number[] = [];
  readonly flakyCalls = new Map<string, number>();
  readonly periods: string[] = [];

  @JobHandler(record)
  async record(payload: { n: number }): Promise<void> {
    this.seen.push(payload.n);
  }

  @JobHandler(flaky)
  async flaky(payload: { failTimes: number; tag: string }): Promise<void> {
    const calls = (this.flakyCalls.get(payload.tag) ?? 0) + 1;
    this.flakyCalls.set(payload.tag, calls);
    if (calls <= payload.failTimes) throw new Error(`failing on purpose (${calls})`);
  }

  @JobHandler(hourly)
  async hourly(payload: { period: string }): Promise<void> {
    this.periods.push(payload.period);
  }
}

@Module({ providers: [Recorder] })
class RecorderModule {}

/** A sample of /metrics: `name{labels} value`, labels as Prometheus prints them; 0 when absent. */
async function metric(t: TestApp, series: string): Promise<number> {
  const text = (await t.get('/metrics', null)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('jobs', () => {
  let t: TestApp;
  let recorder: Recorder;
  let queue: JobQueue;
  let clock: ManualClock;

  beforeAll(async () => {
    clock = new ManualClock('2026-06-01T10:15:00.000Z');
    t = await startTestApp({ clock, extraModules: [RecorderModule] });
    recorder = t.app.get(Recorder);
    queue = t.app.get(JobQueue);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it(`uses the ${process.env.REDIS_URL ? 'redis' : 'database'} backend`, () => {
    expect(t.app.get(JobsService).backendKind).toBe(process.env.REDIS_URL ? 'redis' : 'database');
    expect(t.app.get(JobsService).consuming).toBe(true);
  });

  it('runs a queued job through its handler', async () => {
    await queue.enqueue(record, { n: 1 });
    await waitFor(() => recorder.seen.includes(1));
  });

  it('runs a job with a deterministic id once, however often it is queued', async () => {
    for (let i = 0; i < 5; i++) await queue.enqueue(record, { n: 42 }, { jobId: 'close.acme.2026-05' });
    await queue.enqueue(record, { n: 43 });
    await waitFor(() => recorder.seen.includes(43) && recorder.seen.includes(42));
    await new Promise((r) => setTimeout(r, 300));
    expect(recorder.seen.filter((n) => n === 42)).toHaveLength(1);
  });

  it('retries a failing job until it succeeds', async () => {
    if (!process.env.REDIS_URL) {
      // The database backend schedules retries by the injected clock: move it past the backoff.
      const advance = setInterval(() => clock.advance(5_000), 25);
      try {
        await queue.enqueue(flaky, { failTimes: 2, tag: 'a' });
        await waitFor(() => recorder.flakyCalls.get('a') === 3);
      } finally {
        clearInterval(advance);
      }
    } else {
      await queue.enqueue(flaky, { failTimes: 2, tag: 'a' });
      await waitFor(() => recorder.flakyCalls.get('a') === 3, 20_000);
    }
    expect(recorder.flakyCalls.get('a')).toBe(3);
    // Each attempt is counted where it ran: two retried, then done.
    expect(await metric(t, 'tokenmeter_job_runs_total{job="test.flaky",outcome="retried"}')).toBe(2);
    expect(await metric(t, 'tokenmeter_job_runs_total{job="test.flaky",outcome="done"}')).toBe(1);
    expect(await metric(t, 'tokenmeter_job_seconds_count{job="test.flaky"}')).toBe(3);
  }, 30_000);

  it('counts a job that failed its last attempt, where it ran and in the queue', async () => {
    const failedBefore = await metric(t, 'tokenmeter_jobs{state="failed"}');
    const advance = process.env.REDIS_URL ? null : setInterval(() => clock.advance(5_000), 25);
    try {
      await queue.enqueue(flaky, { failTimes: 10, tag: 'dead' });
      await waitFor(() => recorder.flakyCalls.get('dead') === 3, 20_000);
      // The last attempt's failure is recorded by the backend just after the handler throws.
      const start = Date.now();
      while ((await metric(t, 'tokenmeter_jobs{state="failed"}')) === failedBefore && Date.now() - start < 5_000) await new Promise((r) => setTimeout(r, 50));
    } finally {
      if (advance) clearInterval(advance);
    }
    expect(await metric(t, 'tokenmeter_job_runs_total{job="test.flaky",outcome="failed"}')).toBe(1);
    expect(await metric(t, 'tokenmeter_job_runs_total{job="test.flaky",outcome="retried"}')).toBe(2 + 2);
    expect(await metric(t, 'tokenmeter_jobs{state="failed"}')).toBe(failedBefore + 1);
    expect(recorder.flakyCalls.get('dead')).toBe(3);
  }, 30_000);

  it('a repeatable job runs once per period, whatever the number of ticks', async () => {
    const jobs = t.app.get(JobsService);
    jobs.repeat(hourly, 'hour');
    await jobs.tick();
    await jobs.tick();
    await waitFor(() => recorder.periods.length >= 1);
    clock.advance(3_600_000);
    await jobs.tick();
    await jobs.tick();
    await waitFor(() => recorder.periods.length >= 2);
    await new Promise((r) => setTimeout(r, 300));
    const now = clock.now();
    expect(recorder.periods.filter((p) => p.startsWith('2026-06-01'))).toEqual(
      expect.arrayContaining([periodKey(new Date(now.getTime() - 3_600_000), 'hour'), periodKey(now, 'hour')]),
    );
    expect(new Set(recorder.periods).size).toBe(recorder.periods.length);
  });
});

describe('the queue on /metrics, where no process consumes it', () => {
  let t: TestApp;
  let clock: ManualClock;

  beforeAll(async () => {
    clock = new ManualClock('2026-06-01T10:15:00.000Z');
    // As startAppWithoutJobs, with this file's job handlers.
    t = await startTestApp({ clock, extraModules: [RecorderModule], env: { TOKENMETER_API_RUNS_JOBS: 'false' } });
    const backend = t.app.get<JobBackend>(JOB_BACKEND);
    if (backend.kind === 'database') await backend.stop();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('shows jobs due, scheduled for later, and how long the oldest due one has waited', async () => {
    const queue = t.app.get(JobQueue);
    // The repeatable jobs the app queued as it started (the database queue's first tick) are due too.
    const before = { due: await metric(t, 'tokenmeter_jobs{state="due"}'), scheduled: await metric(t, 'tokenmeter_jobs{state="scheduled"}') };
    if (before.due === 0) expect(await metric(t, 'tokenmeter_jobs_oldest_due_seconds')).toBe(0);
    await queue.enqueue(record, { n: 1 });
    await queue.enqueue(record, { n: 2 });
    await queue.enqueue(record, { n: 3 }, { runAt: new Date(clock.now().getTime() + 3_600_000) });
    // The database queue reads the injected clock; BullMQ schedules by the real one.
    if (process.env.REDIS_URL) await new Promise((r) => setTimeout(r, 1_100));
    else clock.advance(90_000);
    // Read first, in the scrape that first sees the queue so: each gauge is this scrape's, not the one before.
    const waited = await metric(t, 'tokenmeter_jobs_oldest_due_seconds');
    if (process.env.REDIS_URL) expect(waited).toBeGreaterThanOrEqual(1);
    else expect(waited).toBe(90);
    expect(await metric(t, 'tokenmeter_jobs{state="due"}')).toBe(before.due + 2);
    expect(await metric(t, 'tokenmeter_jobs{state="scheduled"}')).toBe(before.scheduled + 1);
    expect(await metric(t, 'tokenmeter_jobs{state="running"}')).toBe(0);
  });
});

describe('job wiring', () => {
  it('refuses a declared job without a handler, with two, or a stray handler', () => {
    expect(() => checkJobWiring(['a', 'b'], new Map([['a', 1], ['b', 1]]))).not.toThrow();
    expect(() => checkJobWiring(['a', 'b'], new Map([['a', 1]]))).toThrow(new JobWiringError('Refusing to start: job "b" has no handler.'));
    expect(() => checkJobWiring(['a'], new Map([['a', 2]]))).toThrow(/job "a" has 2 handlers/);
    expect(() => checkJobWiring(['a'], new Map([['a', 1], ['z', 1]]))).toThrow(/undeclared job "z"/);
  });

  it('refuses to declare the same job twice', () => {
    expect(() => defineJob('test.record')).toThrow(/declared twice/);
  });

  it('the app refuses to start when a declared job has no handler', async () => {
    defineJob('test.orphan');
    await expect(startTestApp()).rejects.toThrow(/job "test.orphan" has no handler/);
  });
});
