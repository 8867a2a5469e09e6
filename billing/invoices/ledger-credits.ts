// The credit ledger (billing/credits) as invoicing's InvoiceCredits port: top-ups bought in a period (paid
// on their own Stripe invoice when Stripe mirrored them, else charged on the period's invoice), the
// ineffective-spend credit of a finalized invoice and adjustments of it after a relabelling (booked as
// issued and applied to the invoice: the line pays it, so it never adds to the balance usage burns), and
// the restore of a voided invoice's credits (which undoes what it applied).
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import type { Db } from '../../src/database/sql.js';
import { Dec } from '../../tiers/pricing/decimal.js';
import { CreditLedger } from '../credits/credit-ledger.service.js';
import { StripeSync } from '../stripe/stripe-sync.service.js';
import type { InvoiceCredits, InvoiceLedgerEntry } from './invoice-credits.port.js';
import type { TopupBought } from './invoice-math.js';

@Injectable()
export class LedgerInvoiceCredits implements InvoiceCredits {
  constructor(
    private readonly ledger: CreditLedger,
    private readonly stripe: StripeSync,
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async topupsBought(accountId: string, start: Date, end: Date): Promise<TopupBought[]> {
    const rows = await this.ledger.topupsBought(this.dataSource, accountId, start, end);
    const out: TopupBought[] = [];
    for (const r of rows) {
      const sync = await this.stripe.status('topup', accountId, r.id);
      out.push({
        id: r.id,
        pack_id: r.pack_id,
        price: new Dec(r.price).toFixed(),
        allowance: new Dec(r.allowance).toFixed(),
        bought_at: r.bought_at.toISOString(),
        billed_separately: sync !== null && sync.state !== 'skipped',
      });
    }
    return out;
  }

  creditsBurned(db: Db, accountId: string, periods: readonly { start: Date; end: Date }[]): Promise<Map<string, string>> {
    return this.ledger.creditsBurned(db, accountId, periods);
  }

  /** The line is a credit (negative); the ledger books it issued and applied to the invoice (never usable credit). */
  async bookIneffectiveCredit(tx: Tx, entry: InvoiceLedgerEntry): Promise<void> {
    const amount = new Dec(entry.amount).abs();
    if (amount.isZero()) return;
    await this.ledger.bookIneffectiveCredit(tx, { account: entry.accountId, invoiceId: entry.invoiceId, amount: amount.toFixed(), at: this.clock.now() });
  }

  /**
   * A change of an earlier period's ineffective-spend credit, as its line says: more credit (a negative
   * line) issued and applied to this invoice, less (a positive line) taken back through it. The invoice line
   * is the money; the ledger records it without changing the balance usage burns.
   */
  async bookAdjustment(tx: Tx, entry: InvoiceLedgerEntry & { adjustedPeriodStart: Date }): Promise<void> {
    if (new Dec(entry.amount).isZero()) return;
    await this.ledger.bookInvoiceCreditAdjustment(tx, { account: entry.accountId, invoiceId: entry.invoiceId, lineAmount: entry.amount, reason: entry.description, at: this.clock.now() });
  }

  async restoreInvoiceCredits(tx: Tx, entry: { accountId: string; invoiceId: string; periodStart: Date; periodEnd: Date }): Promise<void> {
    await this.ledger.restoreInvoiceCredits(tx, { account: entry.accountId, invoiceId: entry.invoiceId, periodStart: entry.periodStart, periodEnd: entry.periodEnd, at: this.clock.now() });
  }
}
