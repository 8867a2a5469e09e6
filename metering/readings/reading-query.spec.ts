import { MeteringError } from '../metering.errors.js';
import { endOfHour, parseGroupBy, parseInstant, parseListRange, parseMeterRange, rollupFor, type MeterQuery } from './reading-query.js';

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
});

describe('rollupFor', () => {
  const q = (over: Partial<MeterQuery> = {}): MeterQuery => ({
    from: new Date('2026-03-01T00:00:00Z'),
    to: new Date('2026-03-16T00:00:00Z'),
    groupBy: [],
    filters: {},
    ...over,
  });

  it('uses the daily rollup for whole days over tier, label, channel, day', () => {
    expect(rollupFor(q(), null)).toBe('daily');
    expect(rollupFor(q({ groupBy: ['tier', 'label', 'channel', 'day'], filters: { channel: 'cli', label: 'effective' } }), null)).toBe('daily');
  });

  it('uses the hourly rollup otherwise', () => {
    expect(rollupFor(q({ to: new Date('2026-03-15T13:00:00Z') }), null)).toBe('hourly');
    expect(rollupFor(q({ groupBy: ['hour'] }), null)).toBe('hourly');
    expect(rollupFor(q({ groupBy: ['model'] }), null)).toBe('hourly');
    expect(rollupFor(q({ filters: { person: 'p' } }), null)).toBe('hourly');
    expect(rollupFor(q(), { personId: 'p', unitId: 'u' })).toBe('hourly');
  });
});
