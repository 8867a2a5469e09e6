// The port through which accounts learns what billing's budgets rest on, so that an org change cannot
// silently break them. Defined here and bound by billing (billing/budgets/org-budgets.module.ts), so
// accounts never imports billing; without billing nothing is bound and nothing is checked.
// - The fiscal calendar: budgets are set per period of it, so changing `fiscal_year_start_month` under
//   budgets would re-cut their periods (a hard budget then lay on no level and stopped denying).
// - The org tree: a person's allocation counts against their unit's, so moving a person with a budget
//   into a unit could allocate that unit's children more than it has.
import type { Tx } from '../database/data-source.js';

/** The injection token of the OrgBudgets implementation (billing binds it; without billing there is none). */
export const ORG_BUDGETS = Symbol('ORG_BUDGETS');

/** A parent that a person's move would allocate more than it has, in one budget period. */
export interface MoveOverAllocation {
  /** The node whose allocation its children would exceed (`account` or `unit:<id>`). */
  parent: string;
  measure: 'headcount' | 'tokens' | 'amount';
  /** Its allocation, what its children would take, and how much more that is, as decimal strings. */
  allocated: string;
  children: string;
  over: string;
  /** The budget period, as `month:2026-03-01`. */
  period: string;
}

/** An allocation as a message says it: "an amount of 100", "5000 tokens", "a headcount of 3". */
export function allocationText(measure: MoveOverAllocation['measure'], value: string): string {
  return measure === 'tokens' ? `${value} tokens` : `${measure === 'amount' ? 'an amount' : 'a headcount'} of ${value}`;
}

export interface OrgBudgets {
  /**
   * How many of the account's budgets have a period that has not ended at `now`, in the caller's
   * transaction, which it holds against budget writes of the account until it ends.
   */
  openBudgets(tx: Tx, account: string, now: Date): Promise<number>;

  /**
   * What moving `person` into `unit` would newly over-allocate in a budget period that has not ended at
   * `now` (null: nothing), in the caller's transaction, which it holds against budget writes of the
   * account until it ends.
   */
  moveOverAllocation(tx: Tx, account: string, person: string, unit: string, now: Date): Promise<MoveOverAllocation | null>;
}
