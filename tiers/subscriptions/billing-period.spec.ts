import { billingPeriod } from './billing-period.js';

describe('billingPeriod', () => {
  it('starts on the anchor day at midnight UTC', () => {
    expect(billingPeriod(15, new Date('2026-03-20T10:00:00Z'))).toEqual({
      start: new Date('2026-03-15T00:00:00Z'),
      end: new Date('2026-04-15T00:00:00Z'),
    });
  });
  it('belongs to the previous period before the anchor day, across a year end', () => {
    expect(billingPeriod(15, new Date('2026-01-14T23:59:59.999Z'))).toEqual({
      start: new Date('2025-12-15T00:00:00Z'),
      end: new Date('2026-01-15T00:00:00Z'),
    });
  });
  it('the anchor instant itself opens the new period', () => {
    expect(billingPeriod(1, new Date('2026-02-01T00:00:00Z')).start).toEqual(new Date('2026-02-01T00:00:00Z'));
  });
  it('refuses anchors that some months lack', () => {
    expect(() => billingPeriod(29, new Date())).toThrow(RangeError);
  });
});
