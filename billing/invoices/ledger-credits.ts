// The credit ledger (billing/credits) as invoicing's InvoiceCredits port: top-ups bought in a period (paid
// on their own Stripe invoice when Stripe mirrored them, else charged on the period's invoice), the
// ineffective-spend credit of a finalized invoice as a ledger grant, adjustments of that credit after a
// relabelling, and the restore of a voided invoice's credits.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import { Dec } from '../../tiers/pricing/decimal.js';
import { BillingError, BillingErrorCode } from '../billing.errors.js';
import { CreditLedger } from '../credits/credit-ledger.service.js';
import { StripeSync } from '../stripe/stripe-sync.service.js';
import type { InvoiceCredits, InvoiceLedgerEntry } from './invoice-credits.port.js';
import type { TopupBought } from './invoice-math.js';

@Injectable()
export class LedgerInvoiceCredits implements InvoiceCredits {
  private readonly logger = new Logger('invoices');

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

  /** The line is a credit (negative); the ledger grants its size. */
  async bookIneffectiveCredit(tx: Tx, entry: InvoiceLedgerEntry): Promise<void> {
    const amount = new Dec(entry.amount).abs();
    if (amount.isZero()) return;
    await this.ledger.bookIneffectiveCredit(tx, { account: entry.accountId, invoiceId: entry.invoiceId, amount: amount.toFixed(), at: this.clock.now() });
  }

  /**
   * A change of an earlier period's ineffective-spend credit: more credit (a negative line) is granted, less
   * is taken back from the live grants. Credit already spent cannot be taken back; the invoice line stands
   * (the customer pays it) and the ledger keeps what was granted.
   */
  async bookAdjustment(tx: Tx, entry: InvoiceLedgerEntry & { adjustedPeriodStart: Date }): Promise<void> {
    const amount = new Dec(entry.amount).negated();
    if (amount.isZero()) return;
    try {
      await this.ledger.bookAdjustment(tx, { account: entry.accountId, amount: amount.toFixed(), reason: entry.description, at: this.clock.now(), invoiceId: entry.invoiceId });
    } catch (error) {
      if (!(error instanceof BillingError) || error.code !== BillingErrorCode.CreditsInsufficient) throw error;
      this.logger.warn({ account: entry.accountId, invoice: entry.invoiceId }, `ineffective-credit adjustment not taken back: ${error.message}`);
    }
  }

  async restoreInvoiceCredits(tx: Tx, entry: { accountId: string; invoiceId: string; periodStart: Date; periodEnd: Date }): Promise<void> {
    await this.ledger.restoreInvoiceCredits(tx, { account: entry.accountId, invoiceId: entry.invoiceId, periodStart: entry.periodStart, periodEnd: entry.periodEnd, at: this.clock.now() });
  }
}
