import fc from 'fast-check';
import { lastInstantBefore, versionInForceAt } from './version-in-force.js';

const v = (version: number, createdAt: string) => ({ version, created_at: new Date(createdAt) });

describe('versionInForceAt', () => {
  const versions = [v(1, '2026-03-01T00:00:00.000Z'), v(2, '2026-03-20T10:00:00.000Z'), v(3, '2026-04-01T00:00:00.000Z')];

  it('answers the newest version published at or before the instant', () => {
    expect(versionInForceAt(versions, new Date('2026-03-10T00:00:00Z'))?.version).toBe(1);
    expect(versionInForceAt(versions, new Date('2026-03-20T10:00:00.000Z'))?.version).toBe(2);
    expect(versionInForceAt(versions, new Date('2026-03-31T23:59:59.999Z'))?.version).toBe(2);
    expect(versionInForceAt(versions, new Date('2026-05-01T00:00:00Z'))?.version).toBe(3);
  });

  it('does not count a version published at the first instant of the next period in the one that ended', () => {
    expect(versionInForceAt(versions, lastInstantBefore(new Date('2026-04-01T00:00:00.000Z')))?.version).toBe(2);
    expect(lastInstantBefore(new Date('2026-04-01T00:00:00.000Z')).toISOString()).toBe('2026-03-31T23:59:59.999Z');
  });

  it('puts a rollback (a copy of an old version published as a new one) in force from its publication on', () => {
    const rolled = [v(1, '2026-03-01T00:00:00Z'), v(2, '2026-03-05T00:00:00Z'), v(3, '2026-03-10T00:00:00Z')];
    expect(versionInForceAt(rolled, new Date('2026-03-07T00:00:00Z'))?.version).toBe(2);
    expect(versionInForceAt(rolled, new Date('2026-03-11T00:00:00Z'))?.version).toBe(3);
  });

  it('orders published versions by number, not time (a clock set back cannot put an older version back in force)', () => {
    const skewed = [v(1, '2026-03-01T00:00:00Z'), v(2, '2026-03-05T00:00:00Z'), v(3, '2026-03-04T00:00:00Z')];
    expect(versionInForceAt(skewed, new Date('2026-03-04T12:00:00Z'))?.version).toBe(3);
    expect(versionInForceAt(skewed, new Date('2026-03-06T00:00:00Z'))?.version).toBe(3);
  });

  it('answers the first version before the plan was published, and null for no versions', () => {
    expect(versionInForceAt(versions, new Date('2026-01-01T00:00:00Z'))?.version).toBe(1);
    expect(versionInForceAt([], new Date('2026-01-01T00:00:00Z'))).toBeNull();
  });

  it('never answers a version published after the instant unless none was published before it', () => {
    const version = fc.record({ version: fc.integer({ min: 1, max: 50 }), created_at: fc.date({ min: new Date('2026-01-01'), max: new Date('2027-01-01'), noInvalidDate: true }) });
    fc.assert(
      fc.property(fc.uniqueArray(version, { selector: (x) => x.version, minLength: 1, maxLength: 10 }), fc.date({ min: new Date('2025-12-01'), max: new Date('2027-02-01'), noInvalidDate: true }), (vs, at) => {
        const got = versionInForceAt(vs, at)!;
        const before = vs.filter((x) => x.created_at.getTime() <= at.getTime());
        if (before.length === 0) expect(got.version).toBe(Math.min(...vs.map((x) => x.version)));
        else expect(got.version).toBe(Math.max(...before.map((x) => x.version)));
        // Whatever the order the versions are listed in.
        expect(versionInForceAt([...vs].reverse(), at)).toBe(got);
      }),
    );
  });
});
