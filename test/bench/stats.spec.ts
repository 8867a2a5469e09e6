import fc from 'fast-check';
import { percentile, ratePerSecond, round, Samples, summarize } from './stats.js';

describe('bench statistics', () => {
  it('takes nearest-rank percentiles', () => {
    const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 51)).toBe(3);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('summarises unsorted samples', () => {
    const s = summarize([5, 1, 4, 2, 3]);
    expect(s).toEqual({ count: 5, mean: 3, p50: 3, p99: 5, max: 5 });
    // One slow request in 100 is above p99; two are not.
    const fast = Array.from({ length: 99 }, () => 1);
    expect(summarize([...fast, 900]).p99).toBe(1);
    expect(summarize([...fast.slice(1), 900, 900]).p99).toBe(900);
  });

  it('percentiles are samples, ordered, and bounded by min and max', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }), (xs) => {
        const s = summarize(xs);
        expect(xs).toContain(s.p50);
        expect(xs).toContain(s.p99);
        expect(s.p50).toBeLessThanOrEqual(s.p99);
        expect(s.p99).toBeLessThanOrEqual(s.max);
        expect(s.max).toBe(Math.max(...xs));
        expect(xs.filter((x) => x <= s.p99).length / xs.length).toBeGreaterThanOrEqual(0.99);
      }),
    );
  });

  it('Samples grows past its capacity and summarises only what was added', () => {
    const samples = new Samples(2);
    for (const ms of [3, 1, 2, 10, 4]) samples.add(ms);
    expect(samples.length).toBe(5);
    expect(samples.summary()).toMatchObject({ count: 5, p50: 3, max: 10 });
  });

  it('rates and display rounding', () => {
    expect(ratePerSecond(1_000_000, 10_000)).toBe(100_000);
    expect(Number.isNaN(ratePerSecond(1, 0))).toBe(true);
    expect(round(12.3456)).toBe(12.3);
    expect(round(0.012345)).toBe(0.0123);
    expect(round(123456.7)).toBe(123457);
  });
});
