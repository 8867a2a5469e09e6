import fc from 'fast-check';
import { compactionWindow, tableWindow } from './compaction-window.js';

describe('compactionWindow', () => {
  it('folds the closed hours and days of the lookback', () => {
    expect(compactionWindow(new Date('2026-03-15T12:34:56.789Z'), 48)).toEqual({
      hour: { from: new Date('2026-03-13T12:00:00Z'), to: new Date('2026-03-15T12:00:00Z') },
      day: { from: '2026-03-13', to: '2026-03-15' },
    });
  });

  it('reaches back whole days covering a lookback that is not whole days', () => {
    expect(compactionWindow(new Date('2026-03-01T00:10:00Z'), 25).day).toEqual({ from: '2026-02-27', to: '2026-03-01' });
  });

  it('without a lookback, folds every closed bucket', () => {
    expect(compactionWindow(new Date('2026-03-15T12:00:00Z'), null)).toEqual({
      hour: { from: null, to: new Date('2026-03-15T12:00:00Z') },
      day: { from: null, to: '2026-03-15' },
    });
  });

  it('folds meter_hours over every closed hour, the other tables over the lookback', () => {
    const w = compactionWindow(new Date('2026-03-15T12:34:56.789Z'), 48);
    expect(tableWindow('meter_hours', w)).toEqual({ hour: { from: null, to: new Date('2026-03-15T12:00:00Z') }, day: w.day });
    for (const table of ['meter_hourly', 'meter_daily', 'meter_spend_daily']) expect(tableWindow(table, w)).toBe(w);
  });

  it('refuses a lookback that is not a whole number of hours', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => compactionWindow(new Date(), bad)).toThrow(RangeError);
  });

  it('never reaches the open hour or day, and covers the lookback', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), fc.integer({ min: 1, max: 24 * 400 }), (now, hours) => {
        const w = compactionWindow(now, hours);
        expect(w.hour.to.getTime()).toBeLessThanOrEqual(now.getTime());
        expect(now.getTime() - w.hour.to.getTime()).toBeLessThan(3_600_000);
        expect(w.hour.to.getTime() - w.hour.from!.getTime()).toBe(hours * 3_600_000);
        expect(w.day.to).toBe(now.toISOString().slice(0, 10));
        expect(Date.parse(w.day.from!)).toBeLessThanOrEqual(w.hour.from!.getTime());
        expect(Date.parse(w.day.to) - Date.parse(w.day.from!)).toBeLessThan(hours * 3_600_000 + 86_400_000);
      }),
    );
  });
});
