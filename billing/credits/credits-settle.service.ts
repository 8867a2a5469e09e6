// The repeatable job that keeps the ledger current: every minute, for every subscribed account (and any
// other that has grants) that has something to book, in one transaction each: grant the period allowance
// when a billing period has started, book the usage metered since the last run against the grants, expire
// what is due. Accounts with nothing to book are told apart first, by a few reads over all accounts, which
// after the first run of the process compare only the usage days written since the run before (a full look
// again once a day).
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { Metrics } from '../../src/health/metrics.js';
import { defineJob, JobHandler } from '../../src/jobs/jobs.js';
import { JobsService } from '../../src/jobs/jobs.service.js';
import { lastInstantBefore } from '../../tiers/plans/version-in-force.js';
import { billingPeriod, type BillingPeriod } from '../../tiers/subscriptions/billing-period.js';
import { SubscriptionsService, type BillingContext } from '../../tiers/subscriptions/subscriptions.service.js';
import { CreditLedger, settleChangedLevel, type PeriodAllowance, type SettleResult } from './credit-ledger.service.js';
import { CreditsRepository } from './credits.repository.js';
import { endedEarly, settleIsIdle, type SettleLookMark, type SettleProbe } from './ledger.js';

const NO_GRANTS: SettleProbe = { unbookedUsage: false, expiryDue: false, allowances: [] };

/**
 * How long a run may go on comparing only the days written since the run before: then a full look again,
 * which alone sees a usage day whose rollup rows were deleted rather than written (a rebuild of rollups that
 * had drifted; CreditsRepository.settleProbes).
 */
const FULL_LOOK_EVERY_MS = 24 * 60 * 60_000;

export const settleCredits = defineJob<{ period: string }>('credits.settle');

@Injectable()
export class CreditsSettleService implements OnModuleInit {
  private readonly logger = new Logger('credits');
  /**
   * What this process's last completed run looked at (null before its first): the next run looks at what
   * was written since. Another process's runs in between, or one overlapping, only settle accounts (so
   * balance them): an older mark compares more days, never fewer than it must.
   */
  private last: (SettleLookMark & { fullAt: number }) | null = null;

  constructor(
    private readonly jobs: JobsService,
    private readonly ledger: CreditLedger,
    private readonly repository: CreditsRepository,
    private readonly subscriptions: SubscriptionsService,
    private readonly transactions: TransactionRunner,
    private readonly metrics: Metrics,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.jobs.repeat(settleCredits, 'minute');
  }

  @JobHandler(settleCredits)
  async run(_: { period: string }): Promise<{ accounts: number; settled: number; failed: number }> {
    const timer = this.metrics.creditsSettleSeconds.startTimer();
    const now = this.clock.now();
    const since = this.last !== null && Math.abs(now.getTime() - this.last.fullAt) < FULL_LOOK_EVERY_MS ? this.last : null;
    const { accounts, due, mark, full } = await this.accountsToSettle(now, since);
    const failed = new Set<string>();
    for (const account of due) {
      // One account's trouble must not hold up the others; it is tried again next minute.
      await this.settleAccount(account, now).catch((error: unknown) => {
        failed.add(account);
        this.logger.error({ err: error, account }, 'settling credits failed');
      });
    }
    // Every account is now booked as of this run's look, or settled after it, but those that failed: the
    // next run compares the days written since the look, and every day of those.
    this.last = { mark, recheck: failed, fullAt: full ? now.getTime() : since!.fullAt };
    timer({ look: full ? 'full' : 'since' });
    this.metrics.creditsSettleAccounts.inc({ outcome: 'passed' }, accounts - due.length);
    this.metrics.creditsSettleAccounts.inc({ outcome: 'settled' }, due.length - failed.size);
    this.metrics.creditsSettleAccounts.inc({ outcome: 'failed' }, failed.size);
    return { accounts, settled: due.length - failed.size, failed: failed.size };
  }

  /**
   * The accounts the job looks after (subscribed, or with grants) and, in id order, those a run at `now`
   * would book something for. One look over every account (a few reads in all): most have nothing to book
   * in a given minute, and settling one costs a transaction of a dozen statements even then. With `since`
   * (an earlier look's mark), usage days are compared only where written since, and every day of the
   * accounts in its `recheck`: exact when every account was, at that look, booked as metered or settled
   * after it, but those (CreditsRepository.settleProbes). `mark` is this look's, for the next; `full` whether
   * it compared every day (without `since`, or with one the database cannot use).
   */
  async accountsToSettle(now: Date, since: SettleLookMark | null = null): Promise<{ accounts: number; due: string[]; mark: string; full: boolean }> {
    const contexts = await this.subscriptions.billingContexts();
    const { probes, mark, full } = await this.transactions.readSnapshot((tx) => this.repository.settleProbes(tx, now, since));
    const accounts = [...new Set([...contexts.keys(), ...probes.keys()])].sort();
    return { accounts: accounts.length, due: accounts.filter((a) => !this.idle(probes.get(a), contexts.get(a) ?? null, now)), mark, full };
  }

  /** Whether a run would book nothing for the account (ledger.ts, settleIsIdle); an account without grants has nothing to book or expire. */
  private idle(probe: SettleProbe | undefined, billing: BillingContext | null, now: Date): boolean {
    return settleIsIdle(probe ?? NO_GRANTS, this.periodAllowance(billing, now), now);
  }

  /** The current billing period's allowance on the subscription's terms now, or null without a running subscription. */
  private periodAllowance(billing: BillingContext | null, now: Date): PeriodAllowance | null {
    if (!billing) return null;
    const period = billingPeriod(billing.anchor_day, now);
    return { amount: billing.terms.included_allowance, periodStart: period.start, periodEnd: period.end };
  }

  /** Settles one account at `now`: its period allowance (with a subscription), usage, expiries. */
  async settleAccount(account: string, now: Date): Promise<SettleResult> {
    const billing = await this.subscriptions.billingContext(account);
    const allowance = this.periodAllowance(billing, now);
    // A subscription cancelled at the end of the period that just ended has no billing context now, but that
    // period is still billed: its anchor is read as it is.
    const anchorDay = billing?.anchor_day ?? (await this.subscriptions.periodsOf(account))?.anchor_day ?? null;
    // A period with no grant is followed only while the subscription runs: then the current period's allowance
    // brings the job to the account (settleIsIdle), as the ending period's own grant does otherwise.
    const ending = anchorDay === null ? null : await this.endingAllowance(account, anchorDay, billingPeriod(anchorDay, now), billing?.start_date ?? null);
    const subscribedFrom = billing ? new Date(`${billing.start_date}T00:00:00.000Z`) : null;
    const result = await this.transactions.run((tx) => this.ledger.settle(tx, account, now, allowance, ending, subscribedFrom));
    // Awaited (the ledger's own refresh after commit is not), so the next hold sees what this run booked:
    // holds count the credits level only under a block plan.
    if (settleChangedLevel(result) && billing?.terms.overage_policy === 'block') await this.ledger.refresh(account, now);
    return result;
  }

  /**
   * The allowance of the period that ended before `current`, on the terms its invoice bills it (those in
   * force at its last instant), while its grant is still open: the first run after a period boundary. So a
   * plan version published in the period's last minute, after the job's last run in it, is followed by the
   * ending period's ledger as by its invoice (CreditLedger.settle); so is one that raised an allowance of
   * nothing, whose period has no grant yet, when the period is billed (it ends after `startDate`, the first
   * day of the subscription still running; null for one that ended). So is one whose allowance an anchor
   * change ended before its end, when the anchor is back on its day: the settle puts it in force again for
   * its period. Null otherwise, or when its grant was already expired by a run after its end.
   */
  private async endingAllowance(account: string, anchorDay: number, current: BillingPeriod, startDate: string | null): Promise<PeriodAllowance | null> {
    const previous = billingPeriod(anchorDay, lastInstantBefore(current.start));
    const grant = await this.repository.allowanceGrant(this.repository.db, account, previous.start);
    // Expired at its period's end: done. Ended before it (the anchor moved away, and is back): reopened.
    if (grant !== null && grant.expired_at !== null && !endedEarly({ expiresAt: grant.expires_at }, previous.end)) return null;
    if (grant === null && (startDate === null || previous.end.getTime() <= Date.parse(`${startDate}T00:00:00.000Z`))) return null;
    const terms = await this.subscriptions.termsInForceAt(account, lastInstantBefore(previous.end));
    return terms ? { amount: terms.terms.included_allowance, periodStart: previous.start, periodEnd: previous.end } : null;
  }
}
