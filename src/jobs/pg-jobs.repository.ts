// The database job backend: a jobs table polled with FOR UPDATE SKIP LOCKED. A claimed job holds a lease;
// if its process dies, the lease runs out and another poll (or the next start) runs it again.
import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { Clock } from '../clock/clock.js';
import { firstRow, queryRows } from '../database/sql.js';
import { withoutCommitMark } from '../database/commit-marks.js';
import type { EnqueueOptions, JobBackend, JobCounts, JobDispatch } from './jobs.js';

interface ClaimedJob {
  id: string;
  name: string;
  payload: unknown;
  attempts: number;
  max_attempts: number;
}

export interface PgJobsOptions {
  pollIntervalMs?: number;
  leaseMs?: number;
  /** The store belongs to this process alone (embedded): any job still marked running is an orphan. */
  exclusive?: boolean;
}

export function retryDelayMs(attempt: number): number {
  return Math.min(1000 * 2 ** (attempt - 1), 5 * 60_000);
}

export class PgJobsRepository implements JobBackend {
  readonly kind = 'database' as const;
  private readonly logger = new Logger('jobs');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private wakeRequested = false;
  private dispatch: JobDispatch | null = null;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly options: PgJobsOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
  }

  async enqueue(name: string, payload: object, maxAttempts: number, options: EnqueueOptions): Promise<void> {
    const db = options.tx ?? this.dataSource;
    const now = this.clock.now();
    await db.query(
      `INSERT INTO jobs (name, job_key, payload, run_at, max_attempts, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_key) DO NOTHING`,
      [name, options.jobId ?? null, JSON.stringify(payload), options.runAt ?? now, maxAttempts, now],
    );
    if (!options.tx) this.wake();
  }

  async start(dispatch: JobDispatch): Promise<void> {
    this.dispatch = dispatch;
    this.stopped = false;
    if (this.options.exclusive) {
      await this.dataSource.query(`UPDATE jobs SET status = 'queued', locked_until = NULL WHERE status = 'running'`);
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  /** One statement over the two partial indexes (jobs_due, jobs_failed), never the month of finished jobs. */
  async counts(): Promise<JobCounts> {
    const row = await firstRow<{ due: number; scheduled: number; running: number; failed: number; oldest: string }>(
      this.dataSource,
      `SELECT count(*) FILTER (WHERE due)::int AS due,
              count(*) FILTER (WHERE status = 'queued' AND NOT due)::int AS scheduled,
              count(*) FILTER (WHERE status = 'running' AND NOT due)::int AS running,
              (SELECT count(*)::int FROM jobs WHERE status = 'failed') AS failed,
              coalesce(extract(epoch FROM $1::timestamptz - min(since) FILTER (WHERE due)), 0)::float8::text AS oldest
         FROM (SELECT status,
                      (status = 'queued' AND run_at <= $1) OR (status = 'running' AND locked_until < $1) AS due,
                      CASE WHEN status = 'queued' THEN run_at ELSE locked_until END AS since
                 FROM jobs WHERE status IN ('queued', 'running')) j`,
      [this.clock.now()],
    );
    return { due: row!.due, scheduled: row!.scheduled, running: row!.running, failed: row!.failed, oldestDueSeconds: Math.max(0, Number(row!.oldest)) };
  }

  /** Runs every due job now; returns how many ran. For tests and for draining on demand. */
  async drain(): Promise<number> {
    let count = 0;
    while (await this.runOne()) count++;
    return count;
  }

  private wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    // Outside the commit mark of a request whose enqueue woke it: the jobs it runs are not that request's write.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = withoutCommitMark(() => this.loop()).finally(() => {
        this.running = null;
        const again = this.wakeRequested;
        this.wakeRequested = false;
        this.schedule(again ? 0 : this.pollIntervalMs);
      });
    }, delay);
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    try {
      while (!this.stopped && (await this.runOne())) {
        /* keep going while there is due work */
      }
    } catch (error) {
      this.logger.error({ err: error }, 'job poll failed');
    }
  }

  private async runOne(): Promise<boolean> {
    const now = this.clock.now();
    const [job] = await queryRows<ClaimedJob>(
      this.dataSource,
      `UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $2
        WHERE id = (
          SELECT id FROM jobs
           WHERE (status = 'queued' AND run_at <= $1) OR (status = 'running' AND locked_until < $1)
           ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING id, name, payload, attempts, max_attempts`,
      [now, new Date(now.getTime() + this.leaseMs)],
    );
    if (!job) return false;
    try {
      if (!this.dispatch) throw new Error('job backend started without a dispatcher');
      await this.dispatch(job.name, job.payload, { attempt: job.attempts, maxAttempts: job.max_attempts });
      await this.dataSource.query(
        `UPDATE jobs SET status = 'done', finished_at = $2, locked_until = NULL, last_error = NULL WHERE id = $1`,
        [job.id, this.clock.now()],
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const final = job.attempts >= job.max_attempts;
      this.logger.warn({ job: job.name, id: job.id, attempt: job.attempts, final, err: message }, 'job failed');
      await this.dataSource.query(
        `UPDATE jobs SET status = $2, run_at = $3, locked_until = NULL, last_error = $4,
                finished_at = CASE WHEN $2 = 'failed' THEN $5::timestamptz ELSE NULL END
          WHERE id = $1`,
        [
          job.id,
          final ? 'failed' : 'queued',
          new Date(this.clock.now().getTime() + retryDelayMs(job.attempts)),
          message.slice(0, 2000),
          this.clock.now(),
        ],
      );
    }
    return true;
  }
}
