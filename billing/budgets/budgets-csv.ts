// The budgets CSV, the one definition of its columns: GET .../budgets answers it for `Accept: text/csv`
// (or `format=csv`), and `tokenmeter budgets --csv` prints that answer as it came, so finance gets the same
// file from either. Money is the exact decimal string, tokens whole numbers, a missing value an empty cell.
import { toCsv } from '../../metering/readings/csv.js';
import type { BudgetBurn } from './budget-burn.service.js';

export const BUDGETS_CSV_HEADER = [
  'node',
  'period_kind',
  'period_start',
  'period_end',
  'enforcement',
  'headcount_allocated',
  'people',
  'agents',
  'limit_amount',
  'limit_tokens',
  'spent_amount',
  'spent_tokens',
  'held_amount',
  'held_tokens',
  'left_amount',
  'left_tokens',
  'effective_ratio',
  'amount_per_head',
  'tokens_per_head',
  'burn_amount_per_day',
  'burn_tokens_per_day',
  'forecast_amount_at_period_end',
  'forecast_tokens_at_period_end',
  'limit_reached_at',
] as const;

export function budgetsCsv(burns: readonly BudgetBurn[]): string {
  return toCsv(
    BUDGETS_CSV_HEADER,
    burns.map((b) => [
      b.node,
      b.period.kind,
      b.period.start,
      b.period.end,
      b.enforcement,
      b.headcount.allocated,
      b.headcount.people,
      b.agents,
      b.limit.amount,
      b.limit.tokens,
      b.spent.amount,
      b.spent.tokens,
      b.held.amount,
      b.held.tokens,
      b.left.amount,
      b.left.tokens,
      b.effective_ratio,
      b.per_head.amount,
      b.per_head.tokens,
      b.forecast.burn_per_day.amount,
      b.forecast.burn_per_day.tokens,
      b.forecast.amount_at_period_end,
      b.forecast.tokens_at_period_end,
      b.forecast.limit_reached_at?.toISOString() ?? null,
    ]),
  );
}
