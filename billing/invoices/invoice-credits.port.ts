// What invoicing needs from the credit ledger, as one small port: top-ups bought in a period (lines of its
// invoice), and the ledger movements an invoice causes (its ineffective-spend credit and adjustments when
// it is finalized, restoring what it used when it is voided). Every write takes the invoice's transaction.
// The ledger's implementation is ledger-credits.ts; NO_LEDGER (no top-ups, nothing booked) is for tests of
// invoicing alone.
import type { Tx } from '../../src/database/data-source.js';
import type { Db } from '../../src/database/sql.js';
import type { TopupBought } from './invoice-math.js';

export interface InvoiceLedgerEntry {
  accountId: string;
  invoiceId: string;
  currency: string;
  /** Decimal string in currency units, as on the invoice line (negative for a credit to the customer). */
  amount: string;
  periodStart: Date;
  periodEnd: Date;
  description: string;
}

export interface InvoiceCredits {
  /** Top-ups the account bought with `start <= bought_at < end`. */
  topupsBought(accountId: string, start: Date, end: Date): Promise<TopupBought[]>;
  /**
   * Per period (by its start's ISO time), what the ledger burned from grants other than the period allowance
   * for that period's usage, less what it gave back: exact decimal strings (a period with none may be absent).
   */
  creditsBurned(db: Db, accountId: string, periods: readonly { start: Date; end: Date }[]): Promise<Map<string, string>>;
  /** Books the ineffective-spend credit of a finalized invoice. */
  bookIneffectiveCredit(tx: Tx, entry: InvoiceLedgerEntry): Promise<void>;
  /** Books an adjustment line of a finalized invoice (a late event, a repricing, a relabelling). */
  bookAdjustment(tx: Tx, entry: InvoiceLedgerEntry & { adjustedPeriodStart: Date }): Promise<void>;
  /** Gives back what a voided invoice used (its credits and what it booked). */
  restoreInvoiceCredits(tx: Tx, entry: { accountId: string; invoiceId: string; periodStart: Date; periodEnd: Date }): Promise<void>;
}

export const INVOICE_CREDITS = Symbol('INVOICE_CREDITS');

/** No ledger yet: no top-ups, nothing to book. */
export const NO_LEDGER: InvoiceCredits = {
  topupsBought: () => Promise.resolve([]),
  creditsBurned: () => Promise.resolve(new Map()),
  bookIneffectiveCredit: () => Promise.resolve(),
  bookAdjustment: () => Promise.resolve(),
  restoreInvoiceCredits: () => Promise.resolve(),
};
