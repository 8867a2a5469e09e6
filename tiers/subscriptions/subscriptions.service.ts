// Subscriptions: an account on a plan, pinned to a version or following the latest, with a start date,
// a billing anchor day and per-account overrides set by sales. Every change is audited.
import { Inject, Injectable, Optional } from '@nestjs/common';
import { AccountsRepository } from '../../src/accounts/accounts.repository.js';
import { AuditService } from '../../src/audit/audit.service.js';
import type { Actor } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Db } from '../../src/database/sql.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { applyOverrides, validateOverrides, type PlanVersionTerms, type SubscriptionOverrides } from '../plans/plan-terms.js';
import type { PlanVersion } from '../plans/plans.repository.js';
import { PlansService, termsOf } from '../plans/plans.service.js';
import { TiersError, TiersErrorCode as Code, validated } from '../tiers.errors.js';
import { INVOICED_PERIODS, type InvoicedPeriods } from './invoiced-periods.port.js';
import { billingPeriod } from './billing-period.js';
import { SubscriptionsRepository, type SubscriptionRow } from './subscriptions.repository.js';
import type { PutSubscriptionBody } from './subscriptions.schemas.js';

/** What metering and billing need of a running subscription (SubscriptionsService.billingContext). */
export interface BillingContext {
  anchor_day: number;
  /** The subscription's first day (YYYY-MM-DD): its first billing period is the one this day is in. */
  start_date: string;
  terms: PlanVersionTerms;
  ends_at: Date | null;
}

export interface Subscription {
  account_id: string;
  plan_id: string;
  /** The pinned version number, or "latest". */
  plan_version: number | 'latest';
  follows_latest: boolean;
  start_date: string;
  billing_anchor_day: number;
  overrides: SubscriptionOverrides;
  /** When it ends (the end of the billing period it was cancelled in), or null while it runs. */
  ends_at: Date | null;
  created_at: Date;
  updated_at: Date;
  /** The plan version billed now: the pinned one, or the latest at the time of reading. */
  plan: PlanVersion;
  /** That version's terms with the account's overrides applied. */
  effective_terms: PlanVersionTerms;
}

@Injectable()
export class SubscriptionsService {
  constructor(
    private readonly repository: SubscriptionsRepository,
    private readonly accounts: AccountsRepository,
    private readonly plans: PlansService,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() @Inject(INVOICED_PERIODS) private readonly invoiced: InvoicedPeriods | null = null,
  ) {}

  put(actor: Actor, accountId: string, body: PutSubscriptionBody): Promise<Subscription> {
    const overrides = validated(() => validateOverrides(body.overrides ?? {}));
    const pinned = body.plan_version === undefined || body.plan_version === 'latest' ? null : body.plan_version;
    return this.transactions.run(async (tx) => {
      // Locking the account row orders concurrent subscription writes for one account.
      const account = await this.accounts.findAccount(accountId, tx, true);
      if (!account) throw new TiersError(Code.AccountNotFound, `Account "${accountId}" was not found.`);
      const version = await this.plans.resolve(body.plan_id, pinned, tx);
      if (!version) {
        if (pinned !== null && (await this.plans.resolve(body.plan_id, null, tx))) {
          throw new TiersError(Code.UnknownPlanVersion, `Plan "${body.plan_id}" has no version ${pinned}.`, { field: 'plan_version' });
        }
        const meant = await this.plans.nearest(body.plan_id, tx);
        throw new TiersError(Code.UnknownPlan, `Plan "${body.plan_id}" does not exist.${meant === undefined ? '' : ` Did you mean "${meant}"?`}`, { field: 'plan_id' });
      }
      if (version.currency !== account.currency) {
        throw new TiersError(
          Code.CurrencyMismatch,
          `Plan "${body.plan_id}" is priced in ${version.currency} but account "${accountId}" is billed in ${account.currency}.`,
          { field: 'plan_id', plan_currency: version.currency, account_currency: account.currency },
        );
      }
      const now = this.clock.now();
      const previous = await this.repository.find(accountId, tx);
      // A subscription that ended is subscribed anew: from today unless told, not from its old start (the
      // periods in between were not billed and are not).
      const ended = previous?.ends_at != null && previous.ends_at.getTime() <= now.getTime();
      const startDate = body.start_date ?? (previous && !ended ? previous.start_date : now.toISOString().slice(0, 10));
      const anchorDay = body.billing_anchor_day ?? previous?.billing_anchor_day ?? Math.min(Number(startDate.slice(8, 10)), 28);
      if (previous && anchorDay !== previous.billing_anchor_day) await this.anchorMayChange(tx, accountId, previous.billing_anchor_day, anchorDay);
      const row = await this.repository.upsert(tx, {
        account_id: accountId,
        plan_id: body.plan_id,
        pinned_version: pinned,
        start_date: startDate,
        billing_anchor_day: anchorDay,
        overrides,
        // A PUT states a running subscription: it lifts a cancellation, pending or past.
        ends_at: null,
        created_at: previous?.created_at ?? now,
        updated_at: now,
      });
      // Inside the transaction: the embedded store has one connection, which this transaction holds.
      const before = previous ? await this.view(previous, tx) : null;
      const after = this.compose(row, version);
      await this.audit.record(tx, actor, {
        action: previous ? 'subscription.update' : 'subscription.create',
        entityType: 'subscription',
        entityId: accountId,
        accountId,
        before: before && auditable(before),
        after: auditable(after),
      });
      return after;
    });
  }

  /**
   * Cancels the subscription at the end of the current billing period (`ends_at`): that period is billed
   * in full when it closes, no later one is, and from then on the account has no plan (no allowance, no
   * caps, no credits level; its events are still metered). Cancelling again changes nothing; a PUT
   * subscribes again. Audited (subscription.cancel).
   */
  cancel(actor: Actor, accountId: string): Promise<Subscription> {
    return this.transactions.run(async (tx) => {
      const account = await this.accounts.findAccount(accountId, tx, true);
      if (!account) throw new TiersError(Code.AccountNotFound, `Account "${accountId}" was not found.`);
      const row = await this.repository.find(accountId, tx);
      if (!row) throw new TiersError(Code.SubscriptionNotFound, `Account "${accountId}" has no subscription.`);
      const before = await this.view(row, tx);
      if (row.ends_at !== null) return before;
      const now = this.clock.now();
      const after = await this.view(await this.repository.setEnd(tx, accountId, billingPeriod(row.billing_anchor_day, now).end, now), tx);
      await this.audit.record(tx, actor, {
        action: 'subscription.cancel',
        entityType: 'subscription',
        entityId: accountId,
        accountId,
        before: auditable(before),
        after: auditable(after),
      });
      return after;
    });
  }

  /**
   * The billing anchor may change until a period is invoiced. After, the periods on the new anchor would
   * overlap the invoiced ones (anchored on the 1st and invoiced to 1 April, the 15th makes 15 March to 15 April
   * the next period, whose usage from 15 to 31 March was billed already): refused, with how far it was billed.
   */
  private async anchorMayChange(db: Db, accountId: string, from: number, to: number): Promise<void> {
    const end = this.invoiced ? await this.invoiced.lastInvoicedEnd(db, accountId) : null;
    if (end === null) return;
    const until = end.toISOString().slice(0, 10);
    throw new TiersError(
      Code.BillingAnchorFixed,
      `billing_anchor_day cannot change from ${from} to ${to}: account "${accountId}" is invoiced until ${until}, and periods on day ${to} would overlap what was billed. Send billing_anchor_day ${from}, or leave it out.`,
      { field: 'billing_anchor_day', billing_anchor_day: from, invoiced_until: end.toISOString() },
    );
  }

  async get(accountId: string): Promise<Subscription> {
    const row = await this.repository.find(accountId);
    if (!row) throw new TiersError(Code.SubscriptionNotFound, `Account "${accountId}" has no subscription.`);
    return this.view(row);
  }

  /**
   * The terms a billing period is billed on (for closing it): the plan version in force at `at`, the
   * period's last instant (a pinned version, or the plan's version published last before then), plus the
   * account's overrides. So a version published after the period ended bills only the periods after.
   * Only plan versions are historised: the pin and the overrides are not (no history is kept of them), so
   * they are read as they are now, and one changed after a period ended but before its close applies to it.
   */
  async termsInForceAt(accountId: string, at: Date, db?: Db): Promise<{ plan_id: string; plan_version: number; terms: PlanVersionTerms } | null> {
    const row = await this.repository.find(accountId, db);
    if (!row) return null;
    const version = await this.plans.resolveAt(row.plan_id, row.pinned_version, at, db);
    if (!version) throw new Error(`subscription of ${row.account_id} names a missing plan version`);
    return { plan_id: row.plan_id, plan_version: version.version, terms: applyOverrides(termsOf(version), row.overrides) };
  }

  /**
   * What metering needs on every batch: the effective terms and the billing anchor, or null (no
   * subscription, or one that has ended: `ends_at` passed). Inside a
   * transaction pass it as `db`: the embedded store has one connection, which the transaction holds.
   */
  async billingContext(accountId: string, db?: Db): Promise<BillingContext | null> {
    const row = await this.repository.find(accountId, db);
    if (!row || this.ended(row)) return null;
    const sub = await this.view(row, db);
    return { anchor_day: row.billing_anchor_day, start_date: row.start_date, terms: sub.effective_terms, ends_at: row.ends_at };
  }

  /**
   * `billingContext` of every subscribed account at once (the credits job's look over all accounts): one
   * read of the subscriptions and one of each plan version they bill. An account whose subscription has
   * ended maps to null, as `billingContext` answers for it.
   */
  async billingContexts(): Promise<Map<string, BillingContext | null>> {
    const rows = await this.repository.findAll();
    const versions = new Map<string, Promise<PlanVersion | null>>();
    const contexts = new Map<string, BillingContext | null>();
    for (const row of rows) {
      if (this.ended(row)) {
        contexts.set(row.account_id, null);
        continue;
      }
      const key = JSON.stringify([row.plan_id, row.pinned_version]);
      if (!versions.has(key)) versions.set(key, this.plans.resolve(row.plan_id, row.pinned_version));
      const version = await versions.get(key)!;
      if (!version) throw new Error(`subscription of ${row.account_id} names a missing plan version`);
      contexts.set(row.account_id, { anchor_day: row.billing_anchor_day, start_date: row.start_date, terms: this.compose(row, version).effective_terms, ends_at: row.ends_at });
    }
    return contexts;
  }

  /** An ended subscription bills nothing more: the account has no plan. */
  private ended(row: SubscriptionRow): boolean {
    return row.ends_at !== null && row.ends_at.getTime() <= this.clock.now().getTime();
  }

  /** How the account's billing periods run (anchor) and when its subscription ends, ended or not; null without one. */
  async periodsOf(accountId: string, db?: Db): Promise<{ anchor_day: number; ends_at: Date | null } | null> {
    const row = await this.repository.find(accountId, db);
    return row && { anchor_day: row.billing_anchor_day, ends_at: row.ends_at };
  }

  private async view(row: SubscriptionRow, db?: Db): Promise<Subscription> {
    const version = await this.plans.resolve(row.plan_id, row.pinned_version, db);
    // The foreign keys make this impossible; say so loudly rather than answer half a subscription.
    if (!version) throw new Error(`subscription of ${row.account_id} names a missing plan version`);
    return this.compose(row, version);
  }

  private compose(row: SubscriptionRow, version: PlanVersion): Subscription {
    return {
      account_id: row.account_id,
      plan_id: row.plan_id,
      plan_version: row.pinned_version ?? 'latest',
      follows_latest: row.pinned_version === null,
      start_date: row.start_date,
      billing_anchor_day: row.billing_anchor_day,
      overrides: row.overrides,
      ends_at: row.ends_at,
      created_at: row.created_at,
      updated_at: row.updated_at,
      plan: version,
      effective_terms: applyOverrides(termsOf(version), row.overrides),
    };
  }
}

/** The audit row keeps the subscription and the version number it resolved to, not the whole plan. */
function auditable(s: Subscription): Omit<Subscription, 'plan' | 'effective_terms'> & { resolved_plan_version: number } {
  const { plan, effective_terms: _terms, ...rest } = s;
  return { ...rest, resolved_plan_version: plan.version };
}
