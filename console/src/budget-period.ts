// The budget periods of an account's fiscal calendar, counted as the service counts them (UTC): a year
// starts on the first day of the fiscal start month, quarters are three-month blocks from there, months
// are calendar months. The console only names and steps periods by their first day; the service decides
// what is in one (GET .../budgets?period=P&period_start=D) and refuses a day that is not a period start.
import { pageHref } from './hash-params';

export type PeriodKind = 'year' | 'quarter' | 'month';

export interface BudgetPeriod {
  kind: PeriodKind;
  /** First day, YYYY-MM-DD. */
  start: string;
  /** The day after the last, YYYY-MM-DD (exclusive, as the API's `period.end`). */
  end: string;
}

const MONTHS: Record<PeriodKind, number> = { year: 12, quarter: 3, month: 1 };
const dayText = (d: Date) => d.toISOString().slice(0, 10);

/** The period of `kind` holding `at`. */
export function budgetPeriodOf(kind: PeriodKind, fiscalYearStartMonth: number, at: Date): BudgetPeriod {
  const months = MONTHS[kind];
  const offset = kind === 'month' ? 0 : fiscalYearStartMonth - 1;
  const m = at.getUTCMonth();
  const since = (((m - offset) % 12) + 12) % 12;
  const first = m - (since % months);
  const y = at.getUTCFullYear();
  return { kind, start: dayText(new Date(Date.UTC(y, first, 1))), end: dayText(new Date(Date.UTC(y, first + months, 1))) };
}

/** A day as the date input gives it (YYYY-MM-DD), or null when it is not a real day. */
export function parseDay(text: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return dayText(d) === text ? d : null;
}

/** The period `steps` periods after `period` (before it when negative). */
export function stepPeriod(period: BudgetPeriod, fiscalYearStartMonth: number, steps: number): BudgetPeriod {
  const start = parseDay(period.start)!;
  const at = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + steps * MONTHS[period.kind], 1));
  return budgetPeriodOf(period.kind, fiscalYearStartMonth, at);
}

export type PeriodStanding = 'current' | 'to come' | 'ended';

/** Where a period stands at `now`: its budgets are in force, still to come, or ended (and no longer change). */
export function periodStanding(period: BudgetPeriod, now: Date): PeriodStanding {
  if (now.getTime() < parseDay(period.start)!.getTime()) return 'to come';
  return now.getTime() < parseDay(period.end)!.getTime() ? 'current' : 'ended';
}

/** A period picked: its kind, and its first day, or null for the one of that kind in force now. */
export interface PickedPeriod {
  kind: PeriodKind;
  start: string | null;
}

/**
 * The period the budgets page's address names (`#/budgets?period=month&start=2027-01-01`), so a period picked
 * can be bookmarked and shared: a kind it does not know is a year, a start that is not a day the one in force.
 */
export function pickedPeriod(kind: string | null, start: string | null): PickedPeriod {
  return {
    kind: kind === 'quarter' || kind === 'month' ? kind : 'year',
    start: start !== null && parseDay(start) !== null ? start : null,
  };
}

/** The budgets page's address for a period picked (without `start` for the one in force). */
export function budgetsHref(picked: PickedPeriod): string {
  return pageHref('budgets', { period: picked.kind, start: picked.start });
}

/** What the service's budget listing says of itself: the period it lists (with a kind asked for) and its time. */
export interface ListedPeriod {
  period: BudgetPeriod | null;
  /** RFC 3339: the service's clock when it answered. */
  as_of: string;
}

/**
 * The period the budgets page shows for `picked` and where it stands, by the service's clock (the `as_of` of
 * its answer, `listed`) and never the browser's, which may be wrong or in another year: a period picked by its
 * first day is the one the fiscal calendar has there; the one in force is the one the service listed. Until the
 * service has answered (or when it refused), the standing is null, and so is the period in force.
 */
export function periodShown(
  picked: PickedPeriod,
  fiscalYearStartMonth: number | null,
  listed: ListedPeriod | null,
): { period: BudgetPeriod | null; standing: PeriodStanding | null } {
  const period =
    picked.start !== null
      ? fiscalYearStartMonth === null
        ? null
        : budgetPeriodOf(picked.kind, fiscalYearStartMonth, parseDay(picked.start)!)
      : listed?.period?.kind === picked.kind
        ? listed.period
        : null;
  const standing = period === null || listed === null ? null : periodStanding(period, new Date(listed.as_of));
  return { period, standing };
}
