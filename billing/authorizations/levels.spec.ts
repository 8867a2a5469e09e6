import fc from 'fast-check';
import { levels, limitLevelOf, periodOf, periodKey, type PeriodKind } from './counters.js';
import { candidateBudgetLevels, parseLevel, pathNodes, unitChain } from './levels.js';

describe('periods on the fiscal calendar', () => {
  const at = new Date('2026-02-15T10:00:00Z');

  it('starts years and quarters at the fiscal year start month', () => {
    expect(periodKey(periodOf('year', 4, at))).toBe('year:2025-04-01');
    expect(periodOf('year', 4, at).end.toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(periodKey(periodOf('quarter', 4, at))).toBe('quarter:2026-01-01');
    expect(periodKey(periodOf('quarter', 1, at))).toBe('quarter:2026-01-01');
    expect(periodKey(periodOf('quarter', 2, at))).toBe('quarter:2026-02-01');
    expect(periodKey(periodOf('quarter', 3, at))).toBe('quarter:2025-12-01');
    expect(periodKey(periodOf('month', 4, at))).toBe('month:2026-02-01');
    expect(periodKey(periodOf('year', 1, new Date('2026-12-31T23:59:59.999Z')))).toBe('year:2026-01-01');
    expect(periodKey(periodOf('year', 1, new Date('2027-01-01T00:00:00Z')))).toBe('year:2027-01-01');
  });

  it('puts every instant in exactly one period of each kind, on month boundaries', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom<PeriodKind>('year', 'quarter', 'month'),
        (instant, month, kind) => {
          const p = periodOf(kind, month, instant);
          expect(p.start.getTime() <= instant.getTime() && instant.getTime() < p.end.getTime()).toBe(true);
          expect(p.start.getUTCDate()).toBe(1);
          const months = (p.end.getUTCFullYear() - p.start.getUTCFullYear()) * 12 + p.end.getUTCMonth() - p.start.getUTCMonth();
          expect(months).toBe(kind === 'year' ? 12 : kind === 'quarter' ? 3 : 1);
          if (kind !== 'month') expect((p.start.getUTCMonth() - (month - 1) + 12) % (kind === 'year' ? 12 : 3)).toBe(0);
          // The next instant after the end is in the next period.
          expect(periodOf(kind, month, p.end).start.getTime()).toBe(p.end.getTime());
        },
      ),
    );
  });
});

describe('levels', () => {
  it('read back what they name', () => {
    const q = periodOf('quarter', 4, new Date('2026-05-02T00:00:00Z'));
    expect(parseLevel(levels.budget({ kind: 'unit', id: 'platform' }, q))).toEqual({ kind: 'budget', node: { kind: 'unit', id: 'platform' }, period: q });
    expect(parseLevel(levels.budget({ kind: 'account' }, q))).toMatchObject({ node: { kind: 'account' } });
    expect(parseLevel(levels.agent('bot-1', q))).toEqual({ kind: 'agent', agentId: 'bot-1', period: q });
    expect(parseLevel(levels.session('external', 'a/b:c'))).toEqual({ kind: 'session', context: 'external', sessionId: 'a/b:c' });
    expect(parseLevel(levels.sessionCap('internal'))).toEqual({ kind: 'sessioncap', context: 'internal' });
    expect(parseLevel('credits')).toEqual({ kind: 'credits' });
    for (const bad of ['budget/team:x/month:2026-01-01', 'budget/account/week:2026-01-01', 'session/other/x', 'nope']) {
      expect(() => parseLevel(bad)).toThrow();
    }
  });

  it('send a session to its context cap for the limit', () => {
    expect(limitLevelOf('session/external/s-1')).toBe('sessioncap/external');
    expect(limitLevelOf('budget/account/year:2026-01-01')).toBe('budget/account/year:2026-01-01');
  });

  it('walk a person up the tree to the account, every period kind', () => {
    const parents = new Map([
      ['team', 'dept'],
      ['dept', null],
    ]);
    expect(unitChain('team', parents)).toEqual(['team', 'dept']);
    expect(unitChain('loop', new Map([['loop', 'loop']]))).toEqual(['loop']);
    const nodes = pathNodes('ada', ['team', 'dept']);
    expect(nodes).toEqual([{ kind: 'person', id: 'ada' }, { kind: 'unit', id: 'team' }, { kind: 'unit', id: 'dept' }, { kind: 'account' }]);
    expect(candidateBudgetLevels(nodes, 1, new Date('2026-03-15T00:00:00Z')).slice(0, 3)).toEqual([
      'budget/person:ada/year:2026-01-01',
      'budget/person:ada/quarter:2026-01-01',
      'budget/person:ada/month:2026-03-01',
    ]);
  });
});
