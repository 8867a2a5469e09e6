// Mirrors our objects in Stripe, only ever in jobs. The owner of an object (invoicing, the credit
// ledger) calls `queueInvoice` / `queueTopup` in the transaction that makes it final: the sync record,
// with the fully mapped request, commits with the object, so the object is final here whatever Stripe's
// state, and it reaches Stripe once Stripe answers. Each attempt claims the record, makes the customer,
// the invoice, its items and the finalization, each with an idempotency key derived from our ids, so a
// retry after a timeout, a crash or a lost answer gets the object the first call made, never a second
// one; past Stripe's 24-hour key memory a resumed attempt first looks the object up by its metadata.
// A failed attempt is retried with backoff on the injected clock (30 s doubling to an hour, for as long
// as it takes); a sweep re-queues records whose job was lost. With Stripe off, nothing is queued: the
// record says `skipped`.
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { AccountsRepository } from '../../src/accounts/accounts.repository.js';
import { APP_CONFIG, type AppConfig } from '../../src/config/config.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import { defineJob, JobHandler, jobIdPart } from '../../src/jobs/jobs.js';
import { JobsService, periodKey } from '../../src/jobs/jobs.service.js';
import { Sweeper } from '../../src/jobs/sweeper.js';
import { AfterCommit } from '../webhooks/after-commit.js';
import { nextAttemptAt } from '../webhooks/retry-schedule.js';
import { StripeApiRepository, StripeCallError, type InvoiceCreate } from './stripe-api.repository.js';
import {
  customerParams,
  idempotencyKey,
  missingItems,
  objectMetadata,
  planInvoice,
  planTopup,
  StripeMappingError,
  type InvoiceForStripe,
  type InvoicePlan,
  type StripeInvoiceStatus,
  type StripeInvoiceView,
  type SyncKind,
  type TopupForStripe,
} from './stripe-mapping.js';
import { keyOf, StripeSyncRepository, type SyncKey, type SyncRow, type SyncState } from './stripe-sync.repository.js';

export const syncStripeObject = defineJob<{ kind: SyncKind; account: string; id: string }>('stripe.sync', { maxAttempts: 3 });
export const pruneStripeEvents = defineJob<{ period: string }>('stripe.prune');

/** Applied events are remembered this long (Stripe retries a delivery for three days). */
export const EVENT_RETENTION_MS = 30 * 86_400_000;
/** A record this long past due has lost its job. */
export const SWEEP_GRACE_MS = 60_000;
const SWEEP_EVERY_MS = 60_000;
const SWEEP_BATCH = 200;
/** An attempt makes a handful of calls, each bounded by the Stripe timeout; past this it is taken to have died. */
const LEASE_CALLS = 8;
/** Sync retries never give up: the object is final here and must reach Stripe once it answers. */
const NEVER = new Date(8.64e15);

/** What the owner of an object (and its API) shows of its mirror. */
export interface StripeSyncView {
  state: SyncState;
  stripe_id: string | null;
  stripe_status: StripeInvoiceStatus | null;
  attempts: number;
  next_attempt_at: Date | null;
  last_error: string | null;
}

export function syncView(row: SyncRow): StripeSyncView {
  return {
    state: row.state,
    stripe_id: row.stripe_id,
    stripe_status: row.stripe_status,
    attempts: row.attempts,
    next_attempt_at: row.next_attempt_at,
    last_error: row.last_error,
  };
}

@Injectable()
export class StripeSync implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('stripe');
  private readonly sweeper: Sweeper;

  constructor(
    private readonly api: StripeApiRepository,
    private readonly repository: StripeSyncRepository,
    private readonly accounts: AccountsRepository,
    private readonly jobs: JobsService,
    private readonly afterCommit: AfterCommit,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.sweeper = new Sweeper(jobs, this.logger, 'stripe sweep');
  }

  onModuleInit(): void {
    this.jobs.repeat(pruneStripeEvents, 'day');
  }

  onApplicationBootstrap(): void {
    if (this.api.enabled) this.sweeper.start(SWEEP_EVERY_MS, () => this.sweep());
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.sweeper.stop();
  }

  /** Whether objects are mirrored at all (STRIPE_SECRET_KEY is set). */
  get enabled(): boolean {
    return this.api.enabled;
  }

  /**
   * Mirrors a finalized invoice, in the transaction that finalizes it. Never throws for Stripe's sake: an
   * invoice Stripe cannot carry (an amount it has no unit for) is recorded `failed` with the reason, and
   * with Stripe off it is recorded `skipped`. Queueing the same invoice again changes nothing.
   */
  queueInvoice(tx: Tx, invoice: InvoiceForStripe): Promise<StripeSyncView> {
    const key: SyncKey = { kind: 'invoice', accountId: invoice.accountId, localId: invoice.id };
    return this.queue(tx, key, () => planInvoice(invoice, this.planOptions()));
  }

  /** Sells a top-up pack through a Stripe invoice of its price; its credit is granted when Stripe says it is paid. */
  queueTopup(tx: Tx, topup: TopupForStripe): Promise<StripeSyncView> {
    const key: SyncKey = { kind: 'topup', accountId: topup.accountId, localId: topup.topupId };
    return this.queue(tx, key, () => planTopup(topup, this.planOptions()));
  }

  /**
   * Voids the Stripe invoice of a voided invoice of ours (once it exists there; a paid one stays paid).
   * Null when the invoice was never mirrored.
   */
  async requestVoid(tx: Tx, accountId: string, invoiceId: string): Promise<StripeSyncView | null> {
    const key: SyncKey = { kind: 'invoice', accountId, localId: invoiceId };
    const row = await this.repository.requestVoid(tx, key, this.clock.now());
    if (row === null) return null;
    await this.enqueue(tx, key, 'void');
    return syncView(row);
  }

  async status(kind: SyncKind, accountId: string, localId: string): Promise<StripeSyncView | null> {
    const row = await this.repository.find({ kind, accountId, localId });
    return row && syncView(row);
  }

  private planOptions() {
    return { collectionMethod: this.config.stripe.collectionMethod, daysUntilDue: this.config.stripe.daysUntilDue };
  }

  private async queue(tx: Tx, key: SyncKey, plan: () => InvoicePlan): Promise<StripeSyncView> {
    const now = this.clock.now();
    if (!this.api.enabled) {
      const { row } = await this.repository.insert(tx, key, { state: 'skipped', payload: null, nextAttemptAt: null, lastError: 'Stripe was off (no STRIPE_SECRET_KEY)', now });
      return syncView(row);
    }
    let payload: InvoicePlan;
    try {
      payload = plan();
    } catch (error) {
      if (!(error instanceof StripeMappingError)) throw error;
      const { row } = await this.repository.insert(tx, key, { state: 'failed', payload: null, nextAttemptAt: null, lastError: error.message, now });
      return syncView(row);
    }
    const { row, created } = await this.repository.insert(tx, key, { state: 'pending', payload, nextAttemptAt: now, lastError: null, now });
    if (created) await this.enqueue(tx, key, '0');
    return syncView(row);
  }

  /** Queues an attempt: inside the transaction on the database job queue, after its commit on Redis. */
  private async enqueue(tx: Tx | null, key: SyncKey, tag: string): Promise<void> {
    const jobId = `stripe.sync.${key.kind}.${jobIdPart(key.accountId)}.${jobIdPart(key.localId)}.${tag}`;
    const payload = { kind: key.kind, account: key.accountId, id: key.localId };
    if (tx === null || !tx.queryRunner?.isTransactionActive) await this.jobs.enqueue(syncStripeObject, payload, { jobId });
    else if (this.jobs.backendKind === 'database') await this.jobs.enqueue(syncStripeObject, payload, { jobId, tx });
    else this.afterCommit.schedule(tx, () => this.jobs.enqueue(syncStripeObject, payload, { jobId }));
  }

  @JobHandler(syncStripeObject)
  async syncJob(job: { kind: SyncKind; account: string; id: string }): Promise<void> {
    await this.sync({ kind: job.kind, accountId: job.account, localId: job.id });
  }

  /**
   * One attempt at a pending, due record; returns the record as it ended, or null when there was nothing
   * to do (not pending, not due, or another attempt holds it).
   */
  async sync(key: SyncKey): Promise<SyncRow | null> {
    const startedAt = this.clock.now();
    const lease = new Date(startedAt.getTime() + LEASE_CALLS * this.config.stripe.timeoutMs);
    const row = await this.repository.claim(key, startedAt, lease);
    if (row === null) return null;
    let state: SyncState;
    let nextAt: Date | null = null;
    let error: string | null = null;
    let status: StripeInvoiceStatus | null = null;
    try {
      status = (await this.push(row))?.status ?? null;
      state = 'synced';
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      if (e instanceof StripeCallError && e.retryable) {
        state = 'pending';
        nextAt = nextAttemptAt(row.attempts, this.clock.now(), NEVER, Math.random());
        this.logger.warn({ kind: key.kind, account: key.accountId, id: key.localId, attempt: row.attempts, err: error }, 'stripe sync failed; will retry');
      } else {
        state = 'failed';
        this.logger.error({ kind: key.kind, account: key.accountId, id: key.localId, err: error }, 'stripe refused the sync');
      }
    }
    await this.repository.settle(key, row.attempts, { state, nextAttemptAt: nextAt, lastError: error, stripeStatus: status, now: this.clock.now() });
    if (nextAt !== null) await this.jobs.enqueue(syncStripeObject, { kind: key.kind, account: key.accountId, id: key.localId }, { runAt: nextAt });
    return this.repository.find(key);
  }

  /** Everything one attempt does for an invoice or top-up; each step is skipped when a past attempt did it. */
  private async push(row: SyncRow): Promise<StripeInvoiceView | null> {
    if (row.kind === 'customer') {
      await this.customer(row.account_id, row);
      return null;
    }
    const key = keyOf(row);
    const plan = row.payload as InvoicePlan;
    const idem = (step: string) => idempotencyKey(key.kind, key.accountId, key.localId, step);
    const customer = await this.customer(key.accountId);
    // A past attempt may have reached Stripe without hearing back.
    const resumed = row.attempts > 1 || row.stripe_id !== null;
    let invoice: StripeInvoiceView | null = null;
    if (row.stripe_id !== null) invoice = await this.api.retrieveInvoice(row.stripe_id);
    else if (resumed) invoice = await this.api.findInvoice(customer, plan.metadata);
    if (invoice === null) {
      const create: InvoiceCreate = {
        customer,
        currency: plan.currency,
        description: plan.description,
        collection_method: plan.collection_method,
        days_until_due: plan.days_until_due,
        metadata: plan.metadata,
      };
      invoice = await this.api.createInvoice(create, idem('create'));
    }
    if (row.stripe_id === null) await this.repository.setStripeId(key, invoice.id, this.clock.now());
    if (invoice.status === 'draft') {
      const sent = resumed ? await this.api.invoiceItems(invoice.id) : [];
      for (const item of missingItems(plan, sent)) {
        await this.api.createInvoiceItem(
          { customer, invoice: invoice.id, currency: plan.currency, amount: item.amount, description: item.description, line: item.line },
          idem(`item.${item.line}`),
        );
      }
      invoice = await this.api.finalizeInvoice(invoice.id, idem('finalize'));
    }
    if (row.void_requested_at !== null && (invoice.status === 'open' || invoice.status === 'uncollectible')) {
      invoice = await this.api.voidInvoice(invoice.id, idem('void'));
    }
    return invoice;
  }

  /**
   * The account's Stripe customer, made on first need inside an invoice's attempt (or, when that attempt
   * failed, by its own record's attempt, `claimed`), with its own key and record.
   */
  private async customer(accountId: string, claimed?: SyncRow): Promise<string> {
    const key: SyncKey = { kind: 'customer', accountId, localId: accountId };
    const now = this.clock.now();
    const existing = claimed ?? (await this.repository.find(key));
    if (existing?.stripe_id) return existing.stripe_id;
    const account = await this.accounts.findAccount(accountId);
    if (!account) throw new StripeCallError(`account ${accountId} does not exist`, false, null, null);
    const params = customerParams(account);
    if (!existing) await this.repository.insert(null, key, { state: 'pending', payload: params, nextAttemptAt: now, lastError: null, now });
    const before = claimed ? claimed.attempts - 1 : await this.repository.countAttempt(key, now);
    const found = before > 0 ? await this.api.findCustomer(objectMetadata('customer', accountId, accountId)) : null;
    const { id } = found ?? (await this.api.createCustomer(params, idempotencyKey('customer', accountId, accountId, 'create')));
    await this.repository.setStripeId(key, id, this.clock.now());
    await this.repository.markSynced(key, this.clock.now());
    return id;
  }

  /**
   * Queues an attempt for every record at least a minute overdue by the injected clock; returns how many.
   * The job id holds the hour, so a record whose job keeps getting lost is queued again next hour.
   */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    const due = await this.repository.due(new Date(now.getTime() - SWEEP_GRACE_MS), SWEEP_BATCH);
    for (const row of due) await this.enqueue(null, keyOf(row), `${row.attempts}.${periodKey(now, 'hour')}`);
    return due.length;
  }

  @JobHandler(pruneStripeEvents)
  async pruneJob(_: { period: string }): Promise<void> {
    await this.repository.pruneEvents(new Date(this.clock.now().getTime() - EVENT_RETENTION_MS));
  }
}
