// The readings the README shows as fast (the ones `npm run bench` times) are every dimension alone and the
// pairs people ask for, and each is summed from a small rollup, not the hourly one with every dimension.
import { endOfHour, GROUP_BY_DIMS, parseMeterRange, readingPlan } from '../../metering/readings/reading-query.js';
import { readmeReadings } from './readme-readings.js';

describe("the README's readings", () => {
  const shown = readmeReadings();

  it('are every dimension alone, and pairs, each once', () => {
    const names = shown.map((dims) => dims.join(','));
    for (const d of GROUP_BY_DIMS) expect(names).toContain(d);
    expect(shown.filter((dims) => dims.length === 2).length).toBeGreaterThanOrEqual(10);
    expect(shown.every((dims) => dims.length <= 2)).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });

  it('are each summed from a small rollup over the current period, whatever the day and hour of asking', () => {
    for (const now of ['2026-03-01T00:10:00Z', '2026-03-15T12:34:56Z', '2026-03-31T23:59:59Z'].map((s) => new Date(s))) {
      const range = parseMeterRange(undefined, undefined, now);
      for (const groupBy of shown) {
        // Hours still to come cost nothing to read (nothing has happened in them), from whichever rollup.
        const hourly = readingPlan({ ...range, groupBy, filters: {} }, null, now).filter((p) => p.rollup === 'hourly' && p.from < endOfHour(now));
        expect({ groupBy, hourly }).toEqual({ groupBy, hourly: [] });
      }
    }
  });

  it('are read from the table of the section, and nothing else', () => {
    const readme = '# x\n\n## Readings\n\nSee `from`.\n\n| `group_by` | from |\n| --- | --- |\n| `model`, `day,tier` | `x` |\n\n### Next\n\n| `hour` | |\n';
    expect(readmeReadings(readme)).toEqual([['model'], ['day', 'tier']]);
    expect(() => readmeReadings('# nothing')).toThrow(/Readings/);
  });
});
