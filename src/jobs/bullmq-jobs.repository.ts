// The Redis job backend: one BullMQ queue whose job names route to handlers. Completed jobs with a
// deterministic id are kept (not removed), so a repeat of the same id is refused by BullMQ itself.
import { Logger } from '@nestjs/common';
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Clock } from '../clock/clock.js';
import { redisClient, type RedisClient } from '../redis/redis-client.js';
import { jobIdPart, type EnqueueOptions, type JobBackend, type JobCounts, type JobDispatch } from './jobs.js';

const DAY_S = 86_400;

export interface BullJobsOptions {
  url: string;
  /** REDIS_CLUSTER: `url` names one node of a Redis Cluster (the prefix must then be one hash tag). */
  cluster?: boolean;
  /** Key prefix, so tests and deployments sharing a Redis do not meet. Hash-tag it for Redis Cluster. */
  prefix?: string;
  queueName?: string;
  concurrency?: number;
}

export class BullJobsRepository implements JobBackend {
  readonly kind = 'redis' as const;
  private readonly logger = new Logger('jobs');
  private readonly connection: ConnectionOptions;
  /** The cluster clients made here (BullMQ is given them, and leaves closing them to their maker). */
  private readonly clusterClients: RedisClient[] = [];
  private readonly queue: Queue;
  private worker: Worker | null = null;
  private readonly queueName: string;
  private readonly prefix: string;

  constructor(
    private readonly options: BullJobsOptions,
    private readonly clock: Clock,
  ) {
    this.connection = options.cluster ? this.clusterClient() : { url: options.url, maxRetriesPerRequest: null };
    this.queueName = options.queueName ?? 'jobs';
    this.prefix = options.prefix ?? '{tokenmeter}';
    this.queue = new Queue(this.queueName, { connection: this.connection, prefix: this.prefix });
    this.queue.on('error', (error) => this.logger.error({ err: error }, 'queue error'));
  }

  async enqueue(name: string, payload: object, maxAttempts: number, options: EnqueueOptions): Promise<void> {
    const delay = options.runAt ? Math.max(0, options.runAt.getTime() - this.clock.now().getTime()) : 0;
    await this.queue.add(name, payload, {
      jobId: options.jobId === undefined ? undefined : jobIdPart(options.jobId),
      delay,
      attempts: maxAttempts,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: options.jobId === undefined ? { age: DAY_S, count: 10_000 } : false,
      removeOnFail: { age: 30 * DAY_S },
    });
  }

  async start(dispatch: JobDispatch): Promise<void> {
    // attemptsMade counts the attempts that ended before this one.
    this.worker = new Worker(this.queueName, async (job) => dispatch(job.name, job.data, { attempt: job.attemptsMade + 1, maxAttempts: job.opts.attempts ?? 1 }), {
      connection: this.options.cluster ? this.clusterClient() : this.connection,
      prefix: this.prefix,
      concurrency: this.options.concurrency ?? 4,
    });
    this.worker.on('error', (error) => this.logger.error({ err: error }, 'worker error'));
    this.worker.on('failed', (job, error) =>
      // attemptsMade counts this attempt by now; `final` as the database backend logs it: no attempt is left.
      this.logger.warn({ job: job?.name, id: job?.id, attempt: job?.attemptsMade, final: job ? job.attemptsMade >= (job.opts.attempts ?? 1) : undefined, err: error.message }, 'job failed'),
    );
    await this.worker.waitUntilReady();
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
    await Promise.all(this.clusterClients.map((c) => c.quit().catch(() => c.disconnect())));
  }

  private clusterClient(): RedisClient {
    const client = redisClient({ url: this.options.url, cluster: true }, { maxRetriesPerRequest: null });
    this.clusterClients.push(client);
    return client;
  }

  /**
   * BullMQ's own counts. The oldest due job is the waiting list's oldest; BullMQ schedules by the real clock
   * (a delay runs from when a job was added), so its wait is read against it, from the job's time plus its delay.
   */
  async counts(): Promise<JobCounts> {
    const c = await this.queue.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'failed');
    const [oldest] = await this.queue.getJobs(['wait'], 0, 0, true);
    const dueAt = oldest ? oldest.timestamp + (oldest.opts.delay ?? 0) : null;
    return {
      due: (c.wait ?? 0) + (c.prioritized ?? 0),
      scheduled: c.delayed ?? 0,
      running: c.active ?? 0,
      failed: c.failed ?? 0,
      oldestDueSeconds: dueAt === null ? 0 : Math.max(0, (Date.now() - dueAt) / 1000),
    };
  }

  async ping(): Promise<void> {
    await this.queue.waitUntilReady();
    // A cheap round trip through the queue's own connection.
    await this.queue.getJobCounts('waiting');
  }
}
