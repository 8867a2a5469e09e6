import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson } from '../../src/audit/audit-chain.js';
import { contentHash, EARLIEST_TIMESTAMP, MAX_FUTURE_MS, prepareEvent, type PreparedEvent } from './event-input.js';
import { namedUnitRejection, parseTimestamp, unitAtTime } from './event-input.js';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

describe('parseTimestamp', () => {
  it('gives the instant JavaScript’s own ISO parser gives, to the millisecond, for any valid RFC 3339 time', () => {
    const timestamp = fc
      .record({
        y: fc.integer({ min: 0, max: 9999 }),
        mo: fc.integer({ min: 1, max: 12 }),
        d: fc.integer({ min: 1, max: 28 }),
        h: fc.integer({ min: 0, max: 23 }),
        mi: fc.integer({ min: 0, max: 59 }),
        s: fc.integer({ min: 0, max: 59 }),
        fraction: fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined }),
        zone: fc.oneof(
          fc.constantFrom('Z', 'z'),
          fc.record({ sign: fc.constantFrom('+', '-'), h: fc.integer({ min: 0, max: 23 }), m: fc.integer({ min: 0, max: 59 }) }).map((o) => `${o.sign}${pad(o.h, 2)}:${pad(o.m, 2)}`),
        ),
        separator: fc.constantFrom('T', 't', ' '),
      })
      .map((t) => ({
        raw: `${pad(t.y, 4)}-${pad(t.mo, 2)}-${pad(t.d, 2)}${t.separator}${pad(t.h, 2)}:${pad(t.mi, 2)}:${pad(t.s, 2)}${t.fraction === undefined ? '' : `.${t.fraction}`}${t.zone}`,
        // The reference: Date's ISO parser, given 'T', 'Z' and exactly three fraction digits.
        iso: `${pad(t.y, 4)}-${pad(t.mo, 2)}-${pad(t.d, 2)}T${pad(t.h, 2)}:${pad(t.mi, 2)}:${pad(t.s, 2)}.${(t.fraction ?? '').slice(0, 3).padEnd(3, '0')}${t.zone.toUpperCase()}`,
      }));
    fc.assert(
      fc.property(timestamp, ({ raw, iso }) => {
        expect(parseTimestamp(raw)?.getTime()).toBe(new Date(iso).getTime());
      }),
    );
  });

  it('reads every day of every month, leap days only in leap years', () => {
    expect(parseTimestamp('2024-02-29T00:00:00Z')?.toISOString()).toBe('2024-02-29T00:00:00.000Z');
    expect(parseTimestamp('2000-02-29T00:00:00Z')?.toISOString()).toBe('2000-02-29T00:00:00.000Z');
    expect(parseTimestamp('2023-02-29T00:00:00Z')).toBeNull();
    expect(parseTimestamp('1900-02-29T00:00:00Z')).toBeNull();
    expect(parseTimestamp('2026-04-31T00:00:00Z')).toBeNull();
    expect(parseTimestamp('2026-12-31T23:59:59.999Z')?.toISOString()).toBe('2026-12-31T23:59:59.999Z');
    expect(parseTimestamp('0050-06-01T00:00:00Z')?.getUTCFullYear()).toBe(50);
  });

  it('refuses what is not a strict RFC 3339 time with an offset', () => {
    for (const raw of [
      '2026-03-15T12:00:00', '2026-03-15', '2026-3-15T12:00:00Z', '2026-03-15T24:00:00Z', '2026-03-15T12:60:00Z',
      '2026-03-15T12:00:60Z', '2026-13-01T00:00:00Z', '2026-00-01T00:00:00Z', '2026-03-00T00:00:00Z',
      '2026-03-15T12:00:00+24:00', '2026-03-15T12:00:00+01:60', '2026-03-15T12:00:00+0100', '2026-03-15T12:00:00.Z',
      ' 2026-03-15T12:00:00Z', 'next tuesday', '',
    ]) {
      expect([raw, parseTimestamp(raw)]).toEqual([raw, null]);
    }
  });
});

describe('contentHash', () => {
  // Stored hashes tell a duplicate from a conflict for ever: the digest must never change. This is how
  // it was first computed (SHA-256 of the fields as JSON, a NUL, then the metadata as canonical JSON).
  const reference = (e: PreparedEvent) =>
    createHash('sha256')
      .update(JSON.stringify([
        e.ts.getTime(), e.person_id, e.agent_id, e.unit_id, e.session_id, e.session_context, e.task_id, e.attempt_id,
        e.outcome, e.error_signature, e.learned_from, e.task_status, e.operation, e.channel, e.model_name,
        e.usage.input, e.usage.cached_input, e.usage.cache_write, e.usage.output, e.usage.reasoning, e.reservation_id,
      ]))
      .update('\u0000')
      .update(e.metadata === null ? '' : canonicalJson(e.metadata))
      .digest('hex');

  it('is the digest it always was, with and without metadata', () => {
    const now = new Date('2026-03-15T12:00:00Z');
    const events = [
      { id: 'a', timestamp: '2026-03-15T11:00:00Z', model: 'gpt-4o', usage: { input: 10, output: 5 } },
      { id: 'b', timestamp: '2026-03-15T11:00:00.5Z', operation: 'code.edit', channel: 'program', metadata: { z: 1, a: ['ü', null, { y: '"' }] } },
      { id: 'c', timestamp: '2026-03-15T11:00:00Z', task_id: 't', attempt_id: 'a1', outcome: 'failure', error_signature: 'E', model: 'm', usage: { input: 1, output: 1 } },
    ];
    for (const [i, raw] of events.entries()) {
      const e = prepareEvent(raw, i, now);
      if ('status' in e) throw new Error(`rejected: ${e.message}`);
      expect(e.content_hash).toBe(reference(e));
      expect(contentHash(e)).toBe(reference(e));
    }
  });
});

describe('prepareEvent timestamps', () => {
  const now = new Date('2026-03-15T12:00:00.000Z');
  const codeOf = (timestamp: string) => {
    const e = prepareEvent({ id: 'e1', timestamp, channel: 'program' }, 0, now);
    return 'status' in e ? { code: e.code, field: e.field } : 'accepted';
  };

  it('takes any time from 2000-01-01 up to five minutes ahead, and refuses an unset date or one too far ahead', () => {
    expect(codeOf(EARLIEST_TIMESTAMP)).toBe('accepted');
    expect(codeOf('2000-01-01T01:00:00+01:00')).toBe('accepted');
    expect(codeOf(new Date(now.getTime() + MAX_FUTURE_MS).toISOString())).toBe('accepted');
    for (const unset of ['0001-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '1999-12-31T23:59:59.999Z', '2000-01-01T00:30:00+01:00']) {
      expect([unset, codeOf(unset)]).toEqual([unset, { code: 'timestamp_too_old', field: 'timestamp' }]);
    }
    expect(codeOf(new Date(now.getTime() + MAX_FUTURE_MS + 1).toISOString())).toEqual({ code: 'timestamp_in_future', field: 'timestamp' });
  });

  it('accepts exactly the instants in [2000-01-01, now + 5 min]', () => {
    const earliest = Date.parse(EARLIEST_TIMESTAMP);
    fc.assert(
      fc.property(fc.integer({ min: Date.parse('0001-01-01T00:00:00Z'), max: Date.parse('9999-12-31T23:59:59Z') }), (ms) => {
        const accepted = codeOf(new Date(ms).toISOString()) === 'accepted';
        expect(accepted).toBe(ms >= earliest && ms <= now.getTime() + MAX_FUTURE_MS);
      }),
    );
  });
});

describe('unitAtTime and namedUnitRejection', () => {
  const moves = [
    { unit_id: 'first', from_us: Date.parse('2026-05-10T00:00:00Z') * 1000 },
    { unit_id: 'second', from_us: Date.parse('2026-05-11T00:00:00Z') * 1000 },
  ];
  const at = (iso: string) => new Date(iso);

  it('is the unit of the latest move at or before the time, the first unit before any, null with none', () => {
    expect(unitAtTime(moves, at('2026-05-01T00:00:00Z'))).toBe('first');
    expect(unitAtTime(moves, at('2026-05-10T12:00:00Z'))).toBe('first');
    expect(unitAtTime(moves, at('2026-05-11T00:00:00Z'))).toBe('second');
    expect(unitAtTime(moves, at('2027-01-01T00:00:00Z'))).toBe('second');
    expect(unitAtTime([], at('2026-05-11T00:00:00Z'))).toBeNull();
  });

  it('accepts no unit or the person’s at the time; refuses an unknown one and another existing one, naming the person’s', () => {
    const event = (unit_id: string | null, timestamp = '2026-05-10T12:00:00Z') => {
      const e = prepareEvent({ id: 'e', timestamp, ...(unit_id === null ? {} : { unit_id }) }, 3, at('2026-06-01T00:00:00Z')) as PreparedEvent;
      e.person_id = 'ada';
      return e;
    };
    const existing = new Set(['first', 'second']);
    expect(namedUnitRejection(event(null), existing, moves)).toBeNull();
    expect(namedUnitRejection(event('first'), existing, moves)).toBeNull();
    expect(namedUnitRejection(event('second', '2026-05-12T00:00:00Z'), existing, moves)).toBeNull();
    expect(namedUnitRejection(event('zzz'), existing, moves)).toMatchObject({ index: 3, id: 'e', status: 'rejected', code: 'unit_not_found', field: 'unit_id' });
    const other = namedUnitRejection(event('second'), existing, moves);
    expect(other).toMatchObject({ code: 'unit_not_owner', field: 'unit_id' });
    expect(other!.message).toContain('"first"');
  });
});
