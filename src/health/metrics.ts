// Prometheus metrics: one registry per app instance (tests build several apps in one process).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobCounts } from '../jobs/jobs.js';

export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'tokenmeter_http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly httpErrors = new Counter({
    name: 'tokenmeter_http_errors_total',
    help: 'HTTP responses with status >= 500',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  /** Ingest group commit (metering/ingest/ingest-writer.ts): how much each database write carried, and how long it took. */
  readonly ingestGroupEvents = new Histogram({
    name: 'tokenmeter_ingest_group_events',
    help: 'Events per ingest database write (a group of requests of one account)',
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000],
    registers: [this.registry],
  });
  readonly ingestGroupRequests = new Histogram({
    name: 'tokenmeter_ingest_group_requests',
    help: 'Requests per ingest database write',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly ingestWritesRefused = new Counter({
    name: 'tokenmeter_ingest_writes_refused_total',
    help: 'Ingest writes refused by their guard and written again: path new_tasks when a task taken to be new existed or an id was taken (then written on the locked path), transaction when an id classified as new was claimed by a concurrent writer',
    labelNames: ['path'] as const,
    registers: [this.registry],
  });
  readonly ingestWriteSeconds = new Histogram({
    name: 'tokenmeter_ingest_write_seconds',
    help: 'Duration of an ingest database write by path: statement (no task), new_tasks (one guarded statement creating the tasks), transaction (tasks locked)',
    labelNames: ['path'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  /** Usage fields accepted but not counted (metering/usage/ignored-usage-fields.service.ts caps the label values). */
  readonly usageIgnoredFields = new Counter({
    name: 'tokenmeter_usage_ignored_fields_total',
    help: 'Events accepted with a usage field tokenmeter does not know and did not count, by usage format and field path (GET /v1/ignored-usage-fields lists them)',
    labelNames: ['format', 'field'] as const,
    registers: [this.registry],
  });

  /** The hourly compaction of the meter rollups (metering/compaction/). */
  readonly meterCompactedRows = new Counter({
    name: 'tokenmeter_meter_compacted_rows_total',
    help: 'Meter rollup rows of closed hours and days folded out of the ingest writers\' shards into one row per key, by table',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });

  /** Readings by hour answered with remembered closed hours or read whole (metering/readings/hourly-readings.ts). */
  readonly meterHourlyReadings = new Counter({
    name: 'tokenmeter_meter_hourly_readings_total',
    help: 'Account-wide readings by hour, by outcome: hit (closed hours remembered, only later hours read), miss (nothing remembered), stale (what was remembered had changed: read whole)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** The credits job's runs (billing/credits/credits-settle.service.ts): what each cost, and which accounts it settled. */
  readonly creditsSettleSeconds = new Histogram({
    name: 'tokenmeter_credits_settle_seconds',
    help: 'Duration of a run of the credits.settle job (every minute): the look over every account, then the accounts with something to book settled one by one; by look: full (every usage day of every account: a process\'s first run, then once a day) or since (the days written since the run before)',
    labelNames: ['look'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly creditsSettleAccounts = new Counter({
    name: 'tokenmeter_credits_settle_accounts_total',
    help: 'Accounts the credits.settle job looked at, by outcome: passed (nothing to book), settled, failed (tried again next minute; the error is logged)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** The background jobs (src/jobs/): each run where it ran, and the queue as every process sees it. */
  readonly jobRuns = new Counter({
    name: 'tokenmeter_job_runs_total',
    help: 'Job attempts this process ran, by job and outcome: done, retried (failed, another attempt is queued), failed (its last attempt failed; the error is logged and kept with the job)',
    labelNames: ['job', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly jobSeconds = new Histogram({
    name: 'tokenmeter_job_seconds',
    help: 'Duration of a job attempt this process ran, by job',
    labelNames: ['job'] as const,
    buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600],
    registers: [this.registry],
  });
  /** Set by JobsService: the queue's counts, read on each scrape (the same in every process sharing the queue). */
  jobCounts: (() => Promise<JobCounts>) | null = null;
  readonly jobs = new Gauge({
    name: 'tokenmeter_jobs',
    help: 'Jobs in the queue, all processes together, by state: due (waiting for a process to take them), scheduled (a retry\'s backoff, a later run), running, failed (failed their last attempt within the last 30 days)',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: async () => {
      const counts = await this.jobCountsOfScrape();
      if (counts) for (const state of ['due', 'scheduled', 'running', 'failed'] as const) this.jobs.set({ state }, counts[state]);
    },
  });
  readonly jobsOldestDue = new Gauge({
    name: 'tokenmeter_jobs_oldest_due_seconds',
    help: 'How long the oldest due job has waited past its time (0: none due); grows when no process consumes jobs',
    registers: [this.registry],
    collect: async () => {
      const counts = await this.jobCountsOfScrape();
      if (counts) this.jobsOldestDue.set(counts.oldestDueSeconds);
    },
  });
  private scrapeCounts: Promise<JobCounts | null> | null = null;

  /**
   * One read of the queue for the two gauges of a scrape (the registry collects its metrics at once, so both
   * ask before it answers), or nothing when it cannot be read now: the scrape still answers, with their last values.
   */
  private jobCountsOfScrape(): Promise<JobCounts | null> {
    this.scrapeCounts ??= (async () => {
      try {
        return this.jobCounts ? await this.jobCounts() : null;
      } catch {
        return null;
      } finally {
        this.scrapeCounts = null;
      }
    })();
    return this.scrapeCounts;
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tokenmeter_' });
  }
}
