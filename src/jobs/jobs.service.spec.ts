import { msUntilNextTick, periodKey, TICK_AFTER_MS, TICK_EVERY_MS } from './jobs.service.js';

describe('repeatable job ticks', () => {
  const at = (iso: string) => new Date(iso);

  it('falls just after each whole half minute of the clock', () => {
    expect(msUntilNextTick(at('2026-12-31T23:59:59.900Z'))).toBe(350);
    expect(msUntilNextTick(at('2027-01-01T00:00:00.000Z'))).toBe(TICK_AFTER_MS);
    expect(msUntilNextTick(at('2027-01-01T00:00:00.100Z'))).toBe(150);
    expect(msUntilNextTick(at('2027-01-01T00:00:00.250Z'))).toBe(TICK_EVERY_MS);
    expect(msUntilNextTick(at('2027-01-01T00:00:12.345Z'))).toBe(30_000 - 12_345 + 250);
    expect(msUntilNextTick(at('2027-01-01T00:00:30.249Z'))).toBe(1);
  });

  it('after the tick a process makes when it starts, the next is at least 30 s later, then on the half minute', () => {
    expect(msUntilNextTick(at('2027-01-01T00:00:12.345Z'), TICK_EVERY_MS)).toBe(30_000 + 30_000 - 12_345 + 250);
    expect(msUntilNextTick(at('2027-01-01T00:00:00.100Z'), TICK_EVERY_MS)).toBe(30_000 + 150);
    expect(msUntilNextTick(at('2027-01-01T00:00:00.250Z'), TICK_EVERY_MS)).toBe(60_000);
    for (const ms of [0, 1, 249, 250, 7_000, 29_999, 30_000, 45_678, 59_999]) {
      const now = Date.UTC(2026, 11, 31, 23, 59, 0) + ms;
      const wait = msUntilNextTick(new Date(now), TICK_EVERY_MS);
      expect(wait).toBeGreaterThanOrEqual(TICK_EVERY_MS);
      expect(wait).toBeLessThanOrEqual(2 * TICK_EVERY_MS);
      expect((now + wait) % TICK_EVERY_MS).toBe(TICK_AFTER_MS);
    }
  });

  it('a tick lands in the new period of a job that starts at a whole minute, within a second of its start', () => {
    for (const ms of [0, 1, 249, 250, 7_000, 29_999, 30_000, 45_678, 59_999]) {
      const now = new Date(Date.UTC(2026, 11, 31, 23, 59, 0) + ms);
      const next = new Date(now.getTime() + msUntilNextTick(now));
      expect(msUntilNextTick(now)).toBeGreaterThan(0);
      expect(msUntilNextTick(now)).toBeLessThanOrEqual(TICK_EVERY_MS);
      expect(next.getTime() % TICK_EVERY_MS).toBe(TICK_AFTER_MS);
    }
    // The first tick at or after midnight is 250 ms after it, and it queues the new minute's (and day's) period.
    const beforeMidnight = at('2026-12-31T23:59:45.000Z');
    const first = new Date(beforeMidnight.getTime() + msUntilNextTick(beforeMidnight));
    expect(first.toISOString()).toBe('2027-01-01T00:00:00.250Z');
    expect(periodKey(first, 'minute')).toBe('2027-01-01T00:00');
    expect(periodKey(first, 'day')).toBe('2027-01-01');
  });
});
