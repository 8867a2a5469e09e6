// The one small job interface. A domain declares a job with `defineJob`, handles it with `@JobHandler`
// on the service method that does the work, and queues it through `JobQueue`. The backend is BullMQ on
// Redis when REDIS_URL is set, else a jobs table in the same PostgreSQL (embedded or not).
import { SetMetadata } from '@nestjs/common';
import type { Tx } from '../database/data-source.js';

export interface JobDefinition<P> {
  readonly name: string;
  readonly maxAttempts: number;
  /** Phantom: carries the payload type from definition to handler and queue. */
  readonly _payload?: P;
}

const declared = new Map<string, JobDefinition<unknown>>();

/** Declares a job. Names are unique across the app; a second declaration of a name is a bug. */
export function defineJob<P extends object>(name: string, options: { maxAttempts?: number } = {}): JobDefinition<P> {
  if (!/^[a-z][a-z0-9_.-]*$/.test(name)) throw new Error(`Job name "${name}" must be lowercase letters, digits, . _ -`);
  if (declared.has(name)) throw new Error(`Job "${name}" is declared twice`);
  const job: JobDefinition<P> = { name, maxAttempts: options.maxAttempts ?? 5 };
  declared.set(name, job as JobDefinition<unknown>);
  return job;
}

export function declaredJobs(): string[] {
  return [...declared.keys()].sort();
}

export const JOB_HANDLER = 'tokenmeter:job-handler';

/** Marks the method that runs a job. Exactly one per declared job, or the app refuses to start. */
export const JobHandler = (job: JobDefinition<never> | JobDefinition<object>) => SetMetadata(JOB_HANDLER, job.name);

export interface EnqueueOptions {
  /**
   * A deterministic id: a job with an id that was already queued is never queued (nor run) again.
   * Repeatable jobs use `<job>.<scope>.<period>` so each period runs once.
   */
  jobId?: string;
  runAt?: Date;
  /** Queue inside this transaction (database backend only): the job exists iff the transaction commits. */
  tx?: Tx;
}

/** Which attempt of its job a run is, as its backend counts them (the first is 1). */
export interface JobAttempt {
  attempt: number;
  maxAttempts: number;
}

export type JobDispatch = (name: string, payload: unknown, attempt: JobAttempt) => Promise<void>;

/** The queue's jobs by state, across every process that shares it (`/metrics`: `tokenmeter_jobs`). */
export interface JobCounts {
  /** Due and taken by no process yet (a running job whose process died counts again once its lease ran out). */
  due: number;
  /** Queued for later: a retry waiting out its backoff, a job queued with `runAt`. */
  scheduled: number;
  running: number;
  /** Failed their last attempt, kept 30 days with their error (the database's `jobs.last_error`, BullMQ's failed set). */
  failed: number;
  /** How long the oldest due job has waited past its time, in seconds; 0 when none is due. */
  oldestDueSeconds: number;
}

/** What a backend does; `JobsService` wraps it with handler discovery and checks. */
export interface JobBackend {
  readonly kind: 'database' | 'redis';
  enqueue(name: string, payload: object, maxAttempts: number, options: EnqueueOptions): Promise<void>;
  start(dispatch: JobDispatch): Promise<void>;
  /** Stops taking jobs and waits for the running ones to finish. */
  stop(): Promise<void>;
  ping(): Promise<void>;
  counts(): Promise<JobCounts>;
}

export const JOB_BACKEND = Symbol('JOB_BACKEND');

export abstract class JobQueue {
  abstract enqueue<P extends object>(job: JobDefinition<P>, payload: P, options?: EnqueueOptions): Promise<void>;
}

/** Job ids may not contain ':' in BullMQ; keep them portable across both backends. */
export function jobIdPart(value: string): string {
  return value.replace(/[^A-Za-z0-9_.-]/g, '_');
}
