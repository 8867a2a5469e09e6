import fc from 'fast-check';
import { TIERS } from '../../tiers/pricing/pricing.js';
import { billingPeriod } from '../../tiers/subscriptions/billing-period.js';
import { parseLevel } from './levels.js';
import { tierCapLevels } from './tier-caps.js';

describe('tier cap levels', () => {
  it('name each capped tier in the billing period holding the instant, the cap included', () => {
    const at = new Date('2026-03-09T23:59:59.999Z');
    const got = tierCapLevels({ anchorDay: 10, caps: { premier: 1000, base: 0 } }, at)!;
    expect([...got.byTier]).toEqual([
      ['premier', 'tier/premier/2026-02-10/1000'],
      ['base', 'tier/base/2026-02-10/0'],
    ]);
    expect(got.period).toEqual({ start: new Date('2026-02-10T00:00:00Z'), end: new Date('2026-03-10T00:00:00Z') });
    expect(tierCapLevels({ anchorDay: 10, caps: { premier: 1000 } }, new Date('2026-03-10T00:00:00Z'))!.byTier.get('premier')).toBe('tier/premier/2026-03-10/1000');
  });

  it('are none without a subscription or a capped tier', () => {
    expect(tierCapLevels(null, new Date())).toBeNull();
    expect(tierCapLevels({ anchorDay: 1, caps: {} }, new Date())).toBeNull();
  });

  it('read back as their tier, billing period and cap', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: 1, max: 28 }),
        fc.constantFrom(...TIERS),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        (at, anchorDay, tier, cap) => {
          const level = tierCapLevels({ anchorDay, caps: { [tier]: cap } }, at)!.byTier.get(tier)!;
          const period = billingPeriod(anchorDay, at);
          expect(parseLevel(level)).toEqual({ kind: 'tier', tier, start: period.start, end: period.end, cap });
        },
      ),
    );
    for (const bad of ['tier/premier/2026-03-10', 'tier/premier/2026-03-10/-1', 'tier/premier/2026-03-10/1.5', 'tier//2026-03-10/5']) {
      expect(() => parseLevel(bad)).toThrow();
    }
  });
});
