// The port through which an account's fiscal calendar learns what is cut on it: billing's budgets are set
// per period of that calendar, so changing `fiscal_year_start_month` under budgets would re-cut their
// periods (a hard budget then lay on no level and stopped denying). Defined here and bound by billing
// (billing/budgets/fiscal-calendar-users.module.ts), so accounts never imports billing.
import type { Tx } from '../database/data-source.js';

/** The injection token of the FiscalCalendarUsers implementation (billing binds it; without billing there is none). */
export const FISCAL_CALENDAR_USERS = Symbol('FISCAL_CALENDAR_USERS');

export interface FiscalCalendarUsers {
  /**
   * How many of the account's budgets have a period that has not ended at `now`, in the caller's
   * transaction, which it holds against budget writes of the account until it ends.
   */
  openBudgets(tx: Tx, account: string, now: Date): Promise<number>;
}
