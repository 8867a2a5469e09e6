import { MeteringError } from '../metering.errors.js';
import { endOfHour, parseGroupBy, parseInstant, parseListRange, parseMeterRange, readingPlan, type MeterQuery, type RollupPart } from './reading-query.js';

function errorOf(fn: () => unknown): { code: string; field: unknown } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MeteringError);
    return { code: (error as MeteringError).code, field: (error as MeteringError).details.field };
  }
  throw new Error('expected an error');
}

const NOW = new Date('2026-03-15T12:34:56.789Z');

describe('parseInstant', () => {
  it('reads RFC 3339 with Z, offsets and fractions', () => {
    expect(parseInstant('2026-03-01T00:00:00Z', 'from').at.toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(parseInstant('2026-03-01T01:00:00+01:00', 'from').at.toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(parseInstant('2026-02-28T19:00:00-05:00', 'from').at.toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(parseInstant('2026-03-01t00:00:00.250z', 'from').at.toISOString()).toBe('2026-03-01T00:00:00.250Z');
  });

  it('reads an unencoded + offset that arrived as a space', () => {
    expect(parseInstant('2026-03-01T01:00:00 01:00', 'from').at.toISOString()).toBe('2026-03-01T00:00:00.000Z');
  });

  it.each(['2026-03-01', '2026-03-01T00:00:00', '2026-13-01T00:00:00Z', '2026-02-29T00:00:00Z', '2026-03-01T24:00:00Z', 'yesterday', '2026-03-01T00:00:00+25:00'])(
    'refuses %s',
    (raw) => {
      expect(errorOf(() => parseInstant(raw, 'to'))).toEqual({ code: 'invalid_range', field: 'to' });
    },
  );

  it('accepts a leap day', () => {
    expect(parseInstant('2028-02-29T00:00:00Z', 'from').at.toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });
});

describe('parseMeterRange', () => {
  it('defaults to this calendar month up to the end of the current hour', () => {
    const r = parseMeterRange(undefined, undefined, NOW);
    expect(r.from.toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(r.to.toISOString()).toBe('2026-03-15T13:00:00.000Z');
  });

  it('at the first instant of a month the default range is that first hour', () => {
    const r = parseMeterRange(undefined, undefined, new Date('2026-04-01T00:00:00Z'));
    expect([r.from.toISOString(), r.to.toISOString()]).toEqual(['2026-04-01T00:00:00.000Z', '2026-04-01T01:00:00.000Z']);
  });

  it('needs whole hours and names the field', () => {
    expect(errorOf(() => parseMeterRange('2026-03-01T00:30:00Z', undefined, NOW))).toEqual({ code: 'invalid_range', field: 'from' });
    expect(errorOf(() => parseMeterRange(undefined, '2026-03-02T00:00:01Z', NOW))).toEqual({ code: 'invalid_range', field: 'to' });
    expect(errorOf(() => parseMeterRange('2026-03-01T00:00:00.0001Z', undefined, NOW))).toEqual({ code: 'invalid_range', field: 'from' });
    // +05:30 is not on a whole UTC hour.
    expect(errorOf(() => parseMeterRange('2026-03-01T00:00:00+05:30', undefined, NOW))).toEqual({ code: 'invalid_range', field: 'from' });
  });

  it('needs from < to', () => {
    expect(errorOf(() => parseMeterRange('2026-03-02T00:00:00Z', '2026-03-02T00:00:00Z', NOW))).toEqual({ code: 'invalid_range', field: 'from' });
    expect(errorOf(() => parseMeterRange('2026-03-03T00:00:00Z', '2026-03-02T00:00:00Z', NOW))).toEqual({ code: 'invalid_range', field: 'from' });
    expect(errorOf(() => parseMeterRange(undefined, '2026-02-01T00:00:00Z', NOW))).toEqual({ code: 'invalid_range', field: 'to' });
  });

  it('allows 400 days and no more', () => {
    expect(() => parseMeterRange('2025-01-01T00:00:00Z', '2026-02-05T00:00:00Z', NOW)).not.toThrow();
    expect(errorOf(() => parseMeterRange('2025-01-01T00:00:00Z', '2026-02-05T01:00:00Z', NOW))).toEqual({ code: 'invalid_range', field: 'to' });
  });

  it('endOfHour moves an exact hour to the next one', () => {
    expect(endOfHour(new Date('2026-03-15T12:00:00Z')).toISOString()).toBe('2026-03-15T13:00:00.000Z');
  });
});

describe('parseListRange', () => {
  it('is open by default and takes any instant', () => {
    expect(parseListRange(undefined, undefined)).toEqual({ from: null, to: null });
    expect(parseListRange('2026-03-01T00:00:01.5Z', undefined).from!.toISOString()).toBe('2026-03-01T00:00:01.500Z');
    expect(errorOf(() => parseListRange('2026-03-02T00:00:00Z', '2026-03-01T00:00:00Z'))).toEqual({ code: 'invalid_range', field: 'from' });
  });
});

describe('parseGroupBy', () => {
  it('reads a comma list in order, trimmed, without repeats', () => {
    expect(parseGroupBy(undefined)).toEqual([]);
    expect(parseGroupBy('')).toEqual([]);
    expect(parseGroupBy('day, model,day,label')).toEqual(['day', 'model', 'label']);
    expect(parseGroupBy('model,tier,unit,person,agent,operation,channel,label,session_context,day,hour')).toHaveLength(11);
  });

  it('refuses an unknown dimension', () => {
    expect(errorOf(() => parseGroupBy('model,colour'))).toEqual({ code: 'invalid_group_by', field: 'group_by' });
    expect(errorOf(() => parseGroupBy('model,'))).toEqual({ code: 'invalid_group_by', field: 'group_by' });
  });

  it('suggests the dimension a typo is close to, and none when nothing is close', () => {
    const message = (raw: string) => {
      try {
        parseGroupBy(raw);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(message('modle')).toMatch(/ Did you mean "model"\?$/);
    expect(message('agents')).toMatch(/ Did you mean "agent"\?$/);
    expect(message('colour')).not.toMatch(/Did you mean/);
  });
});

describe('readingPlan', () => {
  const q = (over: Partial<MeterQuery> = {}): MeterQuery => ({
    from: new Date('2026-03-01T00:00:00Z'),
    to: new Date('2026-03-16T00:00:00Z'),
    groupBy: [],
    filters: {},
    ...over,
  });
  const at = (iso: string) => new Date(iso);
  /** A plan as `<rollup> <sign> from..to` lines. */
  const show = (parts: RollupPart[]) =>
    parts.map((p) => `${p.rollup} ${p.sign === 1 ? '+' : '-'} ${p.from.toISOString().slice(0, 13)}..${p.to.toISOString().slice(0, 13)}`);
  const LATER = at('2026-06-01T00:00:00Z');

  it('whole days over tier, label, channel, day: the daily rollup alone', () => {
    expect(show(readingPlan(q(), null, LATER))).toEqual(['daily + 2026-03-01T00..2026-03-16T00']);
    const all = q({ groupBy: ['tier', 'label', 'channel', 'day'], filters: { channel: 'cli', label: 'effective' } });
    expect(show(readingPlan(all, null, LATER))).toEqual(['daily + 2026-03-01T00..2026-03-16T00']);
  });

  it('unit, person or agent (grouped, filtered, or a visibility scope): the agents rollup, or with a tier the people one', () => {
    const agents = ['agents + 2026-03-01T00..2026-03-16T00'];
    expect(show(readingPlan(q({ groupBy: ['unit', 'agent', 'day'], filters: { label: 'effective' } }), null, LATER))).toEqual(agents);
    expect(show(readingPlan(q({ filters: { person: 'p' } }), null, LATER))).toEqual(agents);
    expect(show(readingPlan(q(), { personId: 'p', unitId: 'u' }, LATER))).toEqual(agents);
    expect(show(readingPlan(q({ groupBy: ['label'] }), { personId: 'p', unitId: null }, LATER))).toEqual(agents);
    const people = ['people + 2026-03-01T00..2026-03-16T00'];
    expect(show(readingPlan(q({ groupBy: ['tier', 'person'] }), null, LATER))).toEqual(people);
    expect(show(readingPlan(q({ groupBy: ['tier'] }), { personId: 'p', unitId: 'u' }, LATER))).toEqual(people);
    // Partial days at the edges come from the hourly rollup, as for the daily one.
    const edges = q({ from: at('2026-03-01T20:00:00Z'), to: at('2026-03-15T05:00:00Z'), groupBy: ['person'] });
    expect(show(readingPlan(edges, null, LATER))).toEqual([
      'agents + 2026-03-02T00..2026-03-15T00',
      'hourly + 2026-03-01T20..2026-03-02T00',
      'hourly + 2026-03-15T00..2026-03-15T05',
    ]);
  });

  it('model, operation, session_context, or people with channel: the day rollup that keeps them', () => {
    const whole = (rollup: string) => [`${rollup} + 2026-03-01T00..2026-03-16T00`];
    expect(show(readingPlan(q({ groupBy: ['model', 'label'] }), null, LATER))).toEqual(whole('models'));
    expect(show(readingPlan(q({ groupBy: ['session_context', 'tier', 'day'], filters: { model: 'm' } }), null, LATER))).toEqual(whole('models'));
    expect(show(readingPlan(q({ groupBy: ['operation', 'label', 'day'] }), null, LATER))).toEqual(whole('operations'));
    expect(show(readingPlan(q({ groupBy: ['person', 'channel'] }), null, LATER))).toEqual(whole('people_channels'));
    expect(show(readingPlan(q({ groupBy: ['unit'], filters: { channel: 'cli' } }), null, LATER))).toEqual(whole('people_channels'));
    // A member's reading by channel: their person and unit are kept beside the channel.
    expect(show(readingPlan(q({ groupBy: ['channel'] }), { personId: 'p', unitId: null }, LATER))).toEqual(whole('people_channels'));
    // Totals and tier, label and channel stay with the daily rollup, which comes first.
    expect(show(readingPlan(q({ groupBy: ['tier', 'label'] }), null, LATER))).toEqual(whole('daily'));
  });

  it('by hour: one row an hour (hours), the hourly totals when the label is asked, else the full hourly rollup', () => {
    expect(show(readingPlan(q({ groupBy: ['hour'] }), null, LATER))).toEqual(['hours + 2026-03-01T00..2026-03-16T00']);
    expect(show(readingPlan(q({ groupBy: ['hour', 'label'] }), null, LATER))).toEqual(['hourly_totals + 2026-03-01T00..2026-03-16T00']);
    expect(show(readingPlan(q({ groupBy: ['hour', 'label', 'day'], filters: { label: 'effective' } }), null, LATER))).toEqual([
      'hourly_totals + 2026-03-01T00..2026-03-16T00',
    ]);
    expect(show(readingPlan(q({ groupBy: ['hour', 'tier'] }), null, LATER))).toEqual(['hourly + 2026-03-01T00..2026-03-16T00']);
  });

  it('what no day rollup keeps together (a pair across rollups, or a member by model): the hourly rollup alone', () => {
    const hourly = ['hourly + 2026-03-01T00..2026-03-16T00'];
    expect(show(readingPlan(q({ groupBy: ['person', 'operation'] }), null, LATER))).toEqual(hourly);
    expect(show(readingPlan(q({ groupBy: ['model', 'channel'] }), null, LATER))).toEqual(hourly);
    expect(show(readingPlan(q({ groupBy: ['operation'], filters: { person: 'p' } }), null, LATER))).toEqual(hourly);
    expect(show(readingPlan(q({ groupBy: ['agent', 'channel'] }), null, LATER))).toEqual(hourly);
    expect(show(readingPlan(q({ groupBy: ['session_context'] }), { personId: 'p', unitId: 'u' }, LATER))).toEqual(hourly);
    expect(show(readingPlan(q({ filters: { model: 'm' } }), { personId: 'p', unitId: 'u' }, LATER))).toEqual(hourly);
  });

  it('partial days at the edges: their hours from an hourly rollup (one row an hour, for a total)', () => {
    const r = q({ from: at('2026-03-01T20:00:00Z'), to: at('2026-03-15T05:00:00Z') });
    expect(show(readingPlan(r, null, LATER))).toEqual([
      'daily + 2026-03-02T00..2026-03-15T00',
      'hours + 2026-03-01T20..2026-03-02T00',
      'hours + 2026-03-15T00..2026-03-15T05',
    ]);
  });

  it('a partial day mostly inside the range: its whole day less the hours outside', () => {
    const r = q({ from: at('2026-03-01T02:00:00Z'), to: at('2026-03-15T21:00:00Z') });
    expect(show(readingPlan(r, null, LATER))).toEqual([
      'daily + 2026-03-01T00..2026-03-16T00',
      'hours - 2026-03-01T00..2026-03-01T02',
      'hours - 2026-03-15T21..2026-03-16T00',
    ]);
  });

  it('this month so far: today from the daily rollup less the hours still to come, which cost nothing to read', () => {
    const now = at('2026-03-15T12:34:56Z');
    const r = parseMeterRange(undefined, undefined, now);
    expect(show(readingPlan(q(r), null, now))).toEqual(['daily + 2026-03-01T00..2026-03-16T00', 'hours - 2026-03-15T13..2026-03-16T00']);
    // The last hour of the day: nothing to take away.
    const late = at('2026-03-15T23:10:00Z');
    expect(show(readingPlan(q(parseMeterRange(undefined, undefined, late)), null, late))).toEqual(['daily + 2026-03-01T00..2026-03-16T00']);
    // The first instant of the month: the first day less its 23 hours to come.
    const first = at('2026-03-01T00:00:00Z');
    expect(show(readingPlan(q(parseMeterRange(undefined, undefined, first)), null, first))).toEqual([
      'daily + 2026-03-01T00..2026-03-02T00',
      'hours - 2026-03-01T01..2026-03-02T00',
    ]);
    // Asked for afterwards, the same range is that hour.
    expect(show(readingPlan(q(parseMeterRange(undefined, undefined, first)), null, LATER))).toEqual(['hours + 2026-03-01T00..2026-03-01T01']);
  });

  it('within one day, or across one midnight without a whole day', () => {
    expect(show(readingPlan(q({ from: at('2026-03-10T09:00:00Z'), to: at('2026-03-10T10:00:00Z') }), null, LATER))).toEqual([
      'hours + 2026-03-10T09..2026-03-10T10',
    ]);
    expect(show(readingPlan(q({ from: at('2026-03-10T01:00:00Z'), to: at('2026-03-10T23:00:00Z') }), null, LATER))).toEqual([
      'daily + 2026-03-10T00..2026-03-11T00',
      'hours - 2026-03-10T00..2026-03-10T01',
      'hours - 2026-03-10T23..2026-03-11T00',
    ]);
    expect(show(readingPlan(q({ from: at('2026-03-10T20:00:00Z'), to: at('2026-03-11T03:00:00Z') }), null, LATER))).toEqual([
      'hours + 2026-03-10T20..2026-03-11T03',
    ]);
    expect(show(readingPlan(q({ from: at('2026-03-10T02:00:00Z'), to: at('2026-03-11T03:00:00Z') }), null, LATER))).toEqual([
      'daily + 2026-03-10T00..2026-03-11T00',
      'hours - 2026-03-10T00..2026-03-10T02',
      'hours + 2026-03-11T00..2026-03-11T03',
    ]);
  });

  it('always covers exactly the range: every hour counted once, net', () => {
    const HOUR = 3_600_000;
    const base = Date.parse('2026-03-01T00:00:00Z');
    const wrong: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const a = base + Math.floor(Math.random() * 24 * 40) * HOUR;
      const b = a + (1 + Math.floor(Math.random() * 24 * 20)) * HOUR;
      const now = new Date(base + Math.floor(Math.random() * 24 * 70) * HOUR + 1234);
      const parts = readingPlan(q({ from: new Date(a), to: new Date(b), groupBy: ['day'] }), null, now);
      const count = new Map<number, number>();
      for (const p of parts) {
        for (let h = p.from.getTime(); h < p.to.getTime(); h += HOUR) count.set(h, (count.get(h) ?? 0) + p.sign);
        if (p.rollup === 'daily' && (p.from.getTime() % (24 * HOUR) !== 0 || p.to.getTime() % (24 * HOUR) !== 0)) wrong.push(`day range ${i}`);
        if (p.from.getTime() >= p.to.getTime()) wrong.push(`empty part ${i}`);
      }
      for (const [h, n] of count) if (n !== (h >= a && h < b ? 1 : 0)) wrong.push(`${new Date(h).toISOString()} counted ${n} in ${i}`);
      for (let h = a; h < b; h += HOUR) if (count.get(h) !== 1) wrong.push(`${new Date(h).toISOString()} missing in ${i}`);
      if (parts.filter((p) => p.rollup === 'daily').length > 1) wrong.push(`two day ranges in ${i}`);
    }
    expect(wrong).toEqual([]);
  });
});
