import { budgetsCsv, BUDGETS_CSV_HEADER } from './budgets-csv.js';
import type { BudgetBurn } from './budget-burn.service.js';

const burn = (over: Partial<BudgetBurn> = {}): BudgetBurn => ({
  node: 'unit:platform',
  period: { kind: 'month', start: '2026-04-01', end: '2026-05-01' },
  enforcement: 'hard',
  thresholds: [50, 80, 100],
  headcount: { allocated: 6, people: 4 },
  agents: 3,
  limit: { amount: '1200.00', tokens: 500000000 },
  spent: { amount: '12.345678901234', tokens: 1234567 },
  held: { amount: '0.5', tokens: 1000 },
  left: { amount: '1187.154321098766', tokens: 498764433 },
  effective_ratio: 0.75,
  per_head: { amount: '200', tokens: 83333333 },
  forecast: {
    burn_per_day: { amount: '1.2', tokens: 120000 },
    amount_at_period_end: '36.7',
    tokens_at_period_end: 3600000,
    limit_reached_at: new Date('2026-04-28T10:00:00.000Z'),
  },
  ...over,
});

describe('budgetsCsv', () => {
  it('writes the header, then one row per budget: exact decimal strings, whole token counts, RFC 3339 times', () => {
    const [header, row, end] = budgetsCsv([burn()]).split('\r\n');
    expect(header).toBe(BUDGETS_CSV_HEADER.join(','));
    expect(row).toBe(
      'unit:platform,month,2026-04-01,2026-05-01,hard,6,4,3,1200.00,500000000,12.345678901234,1234567,0.5,1000,1187.154321098766,498764433,0.75,200,83333333,1.2,120000,36.7,3600000,2026-04-28T10:00:00.000Z',
    );
    expect(end).toBe('');
  });

  it('leaves a cell empty where there is no value (no limit of that measure, no ratio, limit not reached)', () => {
    const row = budgetsCsv([
      burn({
        headcount: { allocated: null, people: 0 },
        limit: { amount: '10', tokens: null },
        left: { amount: '10', tokens: null },
        per_head: { amount: null, tokens: null },
        effective_ratio: null,
        forecast: { burn_per_day: { amount: '0', tokens: 0 }, amount_at_period_end: '0', tokens_at_period_end: 0, limit_reached_at: null },
      }),
    ]).split('\r\n')[1]!;
    const cells = Object.fromEntries(BUDGETS_CSV_HEADER.map((h, i) => [h, row.split(',')[i]]));
    expect(cells).toMatchObject({ headcount_allocated: '', limit_tokens: '', left_tokens: '', effective_ratio: '', amount_per_head: '', tokens_per_head: '', limit_reached_at: '' });
    expect(cells).toMatchObject({ people: '0', limit_amount: '10', spent_amount: '12.345678901234' });
  });
});
