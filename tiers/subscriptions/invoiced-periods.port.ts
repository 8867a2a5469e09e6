// The port through which a subscription change learns what has been invoiced, defined here and
// implemented by billing (billing/invoices/invoiced-periods.ts), so tiers never imports billing.
import type { Db } from '../../src/database/sql.js';

/** The injection token of the InvoicedPeriods implementation (billing binds it; without billing there is none). */
export const INVOICED_PERIODS = Symbol('INVOICED_PERIODS');

export interface InvoicedPeriods {
  /**
   * The end of the account's last invoiced billing period (an invoice of any status: draft, finalized, paid
   * or void), or null when none was. Inside a transaction pass it as `db`.
   */
  lastInvoicedEnd(db: Db, accountId: string): Promise<Date | null>;
}
