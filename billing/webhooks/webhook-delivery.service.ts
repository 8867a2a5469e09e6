// Delivers webhooks, only ever in jobs: each attempt is one job that claims the delivery, sends it
// (holding no database connection while the receiver takes its time), records the attempt and, when it
// failed, schedules the next one by the injected clock. Every process that consumes jobs sweeps once a
// minute, re-queueing any delivery whose job was lost (a crash, a Redis flush, a commit whose queueing
// failed) once it is a minute overdue; a daily prune forgets finished deliveries after 30 days.
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../src/config/config.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { defineJob, JobHandler } from '../../src/jobs/jobs.js';
import { JobsService, periodKey } from '../../src/jobs/jobs.service.js';
import { Sweeper } from '../../src/jobs/sweeper.js';
import { AfterCommit } from './after-commit.js';
import { nextAttemptAt } from './retry-schedule.js';
import { ATTEMPT_HEADER, DELIVERY_ID_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signatureHeader } from './signature.js';
import { WebhookSender } from './webhook-sender.js';
import { WebhooksRepository, type ClaimedDelivery, type DeliveryStatus } from './webhooks.repository.js';

export const deliverWebhook = defineJob<{ delivery_id: string; attempt: number }>('webhooks.deliver', { maxAttempts: 3 });
export const pruneWebhooks = defineJob<{ period: string }>('webhooks.prune');

/** How long finished deliveries (with their attempts) and their events stay readable. */
export const RETENTION_MS = 30 * 86_400_000;
/** A delivery this long past due has lost its job (a job runs within moments of being due). */
export const SWEEP_GRACE_MS = 60_000;
/** A timer, not a repeatable job (src/jobs/sweeper.ts says why). */
const SWEEP_EVERY_MS = 60_000;
/** Beyond the attempt's own timeout, how long a claimed attempt may run before it is taken to have died. */
const LEASE_MARGIN_MS = 60_000;
const SWEEP_BATCH = 500;

function isSuccess(statusCode: number | null): boolean {
  return statusCode !== null && statusCode >= 200 && statusCode < 300;
}

@Injectable()
export class WebhookDeliveryService implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('webhooks');
  private readonly sweeper: Sweeper;

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly transactions: TransactionRunner,
    private readonly jobs: JobsService,
    private readonly afterCommit: AfterCommit,
    private readonly sender: WebhookSender,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.sweeper = new Sweeper(jobs, this.logger, 'webhook sweep');
  }

  onModuleInit(): void {
    this.jobs.repeat(pruneWebhooks, 'day');
  }

  onApplicationBootstrap(): void {
    this.sweeper.start(SWEEP_EVERY_MS, () => this.sweep());
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.sweeper.stop();
  }

  /**
   * Queues the first attempt of new deliveries. With a transaction: inside it on the database job queue
   * (the jobs exist iff it commits), after its commit on Redis.
   */
  async queueFirstAttempts(tx: Tx | null, deliveryIds: readonly string[]): Promise<void> {
    const queue = async (inTx?: Tx) => {
      for (const id of deliveryIds) await this.jobs.enqueue(deliverWebhook, { delivery_id: id, attempt: 1 }, { tx: inTx });
    };
    if (tx === null || !tx.queryRunner?.isTransactionActive) await queue();
    else if (this.jobs.backendKind === 'database') await queue(tx);
    else this.afterCommit.schedule(tx, () => queue());
  }

  @JobHandler(deliverWebhook)
  async deliver(job: { delivery_id: string; attempt: number }): Promise<void> {
    const startedAt = this.clock.now();
    const lease = new Date(startedAt.getTime() + this.config.webhooks.timeoutMs + LEASE_MARGIN_MS);
    const claimed = await this.repository.claim(job.delivery_id, job.attempt, startedAt, lease);
    if (!claimed) return; // another job made this attempt, or it is not due (yet, or any more)
    if (!claimed.endpoint_enabled || claimed.endpoint_deleted) {
      // Disabling or deleting cancels what is pending; this is the attempt that was already queued then.
      const error = claimed.endpoint_deleted ? 'the endpoint was deleted' : 'the endpoint is disabled';
      await this.transactions.run((tx) =>
        this.repository.settle(tx, claimed.id, job.attempt, {
          status: 'canceled',
          nextAttemptAt: null,
          completedAt: startedAt,
          statusCode: null,
          error,
          durationMs: null,
        }),
      );
      return;
    }

    const outcome = await this.sender.send(claimed.url, claimed.body, this.headers(claimed, job.attempt, startedAt));
    const endedAt = this.clock.now();
    const ok = isSuccess(outcome.statusCode);
    const error = ok ? null : (outcome.error ?? `the receiver answered HTTP ${outcome.statusCode}`);
    const next = ok ? null : nextAttemptAt(job.attempt, endedAt, claimed.deadline_at, Math.random());
    const status: DeliveryStatus = ok ? 'succeeded' : next === null ? 'failed' : 'pending';
    await this.transactions.run(async (tx) => {
      await this.repository.insertAttempt(tx, {
        delivery_id: claimed.id,
        attempt: job.attempt,
        started_at: startedAt,
        status_code: outcome.statusCode,
        duration_ms: outcome.durationMs,
        error,
        response_excerpt: outcome.responseExcerpt,
      });
      await this.repository.settle(tx, claimed.id, job.attempt, {
        status,
        nextAttemptAt: next,
        completedAt: status === 'pending' ? null : endedAt,
        statusCode: outcome.statusCode,
        error,
        durationMs: outcome.durationMs,
      });
    });
    if (next !== null) await this.jobs.enqueue(deliverWebhook, { delivery_id: claimed.id, attempt: job.attempt + 1 }, { runAt: next });
  }

  /**
   * Queues the next attempt of every delivery at least a minute overdue by the injected clock; returns how
   * many. The job id holds the hour, so a delivery whose job keeps getting lost is queued again next hour.
   */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    const due = await this.repository.due(new Date(now.getTime() - SWEEP_GRACE_MS), SWEEP_BATCH);
    const hour = periodKey(now, 'hour');
    for (const d of due) {
      const attempt = d.attempt_count + 1;
      await this.jobs.enqueue(deliverWebhook, { delivery_id: d.id, attempt }, { jobId: `webhooks.deliver.${d.id}.${attempt}.${hour}` });
    }
    return due.length;
  }

  @JobHandler(pruneWebhooks)
  async pruneJob(_: { period: string }): Promise<void> {
    await this.prune();
  }

  /** Forgets deliveries finished more than the retention ago, and events no delivery needs any more. */
  prune(): Promise<{ deliveries: number; events: number }> {
    const cutoff = new Date(this.clock.now().getTime() - RETENTION_MS);
    return this.transactions.run((tx) => this.repository.prune(tx, cutoff));
  }

  private headers(claimed: ClaimedDelivery, attempt: number, at: Date): Record<string, string> {
    const secrets = [claimed.secret];
    if (claimed.previous_secret !== null && claimed.previous_secret_expires_at !== null && claimed.previous_secret_expires_at > at) {
      secrets.push(claimed.previous_secret);
    }
    return {
      'content-type': 'application/json',
      'user-agent': 'tokenmeter-webhooks/1',
      [EVENT_ID_HEADER]: claimed.event_id,
      [EVENT_TYPE_HEADER]: claimed.event_type,
      [DELIVERY_ID_HEADER]: claimed.id,
      [ATTEMPT_HEADER]: String(attempt),
      [SIGNATURE_HEADER]: signatureHeader(secrets, Math.floor(at.getTime() / 1000), claimed.body),
    };
  }
}
