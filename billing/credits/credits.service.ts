// The credit routes, top to bottom: reading an account's credits (balance, grants, entries), a
// promotional grant (sales), buying a top-up pack of the plan (finance): granted at once with Stripe off,
// else sold through a Stripe invoice and granted when Stripe says it is paid (TopupPaidHandler).
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { AccountsRepository } from '../../src/accounts/accounts.repository.js';
import { AuditService } from '../../src/audit/audit.service.js';
import { actorOf, type Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { APP_CONFIG, type AppConfig } from '../../src/config/config.js';
import type { Tx } from '../../src/database/data-source.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { Dec } from '../../tiers/pricing/decimal.js';
import { SubscriptionsService } from '../../tiers/subscriptions/subscriptions.service.js';
import { BillingError, BillingErrorCode } from '../billing.errors.js';
import { StripeHandlers, type StripeTopupEvent, type TopupPaidHandler } from '../stripe/stripe-ports.js';
import { StripeSync } from '../stripe/stripe-sync.service.js';
import { creditAmount, CreditLedger, newGrantId } from './credit-ledger.service.js';
import { CreditsRepository, grantState, type GrantRow, type MovementRow, type TopupRow } from './credits.repository.js';
import { compareBurnOrder, expiryAfterDays, isDayStart, nextDayStart, PRIORITY } from './ledger.js';

export interface PromotionalGrantBody {
  amount: string;
  priority?: number;
  expires_at?: string;
  validity_days?: number;
  reason?: string;
}

export interface TopupBody {
  id: string;
  pack: string;
}

export interface GrantView {
  id: string;
  kind: GrantRow['kind'];
  amount: string;
  remaining: string;
  priority: number;
  granted_at: Date;
  expires_at: Date | null;
  expired_at: Date | null;
  invoice_id: string | null;
  topup_id: string | null;
  reason: string | null;
}

export interface TopupView {
  id: string;
  pack: string;
  allowance: string;
  price: string;
  currency: string;
  validity_days: number;
  status: 'pending' | 'granted';
  grant: GrantView | null;
  bought_at: Date;
  payment: { state: 'pending' | 'synced' | 'failed' | 'skipped'; stripe_id: string | null; stripe_status: string | null } | null;
}

export interface CreditsView {
  account: string;
  currency: string;
  overage_policy: 'bill' | 'block' | null;
  balance: string;
  /** The current period's allowance until the settle job grants it (within a minute); counted in `available`. */
  pending_allowance: { amount: string; period_start: Date; period_end: Date } | null;
  unbooked_usage: string;
  available: string;
  ledger: { ledger_account: string; amount: string }[];
  grants: GrantView[];
  entries: MovementView[];
  next_before: string | null;
}

type MovementView = Omit<MovementRow, 'entries'> & { entries: { ledger_account: string; amount: string }[] };

const plain = (s: string) => new Dec(s).toFixed();

export function grantView(g: GrantRow): GrantView {
  return {
    id: g.id,
    kind: g.kind,
    amount: plain(g.amount),
    remaining: plain(g.remaining),
    priority: g.priority,
    granted_at: g.granted_at,
    expires_at: g.expires_at,
    expired_at: g.expired_at,
    invoice_id: g.invoice_id,
    topup_id: g.topup_id,
    reason: g.reason,
  };
}

@Injectable()
export class CreditsService implements TopupPaidHandler, OnModuleInit {
  constructor(
    private readonly ledger: CreditLedger,
    private readonly repository: CreditsRepository,
    private readonly accounts: AccountsRepository,
    private readonly subscriptions: SubscriptionsService,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    private readonly stripeHandlers: StripeHandlers,
    private readonly stripe: StripeSync,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.stripeHandlers.handleTopups(this);
  }

  async view(account: string, limit: number, before: string | null): Promise<CreditsView> {
    const acct = await this.accounts.findAccount(account);
    if (!acct) throw notFound(account);
    const now = this.clock.now();
    // The grants, entries, balances and usage are read in one snapshot: a settle run or a burn committing
    // meanwhile (an allowance granted and the last one expired, say) shows in all of them or in none.
    const billing = await this.subscriptions.billingContext(account);
    const { live, movements, ledger, pending, available, unbooked } = await this.transactions.readSnapshot(async (tx) => {
      const pending = await this.ledger.pendingAllowance(tx, account, billing, now);
      return {
        live: await this.repository.liveGrants(tx, account),
        movements: await this.repository.listMovements(tx, account, limit + 1, before),
        ledger: await this.repository.ledgerBalances(tx, account),
        pending,
        ...(await this.ledger.available(tx, account, now, pending)),
      };
    });
    const page = movements.slice(0, limit);
    // Unexpired as of now: a grant past its expiry still holds its remainder in the ledger until the settle
    // job books the expiry (within a minute), but it pays for nothing any more (`available` leaves it out).
    const unexpired = live.filter((g) => g.expires_at === null || g.expires_at.getTime() > now.getTime());
    const ordered = unexpired.sort((a, b) => compareBurnOrder(grantState(a), grantState(b)));
    return {
      account,
      currency: acct.currency,
      overage_policy: billing?.terms.overage_policy ?? null,
      balance: unexpired.reduce((s, g) => s.plus(g.remaining), new Dec(0)).toFixed(),
      pending_allowance: pending && { amount: pending.amount.toFixed(), period_start: pending.periodStart, period_end: pending.periodEnd },
      unbooked_usage: unbooked.toFixed(),
      available: available.toFixed(),
      ledger: ledger.map((l) => ({ ledger_account: l.ledger_account, amount: plain(l.amount) })),
      grants: ordered.map(grantView),
      entries: page.map((m) => ({ ...m, amount: plain(m.amount), entries: m.entries.map((e) => ({ ledger_account: e.ledger_account, amount: plain(e.amount) })) })),
      next_before: movements.length > limit ? page[page.length - 1]!.id : null,
    };
  }

  async grantPromotional(principal: Principal, account: string, body: PromotionalGrantBody): Promise<GrantView> {
    const amount = creditAmount(body.amount, 'amount');
    const now = this.clock.now();
    if (body.expires_at !== undefined && body.validity_days !== undefined) {
      throw new BillingError(BillingErrorCode.InvalidGrant, 'Send "expires_at" or "validity_days", not both.', { field: 'expires_at' });
    }
    let expiresAt: Date | null = null;
    if (body.expires_at !== undefined) {
      expiresAt = new Date(body.expires_at);
      if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= now.getTime()) {
        throw new BillingError(BillingErrorCode.InvalidGrant, '"expires_at" must be a time in the future.', { field: 'expires_at', now: now.toISOString() });
      }
      // Usage is booked by UTC day: a grant ends at the start of one (ledger.ts, expiryAfterDays).
      if (!isDayStart(expiresAt)) {
        throw new BillingError(
          BillingErrorCode.InvalidGrant,
          `"expires_at" must be the start of a UTC day (00:00:00Z): credits pay for usage by UTC day. The next one is ${nextDayStart(expiresAt).toISOString()}.`,
          { field: 'expires_at' },
        );
      }
    } else if (body.validity_days !== undefined) {
      expiresAt = expiryAfterDays(now, body.validity_days);
    }
    const view = await this.transactions.run(async (tx) => {
      if (!(await this.accounts.findAccount(account, tx))) throw notFound(account);
      await this.ledger.lock(tx, account);
      const grant = await this.ledger.grant(tx, account, {
        id: newGrantId(),
        kind: 'promotional',
        amount: amount.toFixed(),
        priority: body.priority ?? PRIORITY.promotional,
        grantedAt: now,
        expiresAt,
        reason: body.reason ?? null,
        createdBy: principal.keyId,
      });
      const view = grantView(grant);
      await this.audit.record(tx, actorOf(principal), {
        action: 'credit_grant.create',
        entityType: 'credit_grant',
        entityId: grant.id,
        accountId: account,
        before: null,
        after: view,
      });
      return view;
    });
    await this.ledger.refresh(account, now);
    return view;
  }

  async buyTopup(principal: Principal, account: string, body: TopupBody): Promise<{ created: boolean; topup: TopupView }> {
    const now = this.clock.now();
    const acct = await this.accounts.findAccount(account);
    if (!acct) throw notFound(account);
    const billing = await this.subscriptions.billingContext(account);
    if (!billing) throw new BillingError(BillingErrorCode.NoSubscription, `Account "${account}" has no subscription: there are no packs to buy.`, { field: 'pack' });
    const pack = billing.terms.topup_packs.find((p) => p.id === body.pack);
    if (!pack) {
      const known = billing.terms.topup_packs.map((p) => p.id);
      throw new BillingError(
        BillingErrorCode.TopupPackUnknown,
        `The plan has no top-up pack "${body.pack}"${known.length ? `; its packs are ${known.join(', ')}` : '; it sells none'}.`,
        { field: 'pack' },
      );
    }
    const viaStripe = this.config.stripe.secretKey !== null;
    const result = await this.transactions.run(async (tx) => {
      await this.ledger.lock(tx, account);
      const existing = await this.repository.findTopup(tx, account, body.id);
      if (existing) {
        if (existing.pack_id !== body.pack) {
          throw new BillingError(BillingErrorCode.TopupConflict, `Top-up "${body.id}" was already bought, of pack "${existing.pack_id}".`, { field: 'id' });
        }
        return { created: false, row: existing };
      }
      const row: Omit<TopupRow, 'grant_id' | 'granted_at'> = {
        account_id: account,
        id: body.id,
        pack_id: pack.id,
        allowance: pack.allowance,
        price: pack.price,
        currency: billing.terms.currency,
        validity_days: pack.validity_days,
        status: 'pending',
        bought_by: principal.keyId,
        bought_at: now,
      };
      await this.repository.insertTopup(tx, row);
      if (viaStripe) {
        await this.stripe.queueTopup(tx, {
          accountId: account,
          topupId: body.id,
          packId: pack.id,
          price: pack.price,
          currency: billing.terms.currency,
          description: `Top-up pack ${pack.id}: ${pack.allowance} ${billing.terms.currency} of usage`,
        });
      } else {
        await this.grantTopup(tx, account, body.id, now);
      }
      await this.audit.record(tx, actorOf(principal), {
        action: 'credit_topup.buy',
        entityType: 'credit_topup',
        entityId: body.id,
        accountId: account,
        before: null,
        after: { pack: pack.id, allowance: pack.allowance, price: pack.price, currency: billing.terms.currency, via: viaStripe ? 'stripe' : 'granted' },
      });
      return { created: true, row: (await this.repository.findTopup(tx, account, body.id))! };
    });
    if (result.created && !viaStripe) await this.ledger.refresh(account, now);
    return { created: result.created, topup: await this.topupView(result.row) };
  }

  /** Stripe says the top-up's invoice is paid: its credit is granted, valid from then. Once per top-up. */
  async topupPaid(tx: Tx, event: StripeTopupEvent): Promise<void> {
    await this.ledger.lock(tx, event.accountId);
    const topup = await this.repository.findTopup(tx, event.accountId, event.topupId, true);
    if (!topup || topup.status === 'granted') return;
    await this.grantTopup(tx, event.accountId, event.topupId, event.paidAt);
  }

  private async grantTopup(tx: Tx, account: string, topupId: string, at: Date): Promise<void> {
    const topup = (await this.repository.findTopup(tx, account, topupId, true))!;
    const grantId = newGrantId();
    await this.ledger.grant(tx, account, {
      id: grantId,
      kind: 'topup',
      amount: new Dec(topup.allowance).toFixed(),
      priority: PRIORITY.topup,
      grantedAt: at,
      expiresAt: expiryAfterDays(at, topup.validity_days),
      topupId,
      reason: `Top-up ${topupId} (pack ${topup.pack_id})`,
    });
    await this.repository.markTopupGranted(tx, account, topupId, grantId, at);
  }

  private async topupView(t: TopupRow): Promise<TopupView> {
    const grant = t.grant_id ? await this.repository.findGrant(this.transactionsDb(), t.account_id, t.grant_id) : null;
    const sync = this.config.stripe.secretKey !== null ? await this.stripe.status('topup', t.account_id, t.id) : null;
    return {
      id: t.id,
      pack: t.pack_id,
      allowance: plain(t.allowance),
      price: plain(t.price),
      currency: t.currency,
      validity_days: t.validity_days,
      status: t.status,
      grant: grant && grantView(grant),
      bought_at: t.bought_at,
      payment: sync && { state: sync.state, stripe_id: sync.stripe_id, stripe_status: sync.stripe_status },
    };
  }

  private transactionsDb() {
    return this.repository.db;
  }
}

function notFound(account: string): BillingError {
  return new BillingError(BillingErrorCode.AccountNotFound, `Account "${account}" was not found.`);
}
