// Invoices: closing a billing period into a draft, finalizing it after the grace period (then it never
// changes), paid (Stripe says so) or void (credits restored), and reading them. One use case per write,
// each one transaction that locks the account row, so two closes of one account never interleave.
// Finalizing, paying and voiding by hand are audited in the transaction that makes the change.
//
// What an invoice bills is defined, not stamped: for its own period and every earlier invoiced period,
// the period's usage as the rollups say now, less what other invoices already billed of it. A late event,
// a repricing or a relabelling of a finalized period is thereby billed once, on the next invoice, as
// adjustment lines (see invoice-math.ts), and no event row is ever written by a close.
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { AccountsRepository } from '../../src/accounts/accounts.repository.js';
import { AuditService } from '../../src/audit/audit.service.js';
import { actorOf, isOperator, type Actor, type Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import type { Db } from '../../src/database/sql.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { defineJob, JobHandler, jobIdPart } from '../../src/jobs/jobs.js';
import { JobsService } from '../../src/jobs/jobs.service.js';
import { DEFAULT_INVOICE_GRACE_MINUTES, type PlanVersionTerms } from '../../tiers/plans/plan-terms.js';
import { lastInstantBefore } from '../../tiers/plans/version-in-force.js';
import { billingPeriod, type BillingPeriod } from '../../tiers/subscriptions/billing-period.js';
import { SubscriptionsService } from '../../tiers/subscriptions/subscriptions.service.js';
import { BillingError, BillingErrorCode as Code } from '../billing.errors.js';
import { StripeSync, type StripeSyncView } from '../stripe/stripe-sync.service.js';
import type { InvoicePaidHandler, StripeInvoiceEvent } from '../stripe/stripe-ports.js';
import { AfterCommit } from '../webhooks/after-commit.js';
import { WebhookEvents } from '../webhooks/webhook-events.js';
import { INVOICE_CREDITS, type InvoiceCredits } from './invoice-credits.port.js';
import {
  adjustmentLines,
  billedByCharge,
  invoiceNumber,
  invoiceTotal,
  periodLines,
  periodsToClose,
  usageDelta,
  type LineDraft,
  type TopupBought,
  type UsageRow,
} from './invoice-math.js';
import { InvoicesRepository, type InvoiceRow, type InvoiceStatus, type LineRow } from './invoices.repository.js';
import { usageBehind } from './invoice-view.js';

export const scheduleInvoices = defineJob<{ period: string }>('invoices.schedule');
export const closeInvoicePeriod = defineJob<{ account: string; period_start: string }>('invoices.close');
export const finalizeInvoice = defineJob<{ id: string }>('invoices.finalize');


export interface Computed {
  lines: LineDraft[];
  usage: UsageRow[];
  total: string;
}

export interface InvoiceLineView {
  n: number;
  kind: string;
  charge: string | null;
  tier: string | null;
  period_start: string;
  description: string;
  amount: string;
  detail: Record<string, string | number | boolean | null>;
  usage: Omit<UsageRow, 'period_start'>[];
}

export interface InvoiceSummary {
  id: string;
  account: string;
  number: string;
  status: InvoiceStatus;
  currency: string;
  period_start: string;
  period_end: string;
  plan_id: string;
  plan_version: number;
  total: string;
  created_at: string;
  grace_until: string;
  finalized_at: string | null;
  paid_at: string | null;
  amount_paid: string | null;
  voided_at: string | null;
  void_reason: string | null;
}

export interface InvoiceView extends InvoiceSummary {
  lines: InvoiceLineView[];
  usage: UsageRow[];
  stripe: (Omit<StripeSyncView, 'next_attempt_at'> & { next_attempt_at: string | null }) | null;
}

export interface InvoicePreview {
  account: string;
  currency: string;
  period_start: string;
  period_end: string;
  as_of: string;
  lines: InvoiceLineView[];
  usage: UsageRow[];
  total: string;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function summaryOf(row: InvoiceRow): InvoiceSummary {
  return {
    id: row.id,
    account: row.account_id,
    number: row.number,
    status: row.status,
    currency: row.currency,
    period_start: row.period_start.toISOString(),
    period_end: row.period_end.toISOString(),
    plan_id: row.plan_id,
    plan_version: row.plan_version,
    total: row.total,
    created_at: row.created_at.toISOString(),
    grace_until: row.grace_until.toISOString(),
    finalized_at: iso(row.finalized_at),
    paid_at: iso(row.paid_at),
    amount_paid: row.amount_paid,
    voided_at: iso(row.voided_at),
    void_reason: row.void_reason,
  };
}

/** What the audit log keeps of an invoice before and after a change by hand: its state and its money. */
function auditable(row: InvoiceRow) {
  return {
    number: row.number,
    period_start: row.period_start.toISOString(),
    period_end: row.period_end.toISOString(),
    status: row.status,
    currency: row.currency,
    total: row.total,
    amount_paid: row.amount_paid,
    void_reason: row.void_reason,
  };
}

function lineViews(lines: readonly (LineDraft & { n?: number })[], usage: readonly UsageRow[]): InvoiceLineView[] {
  return lines.map((l, i) => ({
    n: l.n ?? i,
    kind: l.kind,
    charge: l.charge,
    tier: l.tier,
    period_start: l.period_start,
    description: l.description,
    amount: l.amount,
    detail: l.detail,
    usage: usageBehind(l, usage).map(({ period_start: _p, ...rest }) => rest),
  }));
}

@Injectable()
export class InvoicesService implements InvoicePaidHandler, OnModuleInit {
  private readonly logger = new Logger('invoices');

  constructor(
    private readonly repository: InvoicesRepository,
    private readonly accounts: AccountsRepository,
    private readonly subscriptions: SubscriptionsService,
    private readonly transactions: TransactionRunner,
    private readonly stripe: StripeSync,
    private readonly webhooks: WebhookEvents,
    private readonly jobs: JobsService,
    private readonly afterCommit: AfterCommit,
    private readonly audit: AuditService,
    @Inject(INVOICE_CREDITS) private readonly credits: InvoiceCredits,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.jobs.repeat(scheduleInvoices, 'hour');
  }

  // ---- Reading ------------------------------------------------------------------------------------

  /** Finance sees its own account; operators any (an unknown account is a 404 either way). */
  private async checkAccount(p: Principal, accountId: string): Promise<void> {
    if (!isOperator(p) && p.accountId !== accountId) throw new BillingError(Code.AccountNotFound, `Account "${accountId}" was not found.`);
    if (isOperator(p) && !(await this.accounts.findAccount(accountId))) throw new BillingError(Code.AccountNotFound, `Account "${accountId}" was not found.`);
  }

  async list(p: Principal, accountId: string, before: Date | null, limit: number): Promise<{ data: InvoiceSummary[]; next_before: string | null }> {
    await this.checkAccount(p, accountId);
    const rows = await this.repository.list(accountId, before, limit + 1);
    const page = rows.slice(0, limit);
    return { data: page.map(summaryOf), next_before: rows.length > limit ? page[page.length - 1]!.period_start.toISOString() : null };
  }

  async get(p: Principal, id: string): Promise<InvoiceView> {
    const row = await this.repository.find(id);
    if (row === null || (!isOperator(p) && p.accountId !== row.account_id)) throw new BillingError(Code.InvoiceNotFound, `Invoice "${id}" was not found.`);
    return this.view(row);
  }

  async view(row: InvoiceRow): Promise<InvoiceView> {
    const [lines, usage, stripe] = await Promise.all([
      this.repository.lines(row.id),
      this.repository.usage(row.id),
      this.stripe.status('invoice', row.account_id, row.id),
    ]);
    return { ...summaryOf(row), lines: lineViews(lines, usage), usage, stripe: stripe && { ...stripe, next_attempt_at: iso(stripe.next_attempt_at) } };
  }

  /**
   * The open period's invoice as it would be if closed now; nothing is written. On the terms in force now
   * (the latest version for a subscription that follows it): what the close will bill unless another
   * version is published before the period ends.
   */
  async upcoming(p: Principal, accountId: string): Promise<InvoicePreview> {
    await this.checkAccount(p, accountId);
    const [account, billing] = await Promise.all([this.accounts.findAccount(accountId), this.subscriptions.billingContext(accountId)]);
    if (account === null || billing === null) {
      const ended = account === null ? null : (await this.subscriptions.periodsOf(accountId))?.ends_at;
      const why = ended ? `'s subscription ended on ${ended.toISOString().slice(0, 10)}: no period is open` : ' has no subscription';
      throw new BillingError(Code.NoSubscription, `Account "${accountId}"${why}.`);
    }
    const now = this.clock.now();
    const period = billingPeriod(billing.anchor_day, now);
    const topups = await this.credits.topupsBought(accountId, period.start, period.end);
    const computed = await this.compute(this.repository.db, accountId, period, { terms: billing.terms, paid_enterprise: account.paid_enterprise }, null, topups);
    const plan = billing;
    return {
      account: accountId,
      currency: plan.terms.currency,
      period_start: period.start.toISOString(),
      period_end: period.end.toISOString(),
      as_of: now.toISOString(),
      lines: lineViews(computed.lines, computed.usage),
      usage: computed.usage,
      total: computed.total,
    };
  }

  // ---- Computing ----------------------------------------------------------------------------------

  /**
   * The lines and usage of an invoice for `period`: its own period's lines, and adjustment lines for each
   * earlier invoiced period whose usage changed since it was billed. `self` is the invoice being
   * recomputed (its own rows are not "already billed").
   */
  private async compute(
    db: Db,
    accountId: string,
    period: BillingPeriod,
    pt: { terms: PlanVersionTerms; paid_enterprise: boolean },
    self: string | null,
    topups: readonly TopupBought[],
  ): Promise<Computed> {
    const earlier = (await this.repository.ofAccount(accountId, db)).filter((i) => i.period_start.getTime() < period.start.getTime());
    const periods = [...earlier.map((i) => ({ start: i.period_start, end: i.period_end })), period];
    const starts = periods.map((p) => p.start);
    const [current, billed, charges, burned] = await Promise.all([
      this.repository.periodUsage(db, accountId, periods),
      this.repository.billedUsage(db, accountId, starts, self),
      this.repository.billedCharges(db, accountId, earlier.map((i) => i.period_start), self),
      this.credits.creditsBurned(db, accountId, periods),
    ]);
    const usage = usageDelta(current, billed);
    const key = period.start.toISOString();
    const lines = periodLines(pt, current.filter((r) => r.period_start === key), { start: key, planName: pt.terms.name }, topups, burned.get(key));
    for (const inv of earlier) {
      const start = inv.period_start.toISOString();
      if (!usage.some((u) => u.period_start === start)) continue;
      const billedHere = billedByCharge(charges.filter((c) => c.period_start.getTime() === inv.period_start.getTime()));
      lines.push(
        ...adjustmentLines(
          { terms: inv.terms, paid_enterprise: inv.paid_enterprise },
          current.filter((r) => r.period_start === start),
          { start: inv.period_start, end: inv.period_end },
          billedHere,
          burned.get(start),
        ),
      );
    }
    return { lines, usage, total: invoiceTotal(lines, pt.terms.currency) };
  }

  // ---- Closing ------------------------------------------------------------------------------------

  /**
   * POST .../invoices/close: closes every ended period of the account without an invoice, oldest first,
   * and answers the newest invoice (the existing one when nothing ended since: a period is never closed
   * twice). `finalize` skips the grace period.
   */
  /** Closes what ended; `closed`: whether a period was closed now (else the newest invoice is answered). */
  async closeByHand(p: Principal, accountId: string, finalize: boolean): Promise<{ invoice: InvoiceView; closed: boolean }> {
    await this.checkAccount(p, accountId);
    const [sub] = await this.repository.subscriptionsToClose(accountId);
    if (sub === undefined) throw new BillingError(Code.NoSubscription, `Account "${accountId}" has no subscription.`);
    const periods = periodsToClose(sub.billing_anchor_day, sub.start_date, this.clock.now(), sub.last_end, sub.ends_at);
    let last: InvoiceRow | null = null;
    const by = actorOf(p);
    for (const period of periods) last = await this.closePeriod(accountId, period.start, finalize, by);
    if (last === null) {
      // Nothing ended since: the newest invoice is answered (finalized now when asked), as a repeated close would.
      const newest = (await this.repository.ofAccount(accountId)).at(-1);
      if (newest === undefined) {
        const current = billingPeriod(sub.billing_anchor_day, this.clock.now());
        throw new BillingError(Code.NothingToClose, `No billing period of account "${accountId}" has ended yet; the current one ends ${current.end.toISOString()}.`);
      }
      last = newest.status === 'draft' && finalize ? await this.finalizeById(newest.id, true, by) : newest;
      return { invoice: await this.view(last), closed: false };
    }
    return { invoice: await this.view(last), closed: true };
  }

  /**
   * Closes one period into a draft (or, with `finalize`, a finalized invoice). A period is never closed
   * twice: the existing invoice is answered. Earlier drafts are finalized first, so adjustments always
   * compare with final figures.
   *
   * The period is billed on the terms in force at its last instant, not on those of the close's own time:
   * a plan version published after the period ended (before the hourly close, or a late close by hand)
   * bills the next period, never this one. The pin and the overrides are not historised (see
   * SubscriptionsService.termsInForceAt): they are read as they are at the close.
   *
   * Closed by a person (`by`), the new invoice is audited (`invoice.close`) in the same transaction.
   */
  async closePeriod(accountId: string, periodStart: Date, finalize = false, by: Actor | null = null): Promise<InvoiceRow | null> {
    // Not billingContext: a cancelled subscription's last period is closed after the subscription ended.
    const sub = await this.subscriptions.periodsOf(accountId);
    if (sub === null) return null;
    const period = billingPeriod(sub.anchor_day, periodStart);
    if (period.start.getTime() !== periodStart.getTime()) return null;
    if (sub.ends_at !== null && period.start.getTime() >= sub.ends_at.getTime()) return null;
    const plan = await this.subscriptions.termsInForceAt(accountId, lastInstantBefore(period.end));
    if (plan === null) return null;
    const topups = await this.credits.topupsBought(accountId, period.start, period.end);
    const earlierTopups = await this.draftTopups(accountId);
    const row = await this.transactions.run(async (tx) => {
      const account = await this.accounts.findAccount(accountId, tx, true);
      if (account === null) return null;
      const existing = await this.repository.ofAccount(accountId, tx);
      const same = existing.find((i) => i.period_start.getTime() === period.start.getTime());
      if (same) return same;
      for (const draft of existing.filter((i) => i.status === 'draft')) await this.finalizeIn(tx, draft, earlierTopups.get(draft.id) ?? []);
      const now = this.clock.now();
      const pt = { terms: plan.terms, paid_enterprise: account.paid_enterprise };
      const invoice: InvoiceRow = {
        id: `inv_${randomBytes(12).toString('hex')}`,
        account_id: accountId,
        number: invoiceNumber(accountId, period.start),
        period_start: period.start,
        period_end: period.end,
        currency: plan.terms.currency,
        status: 'draft',
        plan_id: plan.plan_id,
        plan_version: plan.plan_version,
        terms: plan.terms,
        paid_enterprise: account.paid_enterprise,
        total: '0',
        created_at: now,
        grace_until: new Date(now.getTime() + (plan.terms.invoice_grace_minutes ?? DEFAULT_INVOICE_GRACE_MINUTES) * 60_000),
        finalized_at: null,
        paid_at: null,
        amount_paid: null,
        voided_at: null,
        void_reason: null,
      };
      await this.repository.insert(tx, invoice);
      const computed = await this.compute(tx, accountId, period, pt, invoice.id, topups);
      await this.repository.replaceContents(tx, invoice, computed.lines, computed.usage, computed.total);
      let closed: InvoiceRow;
      if (finalize) closed = await this.finalizeIn(tx, { ...invoice, total: computed.total }, topups);
      else {
        this.queueFinalize(tx, invoice.id, invoice.grace_until);
        closed = { ...invoice, total: computed.total };
      }
      if (by !== null) await this.recordByHand(tx, by, 'invoice.close', null, closed);
      return closed;
    });
    return row;
  }

  private async draftTopups(accountId: string): Promise<Map<string, TopupBought[]>> {
    const out = new Map<string, TopupBought[]>();
    for (const d of (await this.repository.ofAccount(accountId)).filter((i) => i.status === 'draft')) {
      out.set(d.id, await this.credits.topupsBought(accountId, d.period_start, d.period_end));
    }
    return out;
  }

  private queueFinalize(tx: Tx, id: string, runAt: Date): void {
    this.afterCommit.schedule(tx, () => this.jobs.enqueue(finalizeInvoice, { id }, { jobId: `invoices.finalize.${jobIdPart(id)}.grace`, runAt }));
  }

  /**
   * Finalizes a draft now (its grace period over, or by hand). A finalized invoice is answered as it is.
   * Finalized by a person (`by`), the change is audited in the same transaction.
   */
  async finalizeById(id: string, early = false, by: Actor | null = null): Promise<InvoiceRow> {
    const found = await this.repository.find(id);
    if (found === null) throw new BillingError(Code.InvoiceNotFound, `Invoice "${id}" was not found.`);
    const topups = await this.credits.topupsBought(found.account_id, found.period_start, found.period_end);
    return this.transactions.run(async (tx) => {
      await this.accounts.findAccount(found.account_id, tx, true);
      const draft = await this.repository.find(id, tx, true);
      if (draft === null) throw new BillingError(Code.InvoiceNotFound, `Invoice "${id}" was not found.`);
      if (draft.status !== 'draft') return draft;
      if (!early && draft.grace_until.getTime() > this.clock.now().getTime()) return draft;
      const finalized = await this.finalizeIn(tx, draft, topups);
      if (by !== null) await this.recordByHand(tx, by, 'invoice.finalize', draft, finalized);
      return finalized;
    });
  }

  /**
   * Recomputes a draft (events that arrived during the grace period count), makes it final, tells
   * metering the period is closed, books its credits, queues its Stripe mirror and announces it.
   */
  private async finalizeIn(tx: Tx, draft: InvoiceRow, topups: readonly TopupBought[]): Promise<InvoiceRow> {
    const now = this.clock.now();
    const period = { start: draft.period_start, end: draft.period_end };
    const computed = await this.compute(tx, draft.account_id, period, { terms: draft.terms, paid_enterprise: draft.paid_enterprise }, draft.id, topups);
    await this.repository.replaceContents(tx, draft, computed.lines, computed.usage, computed.total);
    const row = await this.repository.setStatus(tx, draft.id, 'finalized', now);
    await this.repository.markPeriodClosed(tx, draft.account_id, draft.period_start, draft.period_end, now);
    for (const line of computed.lines) {
      const entry = {
        accountId: row.account_id,
        invoiceId: row.id,
        currency: row.currency,
        amount: line.amount,
        periodStart: row.period_start,
        periodEnd: row.period_end,
        description: line.description,
      };
      if (line.kind === 'ineffective_credit') await this.credits.bookIneffectiveCredit(tx, entry);
      else if (line.kind === 'adjustment' && line.charge === 'ineffective_credit') await this.credits.bookAdjustment(tx, { ...entry, adjustedPeriodStart: new Date(line.period_start) });
    }
    await this.stripe.queueInvoice(tx, {
      id: row.id,
      accountId: row.account_id,
      currency: row.currency,
      number: row.number,
      periodStart: row.period_start,
      periodEnd: row.period_end,
      lines: computed.lines.map((l) => ({ description: l.description, amount: l.amount })),
      total: computed.total,
    });
    await this.webhooks.emit(tx, row.account_id, 'invoice.finalized', {
      invoice: row.id,
      number: row.number,
      period_start: row.period_start.toISOString(),
      period_end: row.period_end.toISOString(),
      currency: row.currency,
      total: computed.total,
      lines: computed.lines.length,
    });
    return row;
  }

  // ---- Paid and void ------------------------------------------------------------------------------

  /** InvoicePaidHandler: Stripe says the mirror is paid. */
  async markPaid(tx: Tx, event: StripeInvoiceEvent & { amountPaid: string; currency: string }): Promise<void> {
    const row = await this.repository.find(event.localInvoiceId, tx, true);
    // Stripe's word about an invoice voided here meanwhile is logged, never refused: a refusal would only
    // make Stripe deliver the event again and again.
    if (row === null || row.status === 'void' || row.status === 'draft') {
      this.logger.warn({ account: event.accountId, invoice: event.localInvoiceId, status: row?.status ?? null }, 'Stripe says an invoice is paid that is not finalized here');
      return;
    }
    // A mirror is made in the invoice's currency; Stripe naming another is said, and the amount kept as paid.
    if (event.currency.toUpperCase() !== row.currency) {
      this.logger.warn({ account: event.accountId, invoice: row.id, currency: event.currency, expected: row.currency }, 'Stripe says an invoice was paid in another currency');
    }
    await this.pay(tx, event.localInvoiceId, event.at, event.amountPaid);
  }

  /** InvoicePaidHandler: the Stripe invoice was voided (after ours, or by hand in Stripe: then ours follows). */
  async voided(tx: Tx, event: StripeInvoiceEvent): Promise<void> {
    const row = await this.repository.find(event.localInvoiceId, tx, true);
    if (row === null || row.status !== 'finalized') return;
    await this.repository.setStatus(tx, row.id, 'void', this.clock.now(), { voidReason: 'voided in Stripe' });
    await this.credits.restoreInvoiceCredits(tx, { accountId: row.account_id, invoiceId: row.id, periodStart: row.period_start, periodEnd: row.period_end });
  }

  /** Marks a finalized invoice paid by hand (a transfer received), audited; a paid one stays as it is. */
  async payByHand(p: Principal, id: string): Promise<InvoiceView> {
    const found = await this.get(p, id);
    await this.transactions.run(async (tx) => {
      const change = await this.pay(tx, found.id, this.clock.now(), null);
      if (change !== null) await this.recordByHand(tx, actorOf(p), 'invoice.pay', change.before, change.after);
    });
    return this.view((await this.repository.find(id))!);
  }

  /**
   * Marks a finalized invoice paid (by hand: its total; or Stripe's word: the amount Stripe says, a decimal in
   * the invoice's currency); null when it already was (nothing changed).
   */
  private async pay(tx: Tx, id: string, at: Date, amountPaid: string | null): Promise<{ before: InvoiceRow; after: InvoiceRow } | null> {
    const row = await this.repository.find(id, tx, true);
    if (row === null) return null;
    if (row.status === 'paid') return null;
    if (row.status !== 'finalized') {
      throw new BillingError(Code.InvoiceNotPayable, `Invoice "${id}" is ${row.status}; only a finalized invoice can be paid.`);
    }
    const paid = await this.repository.setStatus(tx, id, 'paid', at, { amountPaid: amountPaid ?? row.total });
    await this.webhooks.emit(tx, row.account_id, 'invoice.paid', {
      invoice: row.id,
      number: row.number,
      currency: row.currency,
      total: row.total,
      paid_at: paid.paid_at!.toISOString(),
    });
    return { before: row, after: paid };
  }

  /** Voids a finalized invoice by hand, audited: the credits it used are restored and its Stripe mirror is voided. */
  async voidInvoice(p: Principal, id: string, reason: string | null): Promise<InvoiceView> {
    const found = await this.get(p, id);
    await this.transactions.run(async (tx) => {
      const row = await this.repository.find(found.id, tx, true);
      if (row === null) throw new BillingError(Code.InvoiceNotFound, `Invoice "${id}" was not found.`);
      if (row.status === 'void') return;
      if (row.status !== 'finalized') {
        throw new BillingError(Code.InvoiceNotVoidable, `Invoice "${id}" is ${row.status}; only a finalized, unpaid invoice can be voided.`);
      }
      const voided = await this.repository.setStatus(tx, id, 'void', this.clock.now(), { voidReason: reason });
      await this.credits.restoreInvoiceCredits(tx, { accountId: row.account_id, invoiceId: row.id, periodStart: row.period_start, periodEnd: row.period_end });
      await this.stripe.requestVoid(tx, row.account_id, row.id);
      await this.recordByHand(tx, actorOf(p), 'invoice.void', row, voided);
    });
    return this.view((await this.repository.find(id))!);
  }

  /** Finalizes a draft by hand before its grace period ends, audited; a finalized invoice is answered as it is. */
  async finalizeByHand(p: Principal, id: string): Promise<InvoiceView> {
    const found = await this.get(p, id);
    return this.view(await this.finalizeById(found.id, true, actorOf(p)));
  }

  /**
   * The audit row of a change a person made to an invoice: who, and its status and money before and after
   * (none before: an invoice a close by hand made).
   */
  private recordByHand(tx: Tx, by: Actor, action: 'invoice.close' | 'invoice.finalize' | 'invoice.pay' | 'invoice.void', before: InvoiceRow | null, after: InvoiceRow): Promise<unknown> {
    return this.audit.record(tx, by, { action, entityType: 'invoice', entityId: after.id, accountId: after.account_id, before: before && auditable(before), after: auditable(after) });
  }

  // ---- Jobs ---------------------------------------------------------------------------------------

  /** Hourly: queues the close of every ended period (one job id per account and period) and the finalization of drafts past grace. */
  @JobHandler(scheduleInvoices)
  async schedule(): Promise<void> {
    const now = this.clock.now();
    for (const sub of await this.repository.subscriptionsToClose()) {
      for (const period of periodsToClose(sub.billing_anchor_day, sub.start_date, now, sub.last_end, sub.ends_at)) {
        const day = period.start.toISOString().slice(0, 10);
        await this.jobs.enqueue(closeInvoicePeriod, { account: sub.account_id, period_start: period.start.toISOString() }, { jobId: `invoices.close.${jobIdPart(sub.account_id)}.${day}` });
      }
    }
    for (const { id } of await this.repository.draftsDue(now, 500)) {
      await this.jobs.enqueue(finalizeInvoice, { id }, { jobId: `invoices.finalize.${jobIdPart(id)}.${now.toISOString().slice(0, 13)}` });
    }
  }

  @JobHandler(closeInvoicePeriod)
  async closeJob(job: { account: string; period_start: string }): Promise<void> {
    const row = await this.closePeriod(job.account, new Date(job.period_start));
    if (row !== null) this.logger.log(`closed ${job.account} ${job.period_start} as ${row.id} (${row.status})`);
  }

  @JobHandler(finalizeInvoice)
  async finalizeJob(job: { id: string }): Promise<void> {
    await this.finalizeById(job.id);
  }
}

export type { LineRow };
