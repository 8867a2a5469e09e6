import fc from 'fast-check';
import { busyAfter, DEFAULT_LEASE, fits, leasedFigures, sliceFor, type Busy, type Slice } from './lease-policy.js';

/** Six figures for one level: limit amount and tokens ('-' when none), spent, held. */
const level = (la: number | '-', lt: number | '-', sa: number, st: number, ha: number, ht: number) => [la, lt, sa, st, ha, ht];

describe('sliceFor', () => {
  it('leases `holds` estimates when far from every limit', () => {
    expect(sliceFor(DEFAULT_LEASE, { a: 100_000, k: 10 }, ['ok', 0, ...level(1_000_000_000, '-', 0, 0, 100_000, 10)], 2, 1)).toEqual({ a: 25_600_000, k: 2_560 });
  });

  it('leases no more than 1/share of the least left at any level, per measure', () => {
    const figures = ['ok', 0, ...level(100_000_000, '-', 0, 0, 0, 0), ...level(20_000_000, 10_000, 4_000_000, 2_000, 0, 0)];
    // Amount: the second level has 16.00 left, an eighth is 2.00; tokens: 8,000 left, an eighth 1,000.
    expect(sliceFor(DEFAULT_LEASE, { a: 100_000, k: 100 }, figures, 2, 2)).toEqual({ a: 2_000_000, k: 1_000 });
  });

  it('leases nothing under two estimates (near a limit, holds go through Redis)', () => {
    expect(sliceFor(DEFAULT_LEASE, { a: 100_000, k: 0 }, ['ok', 0, ...level(1_500_000, '-', 0, 0, 0, 0)], 2, 1)).toBeNull();
    expect(sliceFor(DEFAULT_LEASE, { a: 100_000, k: 0 }, ['ok', 0, ...level(1_600_000, '-', 0, 0, 0, 0)], 2, 1)).toEqual({ a: 200_000, k: 0 });
    expect(sliceFor(DEFAULT_LEASE, { a: 1, k: 50 }, ['ok', 0, ...level('-', 700, 0, 0, 0, 0)], 2, 1)).toBeNull();
    // Past the limit (spend above it), nothing.
    expect(sliceFor(DEFAULT_LEASE, { a: 1, k: 0 }, ['ok', 0, ...level(10, '-', 20, 0, 0, 0)], 2, 1)).toBeNull();
  });

  it('leases nothing when leases are off', () => {
    expect(sliceFor({ ...DEFAULT_LEASE, holds: 0 }, { a: 1, k: 1 }, ['ok', 0, ...level('-', '-', 0, 0, 0, 0)], 2, 1)).toBeNull();
  });

  it('never leases more than 1/share of what is left, nor fewer than two estimates (any figures)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.option(fc.integer({ min: 0, max: 1e12 })), fc.option(fc.integer({ min: 0, max: 1e9 })), fc.nat(1e11), fc.nat(1e8), fc.nat(1e11), fc.nat(1e8)), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 1e9 }),
        fc.nat(1e6),
        (levels, a, k) => {
          const figures: (string | number)[] = ['ok', 0];
          for (const [la, lt, sa, st, ha, ht] of levels) figures.push(la ?? '-', lt ?? '-', sa, st, ha, ht);
          const slice = sliceFor(DEFAULT_LEASE, { a, k }, figures, 2, levels.length);
          if (slice === null) return;
          expect(slice.a).toBeGreaterThanOrEqual(2 * a);
          expect(slice.k).toBeGreaterThanOrEqual(2 * k);
          expect(slice.a).toBeLessThanOrEqual(DEFAULT_LEASE.holds * a);
          for (const [la, lt, sa, st, ha, ht] of levels) {
            if (la !== null) expect(slice.a * DEFAULT_LEASE.share).toBeLessThanOrEqual(la - sa - ha);
            if (lt !== null) expect(slice.k * DEFAULT_LEASE.share).toBeLessThanOrEqual(lt - st - ht);
          }
        },
      ),
    );
  });
});

describe('holds answered from a lease', () => {
  it('answer only what fits, and report the unused slice as not held: left = the lease-time left plus the unused slice', () => {
    fc.assert(
      fc.property(
        fc.record({ la: fc.integer({ min: 1e6, max: 1e12 }), sa: fc.nat(1e5), ha: fc.nat(1e5) }),
        fc.array(fc.record({ a: fc.integer({ min: 1, max: 50_000 }), k: fc.nat(100) }), { maxLength: 80 }),
        ({ la, sa, ha }, estimates) => {
          const est = estimates[0] ?? { a: 1, k: 0 };
          const before = ['ok', 0, ...level(la, '-', sa, 0, ha, 0)];
          const slice = sliceFor(DEFAULT_LEASE, est, before, 2, 1);
          if (slice === null) return;
          // The lease's own hold, as Redis answers it: its slice added to held.
          const leaseReply = ['ok', 0, ...level(la, '-', sa, 0, ha + slice.a, slice.k)];
          let left: Slice = slice;
          let answered = { a: 0, k: 0 };
          for (const e of estimates) {
            if (!fits(left, e)) continue;
            left = { a: left.a - e.a, k: left.k - e.k };
            answered = { a: answered.a + e.a, k: answered.k + e.k };
            const f = leasedFigures(leaseReply, 2, 1, left);
            // Held: what was held before the lease plus the holds answered from it.
            expect(f[6]).toBe(ha + answered.a);
            expect(f[7]).toBe(answered.k);
          }
          // What was answered never passes the slice.
          expect(answered.a).toBeLessThanOrEqual(slice.a);
          expect(answered.k).toBeLessThanOrEqual(slice.k);
        },
      ),
    );
  });
});

describe('busyAfter', () => {
  it('calls a path busy at busyHolds holds within busyMs, and starts counting again after', () => {
    const busy: Busy = { since: -Infinity, holds: 0 };
    const s = { ...DEFAULT_LEASE, busyHolds: 3, busyMs: 1000 };
    expect([busyAfter(s, busy, 0), busyAfter(s, busy, 10), busyAfter(s, busy, 20), busyAfter(s, busy, 30)]).toEqual([false, false, true, true]);
    expect(busyAfter(s, busy, 1_500)).toBe(false);
    // A clock that went back starts a new window too.
    expect(busyAfter(s, busy, 100)).toBe(false);
  });
});
