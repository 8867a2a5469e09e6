import type { components } from '../../client/client.js';
import { transferLine } from './billing.js';

type Budget = components['schemas']['Budget'];

const budget = (node: string, limits: Partial<Pick<Budget, 'headcount' | 'token_limit' | 'amount_limit'>>): Budget => ({
  node,
  period: { kind: 'quarter', start: '2026-10-01', end: '2027-01-01' },
  headcount: null,
  token_limit: null,
  amount_limit: null,
  enforcement: 'soft',
  thresholds: [50, 80, 100],
  updated_at: '2026-12-03T00:00:00.000Z',
  ...limits,
});

describe('transferLine', () => {
  it('names only the measures that moved, and what each side allocates after', () => {
    const line = transferLine({
      from: budget('unit:platform', { headcount: 5, amount_limit: '1150', token_limit: 500_000_000 }),
      to: budget('unit:data', { headcount: 3, amount_limit: '350' }),
      moved: { amount: '50', tokens: 0, headcount: 1 },
    }, 'unit:data');
    expect(line).toBe(
      'moved amount 50, headcount 1 from unit:platform to unit:data (quarter from 2026-10-01); ' +
        'unit:platform now allocates amount 1150, 500,000,000 tokens, headcount 5, unit:data amount 350, headcount 3',
    );
  });

  it('tokens alone, with a zero amount written with decimals', () => {
    const line = transferLine({
      from: budget('unit:a', { token_limit: 900 }),
      to: budget('account', { token_limit: 5000 }),
      moved: { amount: '0.00', tokens: 100, headcount: 0 },
    }, 'account');
    expect(line).toBe('moved 100 tokens from unit:a to account (quarter from 2026-10-01); unit:a now allocates 900 tokens, account 5,000 tokens');
  });

  it('back to a parent without a budget of its own', () => {
    const line = transferLine({ from: budget('unit:a', { amount_limit: '40' }), to: null, moved: { amount: '10', tokens: 0, headcount: 0 } }, 'account');
    expect(line).toBe('moved amount 10 from unit:a to account (quarter from 2026-10-01); unit:a now allocates amount 40');
  });
});
