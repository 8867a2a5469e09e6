// Finds every @JobHandler at start and refuses to run when a declared job has no handler or two; then
// queues jobs and routes each to its handler. Consumption starts only where this process should consume.
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type BeforeApplicationShutdown } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { CLOCK, type Clock } from '../clock/clock.js';
import { Metrics } from '../health/metrics.js';
import { ShutdownReport } from '../lifecycle/shutdown-report.js';
import { declaredJobs, JOB_BACKEND, JOB_HANDLER, JobQueue, type EnqueueOptions, type JobAttempt, type JobBackend, type JobDefinition } from './jobs.js';

export const JOBS_CONSUME = Symbol('JOBS_CONSUME');

type Handler = (payload: unknown) => Promise<unknown>;

export type Cadence = 'minute' | 'hour' | 'day';

/** The period a moment falls in, as a job-id part: `2026-11-24T14`, for instance, for an hourly job. */
export function periodKey(at: Date, cadence: Cadence): string {
  const iso = at.toISOString();
  return cadence === 'day' ? iso.slice(0, 10) : cadence === 'hour' ? iso.slice(0, 13) : iso.slice(0, 16);
}

/** Every consuming process ticks twice a minute: each tick queues the current period of every repeatable job. */
export const TICK_EVERY_MS = 30_000;
/** How long after each whole half minute of the clock a tick falls (a timer may fire a little early or late). */
export const TICK_AFTER_MS = 250;

/**
 * How long from `now` until the next tick at least `atLeastMs` away: ticks fall just after each whole half
 * minute of the clock, so a job whose period starts at a whole minute (a billing period's start: the credits
 * settle job grants the new allowance and expires the old one) is queued at once, not up to 30 s later, and
 * all processes tick together. After the tick a process makes when it starts, its next one is at least
 * TICK_EVERY_MS later, as it always was (tests rely on no job of its own running in a new app's first 30 s).
 */
export function msUntilNextTick(now: Date, atLeastMs = 0): number {
  const into = (now.getTime() + atLeastMs) % TICK_EVERY_MS;
  return atLeastMs + (into < TICK_AFTER_MS ? TICK_AFTER_MS - into : TICK_EVERY_MS - into + TICK_AFTER_MS);
}

interface Repeatable {
  job: JobDefinition<{ period: string }>;
  cadence: Cadence;
}

export class JobWiringError extends Error {}

/** Pure check, so it can be tested alone: every declared job has exactly one handler, and no stray ones. */
export function checkJobWiring(declared: readonly string[], handlers: ReadonlyMap<string, number>): void {
  const problems: string[] = [];
  for (const name of declared) {
    const count = handlers.get(name) ?? 0;
    if (count === 0) problems.push(`job "${name}" has no handler`);
    if (count > 1) problems.push(`job "${name}" has ${count} handlers`);
  }
  for (const name of handlers.keys()) {
    if (!declared.includes(name)) problems.push(`handler for undeclared job "${name}"`);
  }
  if (problems.length) throw new JobWiringError(`Refusing to start: ${problems.join('; ')}.`);
}

@Injectable()
export class JobsService extends JobQueue implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('jobs');
  private readonly handlers = new Map<string, Handler>();
  private started = false;
  private readonly repeatables: Repeatable[] = [];
  private ticker: NodeJS.Timeout | null = null;
  /** Jobs this process is running now (what a shutdown waits for). */
  private running = 0;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    @Inject(JOB_BACKEND) private readonly backend: JobBackend,
    @Inject(JOBS_CONSUME) private readonly consume: boolean,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly shutdown: ShutdownReport,
    private readonly metrics: Metrics,
  ) {
    super();
    metrics.jobCounts = () => this.backend.counts();
  }

  async onApplicationBootstrap(): Promise<void> {
    const counts = new Map<string, number>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const fn = instance[method];
        if (typeof fn !== 'function') continue;
        const name = this.reflector.get<string | undefined>(JOB_HANDLER, fn as (...a: unknown[]) => unknown);
        if (!name) continue;
        counts.set(name, (counts.get(name) ?? 0) + 1);
        this.handlers.set(name, (payload) => (fn as (p: unknown) => Promise<unknown>).call(instance, payload));
      }
    }
    checkJobWiring(declaredJobs(), counts);
    if (this.consume) {
      await this.backend.start((name, payload, attempt) => this.dispatch(name, payload, attempt));
      this.started = true;
      this.logger.log(`consuming ${this.handlers.size} job kinds on the ${this.backend.kind} backend`);
      await this.tick();
      this.scheduleTick(TICK_EVERY_MS);
    }
  }

  private scheduleTick(atLeastMs = 0): void {
    this.ticker = setTimeout(() => {
      void this.tick()
        .catch((e: unknown) => this.logger.error({ err: e }, 'tick failed'))
        .finally(() => {
          if (this.ticker !== null) this.scheduleTick();
        });
    }, msUntilNextTick(this.clock.now(), atLeastMs));
    this.ticker.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.ticker) clearTimeout(this.ticker);
    this.ticker = null;
    await this.shutdown.step('jobs', { backend: this.backend.kind, running: this.running }, () => this.backend.stop());
    this.started = false;
  }

  enqueue<P extends object>(job: JobDefinition<P>, payload: P, options: EnqueueOptions = {}): Promise<void> {
    if (options.tx && this.backend.kind !== 'database') {
      // Redis cannot join a PostgreSQL transaction; queue after the caller commits instead.
      throw new Error('enqueue with a transaction needs the database job backend');
    }
    return this.backend.enqueue(job.name, payload, job.maxAttempts, options);
  }

  /**
   * Runs `job` once per period. Every consuming process queues the current period's job under the same
   * deterministic id, so however many processes tick, each period runs once.
   */
  repeat(job: JobDefinition<{ period: string }>, cadence: Cadence): void {
    this.repeatables.push({ job, cadence });
  }

  /** Queues the current period of every repeatable job; called on a timer, and by tests. */
  async tick(): Promise<void> {
    const now = this.clock.now();
    for (const { job, cadence } of this.repeatables) {
      const period = periodKey(now, cadence);
      await this.enqueue(job, { period }, { jobId: `${job.name}.${period}` });
    }
  }

  get backendKind(): 'database' | 'redis' {
    return this.backend.kind;
  }

  get consuming(): boolean {
    return this.started;
  }

  ping(): Promise<void> {
    return this.backend.ping();
  }

  private async dispatch(name: string, payload: unknown, attempt: JobAttempt): Promise<void> {
    const handler = this.handlers.get(name);
    if (!handler) throw new Error(`no handler for job "${name}"`);
    this.running++;
    const timed = this.metrics.jobSeconds.startTimer({ job: name });
    try {
      await handler(payload);
      this.metrics.jobRuns.inc({ job: name, outcome: 'done' });
    } catch (error) {
      this.metrics.jobRuns.inc({ job: name, outcome: attempt.attempt >= attempt.maxAttempts ? 'failed' : 'retried' });
      throw error;
    } finally {
      timed();
      this.running--;
    }
  }
}
