import fc from 'fast-check';
import { baseDelayMs, JITTER, MAX_RETRY_MS, nextAttemptAt, RETRY_WINDOW_MS } from './retry-schedule.js';

const start = new Date('2026-03-01T00:00:00Z');
const deadline = new Date(start.getTime() + RETRY_WINDOW_MS);

/** Every attempt of a delivery that always fails, from its creation to giving up. */
function attemptTimes(draws: () => number): number[] {
  const times = [start.getTime()];
  for (;;) {
    const next = nextAttemptAt(times.length, new Date(times[times.length - 1]!), deadline, draws());
    if (next === null) return times;
    times.push(next.getTime());
  }
}

describe('retry schedule', () => {
  it('doubles from 30 s up to an hour', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 50].map(baseDelayMs)).toEqual([
      30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000, 3_600_000,
    ]);
    expect(() => baseDelayMs(0)).toThrow();
  });

  it('without jitter (a draw of 0.5) retries a whole day, then gives up', () => {
    const times = attemptTimes(() => 0.5);
    expect(times.slice(0, 4).map((t) => (t - start.getTime()) / 1000)).toEqual([0, 30, 90, 210]);
    expect(times).toHaveLength(30);
    expect(deadline.getTime() - times[times.length - 1]!).toBeLessThan(MAX_RETRY_MS);
  });

  it('law: the next attempt is within the jittered backoff, never after the deadline, and it only gives up near the deadline', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: RETRY_WINDOW_MS }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (failed, offset, random) => {
        const now = new Date(start.getTime() + offset);
        const next = nextAttemptAt(failed, now, deadline, random);
        const base = baseDelayMs(failed);
        if (next === null) {
          // It gives up only when even the longest jittered wait could pass the deadline: within 1.25 h of it.
          expect(now.getTime() + Math.ceil(base * (1 + JITTER))).toBeGreaterThan(deadline.getTime());
          expect(now.getTime()).toBeGreaterThan(deadline.getTime() - MAX_RETRY_MS * (1 + JITTER));
        } else {
          const delay = next.getTime() - now.getTime();
          expect(delay).toBeGreaterThanOrEqual(Math.floor(base * (1 - JITTER)));
          expect(delay).toBeLessThanOrEqual(Math.ceil(base * (1 + JITTER)));
          expect(next.getTime()).toBeLessThanOrEqual(deadline.getTime());
        }
      }),
    );
  });

  it('law: whatever the draws, a failing delivery is tried for most of a day in a bounded number of attempts', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 64 }), (draws) => {
        let i = 0;
        const times = attemptTimes(() => draws[i++ % draws.length]!);
        const last = times[times.length - 1]!;
        expect(last).toBeLessThanOrEqual(deadline.getTime());
        expect(deadline.getTime() - last).toBeLessThan(MAX_RETRY_MS * (1 + JITTER));
        expect(times.length).toBeGreaterThanOrEqual(24);
        expect(times.length).toBeLessThanOrEqual(40);
        for (let k = 1; k < times.length; k++) expect(times[k]!).toBeGreaterThan(times[k - 1]!);
      }),
    );
  });
});
