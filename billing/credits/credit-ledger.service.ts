// The credit ledger's writes, each inside the caller's transaction: grant, book usage, expire, adjust,
// restore. This is also the API other billing code uses (invoices: ineffective-spend credits, adjustments,
// restoring a voided invoice's credits, top-ups bought in a period). Each write locks the account's ledger
// first, reads the grants' remainders from the entries, lets the pure core (ledger.ts) decide the
// movements, and books them; after the caller's commit the `credits` counter is refreshed, so a
// block-policy authorization sees the new balance.
//
// For billing/invoices (all take the caller's `tx`; amounts are decimal strings; nothing is changed when
// they throw):
//   bookIneffectiveCredit(tx, { account, invoiceId, amount, at })                   issued and applied to the invoice, once per invoice
//   bookInvoiceCreditAdjustment(tx, { account, invoiceId, lineAmount, reason, at }) the same for an adjustment line (signed)
//   bookAdjustment(tx, { account, amount, reason, at, invoiceId? })                 signed: + grants, - takes back
//   restoreInvoiceCredits(tx, { account, invoiceId, periodStart, periodEnd, at })   once per invoice: unapplies its credits too
//   topupsBought(tx, account, from, to)                                             top-ups ordered in [from, to)
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AccountsRepository } from '../../src/accounts/accounts.repository.js';
import type { Tx } from '../../src/database/data-source.js';
import type { Db } from '../../src/database/sql.js';
import { Dec, parseDecimal } from '../../tiers/pricing/decimal.js';
import { PricingInputError } from '../../tiers/pricing/pricing-input-error.js';
import { billingPeriod } from '../../tiers/subscriptions/billing-period.js';
import { COUNTERS_ENGINE, levels, type CountersEngine } from '../authorizations/counters.js';
import { BillingError, BillingErrorCode } from '../billing.errors.js';
import { AfterCommit } from '../webhooks/after-commit.js';
import { WebhookEvents } from '../webhooks/webhook-events.js';
import { CreditsRepository, grantState, type GrantRow, type NewGrant, type TopupRow } from './credits.repository.js';
import {
  allocateBurn,
  allowanceAdjustment,
  allowancesUsedUp,
  applyMovements,
  burnInForce,
  burnMovements,
  coversWindow,
  creditsLevel,
  DAY_MS,
  dueExpiries,
  endGrants,
  giveBackMovements,
  grantMovement,
  invoiceCreditMovements,
  isDayStart,
  ledgerAccounts,
  paysLateUsage,
  PRIORITY,
  reopenMovement,
  restoreMovements,
  endedEarly,
  supersededAllowances,
  unapplyMovements,
  type AllowanceGrant,
  type GrantKind,
  type GrantState,
  type Movement,
} from './ledger.js';

/** Credits are exact to this many places (the event costs they pay for have up to 18). */
export const CREDIT_DECIMAL_PLACES = 18;

export function newGrantId(): string {
  return `cg_${randomBytes(8).toString('hex')}`;
}

/** A decimal amount from a request: a clear error naming the field, never a 5xx. */
export function creditAmount(raw: unknown, field: string, options: { signed?: boolean } = {}): Dec {
  let value: Dec;
  try {
    value = parseDecimal(raw, field, { maxDecimalPlaces: CREDIT_DECIMAL_PLACES, allowNegative: options.signed ?? false });
  } catch (error) {
    if (error instanceof PricingInputError) throw new BillingError(BillingErrorCode.InvalidCreditAmount, `${error.message}.`, { field });
    throw error;
  }
  if (value.isZero()) throw new BillingError(BillingErrorCode.InvalidCreditAmount, `${field} must not be zero.`, { field });
  if (value.abs().gt('1e15')) throw new BillingError(BillingErrorCode.InvalidCreditAmount, `${field} is larger than any credit this service books.`, { field });
  return value;
}

/** A period allowance not granted yet (CreditLedger.pendingAllowance). */
export interface PendingAllowance {
  amount: Dec;
  periodStart: Date;
  periodEnd: Date;
  /**
   * Allowance grants of another period still in force (the billing anchor changed mid-period): granting
   * this allowance ends them (CreditLedger.settle), so the figures leave them out already.
   */
  supersedes: string[];
  /**
   * Allowance grants of another anchor's periods, in force or not, that paid for usage (the anchor moved):
   * the job releases them as it grants this one (CreditLedger.releaseOffGrid) and books the days they paid
   * again, those of this period on this allowance, so the figures count that as this allowance's spend already.
   */
  released: string[];
}

/** A billing period's included allowance, as its terms give it. */
export interface PeriodAllowance {
  amount: string;
  periodStart: Date;
  periodEnd: Date;
}

export interface SettleResult {
  allowanceGranted: string | null;
  /**
   * What the allowances put in force again got back (the anchor changed away from their period and back: the
   * current period's, or the one that just ended, not invoiced yet; each holds what it held when it was ended), or null.
   */
  allowanceReopened: string | null;
  /** The current period's allowance as the terms now give it, when they changed since it was granted. */
  allowanceChanged: string | null;
  /**
   * The period that just ended: its allowance as the terms in force at its end give it, when they changed
   * after the last run in it (the first run after its end follows them, before its grant expires).
   */
  endingAllowanceChanged: string | null;
  /**
   * How many allowances of periods the billing anchor no longer makes the run released (it moved): each
   * one in force ended, and what each paid booked again on the new anchor's periods.
   */
  allowancesReleased: number;
  /** What grants paid for usage in the run: burns less what was given back (a period booked again, a correction). */
  burned: string;
  /** Usage no grant covers, booked in the run, less what was uncovered before and is no longer. */
  uncovered: string;
  expired: string;
}

/**
 * Whether a settle run changed what the `credits` level holds, so its counter must read the ledger again:
 * a grant or expiry changes the limit; booking usage no grant covers (uncovered, also when a correction
 * gives some back) lowers the spend, which booking burns does not (creditsLevel), but a burn is refreshed
 * too as a check.
 */
/** Live allowance grants, as the pure core reads them. */
function allowanceGrants(rows: readonly GrantRow[]): (AllowanceGrant & { row: GrantRow })[] {
  return rows
    .filter((g) => g.kind === 'allowance' && g.period_start !== null)
    .map((g) => ({ id: g.id, periodStart: g.period_start!, grantedAt: g.granted_at, expiresAt: g.expires_at, row: g }));
}

export function settleChangedLevel(result: SettleResult): boolean {
  return (
    result.allowanceGranted !== null ||
    result.allowanceReopened !== null ||
    result.allowanceChanged !== null ||
    result.endingAllowanceChanged !== null ||
    result.allowancesReleased > 0 ||
    !new Dec(result.burned).isZero() ||
    !new Dec(result.uncovered).isZero() ||
    !new Dec(result.expired).isZero()
  );
}

@Injectable()
export class CreditLedger {
  private readonly logger = new Logger('credits');

  constructor(
    private readonly repository: CreditsRepository,
    private readonly accounts: AccountsRepository,
    private readonly afterCommit: AfterCommit,
    @Inject(COUNTERS_ENGINE) private readonly engine: CountersEngine,
    private readonly webhooks: WebhookEvents,
  ) {}

  // ---- The invoices API ------------------------------------------------------------------------------

  /** Takes the account's ledger lock, refusing an account that does not exist. */
  private async lockKnown(tx: Tx, account: string): Promise<void> {
    if (!(await this.accounts.findAccount(account, tx))) throw new BillingError(BillingErrorCode.AccountNotFound, `Account "${account}" was not found.`);
    await this.repository.lock(tx, account);
  }

  /**
   * The ineffective-spend credit of an invoice. The invoice pays it out as its negative line, so the ledger
   * books it issued and applied to that invoice in one step (ledger.ts, invoiceCreditMovements): a grant
   * that is never in force and ends at zero, so the balance usage burns does not grow. Once per invoice: the
   * same amount again returns the first grant; another amount is refused.
   */
  async bookIneffectiveCredit(tx: Tx, input: { account: string; invoiceId: string; amount: string; at: Date }): Promise<GrantRow> {
    const amount = creditAmount(input.amount, 'amount');
    await this.lockKnown(tx, input.account);
    const existing = await this.repository.ineffectiveCreditGrant(tx, input.account, input.invoiceId);
    if (existing) {
      if (!new Dec(existing.amount).eq(amount)) {
        throw new BillingError(BillingErrorCode.CreditGrantConflict, `Invoice "${input.invoiceId}" already has an ineffective-spend credit of ${existing.amount}.`, { field: 'invoice_id' });
      }
      return existing;
    }
    return this.applyToInvoice(tx, input.account, 'ineffective_credit', input.invoiceId, amount.negated(), `Ineffective-spend credit of invoice ${input.invoiceId}`, input.at);
  }

  /**
   * An adjustment line of an invoice that changes an earlier period's ineffective-spend credit, booked like
   * the credit itself: `lineAmount` negative (more credit) is issued and applied to the invoice, positive
   * (less credit) is un-applied and taken back. Either way the balance usage burns is unchanged: the
   * invoice line is where the money moves.
   */
  async bookInvoiceCreditAdjustment(tx: Tx, input: { account: string; invoiceId: string; lineAmount: string; reason: string; at: Date }): Promise<GrantRow> {
    const amount = creditAmount(input.lineAmount, 'amount', { signed: true });
    await this.lockKnown(tx, input.account);
    return this.applyToInvoice(tx, input.account, 'adjustment', input.invoiceId, amount, input.reason, input.at);
  }

  /**
   * The grant of an invoice credit and its movements. The grant is marked expired as it is granted (its
   * expiry a millisecond later, the least the table allows), so nothing ever burns from it or counts it.
   */
  private async applyToInvoice(tx: Tx, account: string, kind: 'ineffective_credit' | 'adjustment', invoiceId: string, lineAmount: Dec, reason: string, at: Date): Promise<GrantRow> {
    const id = newGrantId();
    await this.repository.insertGrant(
      tx,
      account,
      { id, kind, amount: lineAmount.abs().toFixed(), priority: PRIORITY[kind], grantedAt: at, expiresAt: new Date(at.getTime() + 1), invoiceId, reason },
      at,
    );
    await this.repository.book(tx, account, invoiceCreditMovements(kind, id, lineAmount), { at, invoiceId, memo: reason });
    await this.repository.markExpired(tx, account, [id], at);
    return (await this.repository.findGrant(tx, account, id))!;
  }

  /**
   * An adjustment: a positive amount is a grant (priority 20, never expires unless `expiresAt`); a
   * negative one takes credit back from the live grants in burn order, and is refused when they hold
   * less than that. Returns the grant made, or the grants taken from.
   */
  async bookAdjustment(
    tx: Tx,
    input: { account: string; amount: string; reason: string; at: Date; invoiceId?: string | null; expiresAt?: Date | null; createdBy?: string | null },
  ): Promise<{ grant: GrantRow | null; taken: { grant_id: string; amount: string }[] }> {
    const amount = creditAmount(input.amount, 'amount', { signed: true });
    await this.lockKnown(tx, input.account);
    if (amount.gt(0)) {
      const grant = await this.grant(tx, input.account, {
        id: newGrantId(),
        kind: 'adjustment',
        amount: amount.toFixed(),
        priority: PRIORITY.adjustment,
        grantedAt: input.at,
        expiresAt: input.expiresAt ?? null,
        invoiceId: input.invoiceId ?? null,
        reason: input.reason,
        createdBy: input.createdBy ?? null,
      });
      return { grant, taken: [] };
    }
    const live = (await this.repository.liveGrants(tx, input.account)).map(grantState);
    const inForce = (g: { grantedAt: Date; expiresAt: Date | null }) => coversWindow(g, { from: input.at, to: new Date(input.at.getTime() + 1) });
    const { allocations, uncovered } = allocateBurn(live, amount.negated(), inForce);
    if (uncovered.gt(0)) {
      const available = amount.negated().minus(uncovered);
      throw new BillingError(BillingErrorCode.CreditsInsufficient, `The account's credits hold ${available.toFixed()}; an adjustment of ${amount.toFixed()} would take more.`, { field: 'amount' });
    }
    await this.repository.book(tx, input.account, burnMovements(allocations, 'adjustment'), { at: input.at, invoiceId: input.invoiceId ?? null, memo: input.reason });
    this.refreshAfter(tx, input.account, input.at);
    return { grant: null, taken: allocations.map((a) => ({ grant_id: a.grantId, amount: a.amount.toFixed() })) };
  }

  /**
   * A voided invoice gives back the credits its period's usage burned (usage days in [periodStart,
   * periodEnd)), newest burn first, into grants that have not expired (giving back never extends a
   * grant's life). Once per invoice: a second call returns the first answer.
   */
  async restoreInvoiceCredits(
    tx: Tx,
    input: { account: string; invoiceId: string; periodStart: Date; periodEnd: Date; at: Date },
  ): Promise<{ restored: string; already: boolean }> {
    await this.lockKnown(tx, input.account);
    const done = await this.repository.findRestore(tx, input.account, input.invoiceId);
    if (done) return { restored: done.amount, already: true };
    // The invoice's ineffective-spend credits go with it: what it applied goes back where it came from.
    const applied = await this.repository.appliedToInvoice(tx, input.account, input.invoiceId);
    await this.repository.book(
      tx,
      input.account,
      unapplyMovements(applied.map((a) => ({ grantId: a.grant_id, kind: a.kind, net: new Dec(a.net) }))),
      { at: input.at, invoiceId: input.invoiceId, memo: `Invoice ${input.invoiceId} voided` },
    );
    const burns = await this.repository.netBurns(tx, input.account, dayOf(input.periodStart), dayOf(input.periodEnd));
    const live = new Map((await this.repository.liveGrants(tx, input.account)).map((g) => [g.id, g]));
    const total = burns.reduce((sum, b) => sum.plus(b.amount), new Dec(0));
    const isLive = (id: string) => {
      const g = live.get(id);
      return g !== undefined && (g.expires_at === null || g.expires_at.getTime() > input.at.getTime());
    };
    const { movements } = restoreMovements(burns.map((b) => ({ grantId: b.grant_id, amount: new Dec(b.amount) })), total, isLive);
    // Restores keep their usage day out: the burns they undo may span the period; the invoice names them.
    await this.repository.book(tx, input.account, movements, { at: input.at, invoiceId: input.invoiceId, usageDay: dayOf(input.periodStart), memo: `Invoice ${input.invoiceId} voided` });
    const restored = movements.reduce((sum, m) => sum.plus(m.amount), new Dec(0)).toFixed();
    await this.repository.insertRestore(tx, input.account, input.invoiceId, restored, input.at);
    if (movements.length > 0) this.refreshAfter(tx, input.account, input.at);
    return { restored, already: false };
  }

  /**
   * What usage of each period burned from grants other than the period allowance (top-ups, promotional
   * grants, positive adjustments), less what was given back: by period start (ISO), exact. A billing period
   * starts and ends at 00:00 UTC, so it is a whole number of the usage days burns are booked by.
   */
  async creditsBurned(db: Db, account: string, periods: readonly { start: Date; end: Date }[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (periods.length === 0) return out;
    const from = dayOf(new Date(Math.min(...periods.map((p) => p.start.getTime()))));
    const to = dayOf(new Date(Math.max(...periods.map((p) => p.end.getTime()))));
    const days = await this.repository.grantBurnsByDay(db, account, from, to);
    for (const p of periods) {
      const [start, end] = [dayOf(p.start), dayOf(p.end)];
      const sum = days.filter((d) => d.day >= start && d.day < end).reduce((acc, d) => acc.plus(d.amount), new Dec(0));
      out.set(p.start.toISOString(), sum.toFixed());
    }
    return out;
  }

  /** Top-ups ordered in [from, to) (pending payment or granted), oldest first: the invoice's top-up lines. */
  topupsBought(db: Db, account: string, from: Date, to: Date): Promise<TopupRow[]> {
    return this.repository.topupsBought(db, account, from, to);
  }

  // ---- Writes of this module -------------------------------------------------------------------------

  /** A new grant and its movement (issued:<kind> -> grant:<id>). The caller holds the account's lock. */
  async grant(tx: Tx, account: string, grant: NewGrant): Promise<GrantRow> {
    // Usage is booked by UTC day: a grant that expired during one would pay for that day's usage after it
    // (ledger.ts, expiryAfterDays). Requests are checked before they get here; this is a caller's mistake.
    if (grant.expiresAt && !isDayStart(grant.expiresAt)) throw new RangeError(`a grant expires at the start of a UTC day, not ${grant.expiresAt.toISOString()}`);
    await this.repository.insertGrant(tx, account, grant, grant.grantedAt);
    await this.repository.book(tx, account, [grantMovement(grant.kind, grant.id, new Dec(grant.amount))], { at: grant.grantedAt, invoiceId: grant.invoiceId ?? null, memo: grant.reason ?? null });
    this.refreshAfter(tx, account, grant.grantedAt);
    return (await this.repository.findGrant(tx, account, grant.id))!;
  }

  /**
   * A period's allowance grant, from the period's start (so it covers the whole period's usage whenever the
   * job ran) to its end. The caller holds the account's lock.
   */
  private grantAllowance(tx: Tx, account: string, period: PeriodAllowance): Promise<GrantRow> {
    return this.grant(tx, account, {
      id: newGrantId(),
      kind: 'allowance',
      amount: new Dec(period.amount).toFixed(),
      priority: PRIORITY.allowance,
      grantedAt: period.periodStart,
      expiresAt: period.periodEnd,
      periodStart: period.periodStart,
      reason: `Included allowance ${dayOf(period.periodStart)} to ${dayOf(period.periodEnd)}`,
    });
  }

  /** Takes the account's ledger lock (for callers that grant through `grant`). */
  lock(tx: Tx, account: string): Promise<void> {
    return this.repository.lock(tx, account);
  }

  /**
   * Books what changed since the last run, in order: the period allowance (when `allowance` is given and
   * not yet granted) and the end of any allowance of another period still in force (the billing anchor
   * changed mid-period: one allowance at a time); an allowance whose terms changed since it was granted
   * (`ending`, the period that just ended, on the terms in force at its end; `allowance`, the current one),
   * its period's usage given back to be booked again; the metered usage of each UTC day not yet booked
   * (burned from the grants that cover that day, in burn order; what none covers is uncovered), then the
   * expiry of grants due at `now`. `subscribedFrom` is the running subscription's start (null without one): only its
   * own allowances are released when the anchor moved, not an earlier subscription's.
   */
  async settle(tx: Tx, account: string, now: Date, allowance: PeriodAllowance | null, ending: PeriodAllowance | null = null, subscribedFrom: Date | null = null): Promise<SettleResult> {
    await this.repository.lock(tx, account);
    let allowanceGranted: string | null = null;
    let current = allowance ? await this.repository.allowanceGrant(tx, account, allowance.periodStart) : null;
    if (allowance && new Dec(allowance.amount).gt(0) && !current) {
      current = await this.grantAllowance(tx, account, allowance);
      allowanceGranted = allowance.amount;
    }
    // The anchor changed back to this period's after its allowance was ended (moved away and back): the
    // allowance is in force again, to its period's end, holding what it held when it was ended; the other
    // period's allowance ends below. Else the other would stay in force to its own end, and from there to
    // this period's end no allowance would be (an invoice bills the period with one).
    let allowanceReopened: string | null = null;
    if (allowance && current && current.expired_at !== null && endedEarly({ expiresAt: current.expires_at }, allowance.periodEnd) && now.getTime() < allowance.periodEnd.getTime()) {
      allowanceReopened = await this.reopenAllowance(tx, account, current, allowance, now);
      current = (await this.repository.findGrant(tx, account, current.id))!;
    }
    // What the periods booked again gave back (burns, uncovered usage): the run's figures are net of it.
    const unbooked = { burned: new Dec(0), uncovered: new Dec(0) };
    // One period allowance in force at a time, and only the billing periods' own pay: an allowance of a
    // period the anchor no longer makes (it moved) ends, and what it paid is booked again below, on the
    // allowance of the period each day is in now (or grants, or uncovered), as the invoices bill them.
    const gridPeriod = allowance ?? ending;
    const grid = gridPeriod?.periodStart ?? null;
    const ended = gridPeriod === null ? { expired: new Dec(0), grants: 0 } : await this.releaseOffGrid(tx, account, gridPeriod, now, unbooked, subscribedFrom);
    // The period's terms changed the allowance since it was granted: its usage is booked again below.
    // So is a period whose allowance was granted after some of its usage was booked (an account with
    // grants that subscribed mid-period, an allowance raised from nothing), or that took over from another
    // period's allowance (the anchor moved, or moved back): the invoice bills all the period's usage with
    // its allowance, so the ledger books it as if that allowance had been in force from the period's start.
    let allowanceChanged: string | null = null;
    let endingAllowanceChanged: string | null = null;
    let beforeChange: GrantState[] | null = null;
    const snapshot = async () => {
      beforeChange ??= (await this.repository.liveGrants(tx, account)).map(grantState);
    };
    // The period that just ended, on the first run after its end (its grant not expired yet): its terms
    // changed after the last run in it (a version published in its last minute), as its invoice bills it.
    if (ending) {
      let grant = await this.repository.allowanceGrant(tx, account, ending.periodStart);
      // An allowance of nothing raised after the job's last run in the period (or while the job was down):
      // the period has no grant, its invoice bills it with one. When it has usage, that is granted now, from
      // the period's start to its end (it expires below), and the period booked again on it. So is a period
      // the anchor made that had ended when it moved (another period's allowance paid for its days, released
      // above). Done by the run that grants the current period's allowance (the first after the boundary,
      // which the idle look sends to the account; the same terms give both periods their allowance).
      const [from, to] = [dayOf(ending.periodStart), dayOf(ending.periodEnd)];
      // Its allowance was ended by an anchor change, and the anchor is back on its day after the period
      // ended (before the current period's run reopened it): the period's invoice bills its usage with that
      // allowance, so it is in force again for the period (holding what it held when it was ended) and its
      // days are booked on it again; what it has left expires below, its period being over.
      if (grant && grant.expired_at !== null && endedEarly({ expiresAt: grant.expires_at }, ending.periodEnd)) {
        await snapshot();
        await this.unbookPeriod(tx, account, await this.repository.bookedDays(tx, account, from, to), now, 'the billing period changed', unbooked);
        const reopened = await this.reopenAllowance(tx, account, grant, ending, now);
        allowanceReopened = allowanceReopened === null ? reopened : new Dec(allowanceReopened).plus(reopened).toFixed();
        grant = (await this.repository.findGrant(tx, account, grant.id))!;
      }
      if (grant === null && allowanceGranted !== null && new Dec(ending.amount).gt(0) && (await this.repository.meteredWithin(tx, account, from, to))) {
        await snapshot();
        await this.unbookPeriod(tx, account, await this.repository.bookedDays(tx, account, from, to), now, 'the period allowance changed', unbooked);
        await this.grantAllowance(tx, account, ending);
        endingAllowanceChanged = new Dec(ending.amount).toFixed();
      }
      if (grant && grant.expired_at === null && !new Dec(grant.amount).eq(ending.amount)) {
        await snapshot();
        await this.unbookPeriod(tx, account, await this.repository.bookedDays(tx, account, from, to), now, 'the period allowance changed', unbooked);
        endingAllowanceChanged = await this.followAllowance(tx, account, grant, ending.amount, now);
      }
    }
    // (A period with no allowance, one of nothing, is booked again too when the anchor moved to it.)
    if (allowance && (current === null || current.expired_at === null)) {
      const changed = current !== null && !new Dec(current.amount).eq(allowance.amount);
      if (changed || allowanceGranted !== null || ended.grants > 0) {
        const booked = await this.repository.bookedDays(tx, account, dayOf(allowance.periodStart), dayOf(allowance.periodEnd));
        if (changed || booked.length > 0) {
          await snapshot();
          await this.unbookPeriod(tx, account, booked, now, ended.grants > 0 ? 'the billing period changed' : 'the period allowance changed', unbooked);
        }
        if (changed && current) allowanceChanged = await this.followAllowance(tx, account, current, allowance.amount, now);
      }
    }

    const live = await this.repository.liveGrants(tx, account);
    let grants = live.map(grantState);
    // Announced as used up: an allowance that had something left before this run (before a change of it).
    const beforeBurns = beforeChange ?? grants;
    let usedUpOn: string | null = null;
    let burned = unbooked.burned.negated();
    let uncovered = unbooked.uncovered.negated();
    const firstDay = await this.repository.firstGrantDay(tx, account);
    if (firstDay !== null) {
      // Grants expired since the first day to burn, with what they held then: a day metered late burns the
      // grants in force on it, as on time (burnInForce). Read once, at the first such day (days come in order).
      let lapsed: GrantState[] | null = null;
      for (const d of await this.repository.unbookedDays(tx, account, firstDay)) {
        const delta = new Dec(d.cost).minus(d.booked);
        const from = new Date(`${d.day}T00:00:00.000Z`);
        const window = { from, to: new Date(from.getTime() + DAY_MS) };
        let movements: Movement[];
        let uncoveredDelta: Dec;
        let next: GrantState[];
        if (delta.gt(0)) {
          lapsed ??= (await this.repository.lapsedGrants(tx, account, from))
            .filter((g) => paysLateUsage({ periodStart: g.period_start, expiresAt: g.expires_at }, grid))
            .map(grantState);
          const burn = burnInForce(grants, lapsed, delta, window);
          movements = burn.movements;
          uncoveredDelta = burn.uncovered;
          lapsed = burn.lapsed;
          next = burn.live;
        } else {
          // Usage of the day went down (a correction repriced it): first what was uncovered, then give back.
          const wasUncovered = new Dec(await this.repository.uncoveredOf(tx, account, d.day));
          const fromUncovered = Dec.min(wasUncovered, delta.negated());
          const back = delta.negated().minus(fromUncovered);
          const burns = await this.repository.netBurns(tx, account, d.day, dayOf(window.to));
          // Into the grants not expired yet (one due now expires below, with what it got back), or back
          // into an expired one and out to `expired` again.
          const liveIds = new Set(grants.map((g) => g.id));
          movements = giveBackMovements(burns.map((b) => ({ grantId: b.grant_id, amount: new Dec(b.amount) })), back, (id) => liveIds.has(id));
          uncoveredDelta = fromUncovered.negated();
          next = applyMovements(grants, movements.filter((m) => liveIds.has(m.grantId)));
        }
        // What an expired grant paid or got back is booked with a memo saying why it moved after its expiry.
        const lapsedIds = new Set(movements.filter((m) => m.kind === 'adjustment' || m.kind === 'expiry').map((m) => m.grantId));
        const [late, onTime] = [movements.filter((m) => lapsedIds.has(m.grantId)), movements.filter((m) => !lapsedIds.has(m.grantId))];
        const memo = delta.gt(0) ? `usage of ${d.day} metered after a grant in force that day expired: burned from what it held` : `usage of ${d.day} went down after a grant that paid for it expired: given back and expired again`;
        if (late.length > 0) await this.repository.book(tx, account, late, { at: now, usageDay: d.day, memo });
        await this.repository.book(tx, account, onTime, { at: now, usageDay: d.day });
        await this.repository.setBooked(tx, account, d.day, d.cost, uncoveredDelta.toFixed());
        if (usedUpOn === null && allowancesUsedUp(grants, next).length > 0) usedUpOn = d.day;
        grants = next;
        for (const m of movements) {
          if (m.kind === 'burn') burned = burned.plus(m.amount);
          if (m.kind === 'restore') burned = burned.minus(m.amount);
        }
        uncovered = uncovered.plus(uncoveredDelta);
      }
    }

    for (const id of allowancesUsedUp(beforeBurns, grants)) await this.announceUsedUp(tx, account, live.find((g) => g.id === id)!, usedUpOn, grants, now);

    const expiries = dueExpiries(grants, now);
    await this.repository.book(tx, account, expiries, { at: now, memo: 'expired' });
    // Due grants with nothing left expire too, with no movement.
    await this.repository.markExpired(tx, account, grants.filter((g) => g.expiresAt !== null && g.expiresAt.getTime() <= now.getTime()).map((g) => g.id), now);
    const expired = expiries.reduce((sum, m) => sum.plus(m.amount), ended.expired);
    const result = {
      allowanceGranted,
      allowanceReopened,
      allowanceChanged,
      endingAllowanceChanged,
      allowancesReleased: ended.grants,
      burned: burned.toFixed(),
      uncovered: uncovered.toFixed(),
      expired: expired.toFixed(),
    };
    if (settleChangedLevel(result)) this.refreshAfter(tx, account, now);
    return result;
  }

  /**
   * Gives back every burn of the given usage days (what a grant that has expired since paid goes back into
   * it and expires again: giveBackMovements) and clears their uncovered part, so the settle's booking loop
   * books them again in burn order, expired grants paying as on time (burnInForce): a period whose allowance
   * changed (followAllowance), came after some of its usage was booked, or took over from another period's
   * allowance (the anchor moved) is booked as if the allowance had been given so from the start. So usage
   * an allowance covers is not paid from top-ups or grants (nor left uncovered), and usage beyond it burns
   * them in order, as the period's invoice counts them in its credits line. Adds what it gave back (burns,
   * uncovered usage) to `given`.
   */
  private async unbookPeriod(tx: Tx, account: string, days: readonly string[], now: Date, why: string, given: { burned: Dec; uncovered: Dec }): Promise<void> {
    if (days.length === 0) return;
    const live = new Set((await this.repository.liveGrants(tx, account)).map((g) => g.id));
    const memo = `given back, to be booked again: ${why}`;
    for (const day of days) {
      const next = dayOf(new Date(Date.parse(`${day}T00:00:00.000Z`) + DAY_MS));
      const burns = (await this.repository.netBurns(tx, account, day, next)).map((b) => ({ grantId: b.grant_id, amount: new Dec(b.amount) }));
      const total = burns.reduce((sum, b) => sum.plus(b.amount), new Dec(0));
      await this.repository.book(tx, account, giveBackMovements(burns, total, (id) => live.has(id)), { at: now, usageDay: day, memo });
      const uncovered = new Dec(await this.repository.uncoveredOf(tx, account, day));
      await this.repository.setBooked(tx, account, day, '0', uncovered.negated().toFixed());
      given.burned = given.burned.plus(total);
      given.uncovered = given.uncovered.plus(uncovered);
    }
  }

  /**
   * The current period's included allowance is no longer what its grant was given (a plan version published
   * mid-period, a pin or an override changed it): the grant follows the terms, as the period's invoice will
   * (it bills on the terms in force at the period's end). Called with the period's burns given back
   * (unbookPeriod), so the grant holds all it was given. Returns what the grant is given now.
   */
  private async followAllowance(tx: Tx, account: string, grant: GrantRow, wanted: string, now: Date): Promise<string> {
    const given = new Dec(grant.amount);
    const held = grantState((await this.repository.findGrant(tx, account, grant.id))!);
    const move = allowanceAdjustment(held, given, new Dec(wanted));
    const amount = move === null ? given : move.to === ledgerAccounts.grant(grant.id) ? given.plus(move.amount) : given.minus(move.amount);
    if (move !== null) {
      await this.repository.book(tx, account, [move], { at: now, memo: `Included allowance changed from ${given.toFixed()} to ${amount.toFixed()}` });
      await this.repository.setGrantAmount(tx, account, grant.id, amount.toFixed());
    }
    this.logger.log({ account, grant: grant.id, from: given.toFixed(), to: amount.toFixed() }, 'period allowance changed with its terms');
    return amount.toFixed();
  }

  /**
   * `allowance.exhausted`, in the settle's transaction: the period's included allowance is used up, on
   * `usageDay` (the UTC day whose usage took its last part); what other grants still hold is `credits_left`
   * (usage beyond it is billed as overage on a `bill` plan, and refused by authorization on a `block` plan
   * once that is gone too).
   */
  private async announceUsedUp(tx: Tx, account: string, allowance: GrantRow, usageDay: string | null, grants: readonly GrantState[], now: Date): Promise<void> {
    const left = grants
      .filter((g) => g.priority !== PRIORITY.allowance && (g.expiresAt === null || g.expiresAt.getTime() > now.getTime()))
      .reduce((sum, g) => sum.plus(g.remaining), new Dec(0));
    await this.webhooks.emit(tx, account, 'allowance.exhausted', {
      grant_id: allowance.id,
      allowance: new Dec(allowance.amount).toFixed(),
      period_start: (allowance.period_start ?? allowance.granted_at).toISOString(),
      period_end: allowance.expires_at?.toISOString() ?? null,
      usage_day: usageDay,
      credits_left: left.toFixed(),
    });
  }

  /**
   * An allowance ended early (its anchor changed away) is in force again to its period's end: its expiry
   * and its end are undone, and what expired when it was ended goes back to it (ledger.ts,
   * reopenMovement), with what it paid and was given back when it was ended (so it holds its whole
   * amount less what it pays after: the settle books the period's usage on it again). Returns that.
   */
  private async reopenAllowance(tx: Tx, account: string, grant: GrantRow, period: PeriodAllowance, now: Date): Promise<string> {
    const expired = new Dec(await this.repository.expiredOf(tx, account, grant.id));
    await this.repository.reopenGrant(tx, account, grant.id, period.periodEnd);
    const memo = `in force again: billing period changed back to ${dayOf(period.periodStart)} to ${dayOf(period.periodEnd)}`;
    if (expired.gt(0)) await this.repository.book(tx, account, [reopenMovement(grant.id, expired)], { at: now, memo });
    this.logger.log({ account, grant: grant.id, period_start: period.periodStart.toISOString(), amount: expired.toFixed() }, 'allowance in force again: billing period changed back');
    return expired.toFixed();
  }

  /**
   * Releases the allowance grants of periods the billing anchor no longer makes (ledger.ts, onGrid; `period`
   * is one the anchor makes now): each one still in force ends now, what it holds expiring through an expiry
   * movement, and every day it paid for is given back (unbookPeriod) to be booked again. Returns what
   * expired and how many grants were released.
   */
  private async releaseOffGrid(tx: Tx, account: string, period: { periodStart: Date; periodEnd: Date }, now: Date, given: { burned: Dec; uncovered: Dec }, subscribedFrom: Date | null): Promise<{ expired: Dec; grants: number }> {
    const offGrid = await this.repository.allowancesToRelease(tx, account, period.periodStart.getUTCDate(), subscribedFrom);
    if (offGrid.length === 0) return { expired: new Dec(0), grants: 0 };
    const live = offGrid.filter((g) => g.expired_at === null).map(grantState);
    let expired = new Dec(0);
    if (live.length > 0) {
      const { ended, movements } = endGrants(live, now);
      const memo = `ended: billing period changed to ${dayOf(period.periodStart)} to ${dayOf(period.periodEnd)}`;
      await this.repository.book(tx, account, movements, { at: now, memo });
      await this.repository.endGrants(tx, account, ended, now);
      this.logger.log({ account, grants: ended.map((g) => g.id), period_start: period.periodStart.toISOString() }, 'allowance ended: billing period changed');
      expired = movements.reduce((sum, m) => sum.plus(m.amount), new Dec(0));
    }
    await this.unbookPeriod(tx, account, await this.repository.daysPaidBy(tx, account, offGrid.map((g) => g.id)), now, 'the billing period changed', given);
    return { expired, grants: offGrid.length };
  }

  /**
   * The period allowance the settle job has not granted yet (it runs every minute): the current billing
   * period's included allowance while no allowance grant of that period exists, else null. The figures
   * below count it as if granted at its period's start, so a `block` account can spend its allowance from
   * the moment it subscribes, and the job's grant later changes no figure (the same limit, the same unbooked
   * usage from the period's first day). An allowance of nothing is pending only while another period's
   * allowance is in force, which it replaces. `billing` is the account's billing context, or null. When the
   * billing anchor changed mid-period, the allowance grant of the old period still in force is one the job
   * ends when it grants this one (`supersedes`): the figures count one allowance, this one, which pays what
   * the old one paid for this period's days (the job books those days again on it).
   */
  async pendingAllowance(
    db: Db,
    account: string,
    billing: { anchor_day: number; start_date: string; terms: { included_allowance: string } } | null,
    now: Date,
  ): Promise<PendingAllowance | null> {
    if (!billing) return null;
    const period = billingPeriod(billing.anchor_day, now);
    if (await this.repository.allowanceGrant(db, account, period.start)) return null;
    const supersedes = supersededAllowances(allowanceGrants(await this.repository.liveGrants(db, account)), period.start, now).map((g) => g.id);
    const amount = new Dec(billing.terms.included_allowance);
    // An allowance of nothing is pending only while it replaces another (the job ends that one).
    if (!amount.gt(0) && supersedes.length === 0) return null;
    const subscribedFrom = new Date(`${billing.start_date}T00:00:00.000Z`);
    const released = (await this.repository.allowancesToRelease(db, account, billing.anchor_day, subscribedFrom)).map((g) => g.id);
    return { amount, periodStart: period.start, periodEnd: period.end, supersedes, released };
  }

  /**
   * The grants in force at `now` and the usage they (and a pending allowance) cover that is not booked yet:
   * usage from the first day any grant covers, which a pending allowance moves back to its period's start.
   */
  private async unbookedSince(db: Db, account: string, pending: PendingAllowance | null): Promise<{ first: string | null; unbooked: Dec }> {
    const granted = await this.repository.firstGrantDay(db, account);
    const pendingDay = pending ? dayOf(pending.periodStart) : null;
    const first = granted === null ? pendingDay : pendingDay === null || granted <= pendingDay ? granted : pendingDay;
    if (first === null) return { first, unbooked: new Dec(0) };
    return { first, unbooked: new Dec(await this.repository.unbookedUsage(db, account, first)) };
  }

  /**
   * What an authorization may still spend: the grants in force now (and the pending allowance), less usage
   * metered but not yet booked. Also that unbooked usage, for the credits view.
   */
  async available(db: Db, account: string, now: Date, pending: PendingAllowance | null): Promise<{ available: Dec; unbooked: Dec }> {
    const { first, unbooked } = await this.unbookedSince(db, account, pending);
    if (first === null) return { available: new Dec(0), unbooked };
    const { available } = await this.repository.availableAt(db, account, now, pending?.supersedes ?? []);
    const moving = await this.paidBySuperseded(db, account, pending);
    return { available: new Dec(available).plus(pending?.amount ?? 0).minus(moving).minus(Dec.max(0, unbooked)), unbooked };
  }

  /**
   * What the allowances a pending one supersedes or releases paid for usage of its period (days from its
   * start): the job gives that back and books it again on the pending allowance (unbookPeriod), so the
   * figures count it as the pending allowance's spend already, and granting it changes none of them. A
   * released allowance may have expired at its own period's end: the anchor moved after that period ended,
   * and its last days are this period's now (test/credits.e2e-spec.ts, the block plan's random operations).
   */
  private async paidBySuperseded(db: Db, account: string, pending: PendingAllowance | null): Promise<Dec> {
    if (!pending || (pending.supersedes.length === 0 && pending.released.length === 0)) return new Dec(0);
    const superseded = new Set([...pending.supersedes, ...pending.released]);
    const burns = await this.repository.netBurns(db, account, dayOf(pending.periodStart), null);
    return burns.filter((b) => superseded.has(b.grant_id)).reduce((sum, b) => sum.plus(b.amount), new Dec(0));
  }

  /**
   * The `credits` level's limit and spend (ledger.ts, creditsLevel): booking usage (but for overage) or
   * granting the pending allowance changes neither.
   */
  async creditsLevel(db: Db, account: string, now: Date, pending: PendingAllowance | null): Promise<{ limit: Dec; spent: Dec }> {
    const { first, unbooked } = await this.unbookedSince(db, account, pending);
    if (first === null) return { limit: new Dec(0), spent: new Dec(0) };
    const inForce = await this.repository.inForceFigures(db, account, now, pending?.supersedes ?? []);
    const moving = await this.paidBySuperseded(db, account, pending);
    return creditsLevel({ granted: new Dec(inForce.granted).plus(pending?.amount ?? 0), burned: new Dec(inForce.burned).plus(moving) }, unbooked);
  }

  /**
   * The `credits` counter reads the ledger again (a limit changed without setLimit). Writers that own
   * their transaction call it after the commit, so their answer is already seen by the next hold; the
   * API above also schedules it after the caller's commit.
   */
  async refresh(account: string, now: Date): Promise<void> {
    await this.engine.refresh(account, [levels.credits()], now);
  }

  /** After `tx` commits, the `credits` counter reads the ledger again (once, however many of its writes asked). */
  private refreshAfter(tx: Tx, account: string, now: Date): void {
    this.afterCommit.schedule(
      tx,
      () => this.engine.refresh(account, [levels.credits()], now).catch((error: unknown) => this.logger.warn({ err: error, account }, 'credits counter refresh failed')),
      `credits-refresh:${account}`,
    );
  }
}

export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export type { GrantKind };
