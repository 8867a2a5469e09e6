import fc from 'fast-check';
import { Dec } from '../../tiers/pricing/decimal.js';
import { classifyTask, type TaskEvent, type TaskStatus } from './classify.js';
import { SPEND_LABELS } from './label-totals.js';
import { summarizeTask } from './task-summary.js';

const T0 = Date.parse('2026-03-01T09:00:00.000Z');

function ev(n: number, fields: Partial<TaskEvent>): TaskEvent {
  return {
    event_key: `e${n}`,
    attempt_id: null,
    outcome: null,
    error_signature: null,
    learned_from: null,
    tokens: 100,
    cost: '0.001',
    timestamp: new Date(T0 + n * 60_000).toISOString(),
    sequence: n,
    ...fields,
  };
}

describe('summarizeTask', () => {
  it('sums events, tokens and exact cost per label, and counts attempts and failed ones', () => {
    const events = [
      ev(1, { attempt_id: 'a1', outcome: 'failure', error_signature: 'E', tokens: 400, cost: '0.1' }),
      ev(2, { attempt_id: 'a2', outcome: 'failure', error_signature: 'E', tokens: 300, cost: '0.2' }),
      ev(3, { attempt_id: 'a3', outcome: 'success', tokens: 800, cost: '0.000000000000000001' }),
    ];
    expect(summarizeTask(classifyTask('succeeded', events), events)).toEqual({
      attempts: 3,
      failed_attempts: 2,
      labels: {
        effective: { events: 2, tokens: 1200, cost: '0.100000000000000001' },
        ineffective: { events: 1, tokens: 300, cost: '0.2' },
        pending: { events: 0, tokens: 0, cost: '0' },
        unclassified: { events: 0, tokens: 0, cost: '0' },
      },
    });
  });

  it('refuses events the classification did not label', () => {
    const events = [ev(1, {})];
    expect(() => summarizeTask(classifyTask('failed', events), [...events, ev(2, {})])).toThrow('not classified');
  });

  it('conserves events, tokens and cost over the labels, for any task', () => {
    const eventArb = fc.record({
      attempt: fc.integer({ min: 0, max: 4 }),
      outcome: fc.constantFrom<'success' | 'failure' | null>('success', 'failure', null),
      signature: fc.constantFrom('E1', 'E2'),
      tokens: fc.integer({ min: 0, max: 1_000_000 }),
      cents: fc.integer({ min: 0, max: 1_000_000 }),
    });
    fc.assert(
      fc.property(fc.constantFrom<TaskStatus>('succeeded', 'failed', 'abandoned', 'open'), fc.array(eventArb, { maxLength: 20 }), (status, raw) => {
        const events = raw.map((r, i) =>
          ev(i, { attempt_id: `a${r.attempt}`, outcome: r.outcome, error_signature: r.outcome === 'failure' ? r.signature : null, tokens: r.tokens, cost: new Dec(r.cents).dividedBy(100).toFixed() }),
        );
        const s = summarizeTask(classifyTask(status, events), events);
        const sum = SPEND_LABELS.map((l) => s.labels[l]);
        return (
          sum.reduce((n, l) => n + l.events, 0) === events.length &&
          sum.reduce((n, l) => n + l.tokens, 0) === events.reduce((n, e) => n + e.tokens, 0) &&
          sum.reduce((c, l) => c.plus(l.cost), new Dec(0)).eq(events.reduce((c, e) => c.plus(e.cost), new Dec(0))) &&
          s.failed_attempts <= s.attempts
        );
      }),
      { numRuns: 200 },
    );
  });
});
