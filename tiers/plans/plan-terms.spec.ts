import { PricingInputError } from '../pricing/pricing-input-error.js';
import { applyOverrides, duplicatePackId, validateOverrides, validatePlanTerms, type PlanTermsInput } from './plan-terms.js';

function errorOf(f: () => unknown): PricingInputError {
  try {
    f();
  } catch (e) {
    if (e instanceof PricingInputError) return e;
    throw e;
  }
  throw new Error('expected a PricingInputError');
}

const BASE: PlanTermsInput = {
  currency: 'EUR',
  base_fee: '99.00',
  included_allowance: '50',
  overage_policy: 'bill',
};

describe('validatePlanTerms', () => {
  it('fills defaults and keeps decimal strings as sent', () => {
    expect(validatePlanTerms(BASE)).toEqual({
      name: null,
      currency: 'EUR',
      base_fee: '99.00',
      waive_base_fee_for_paid_enterprise: true,
      included_allowance: '50',
      overage_policy: 'bill',
      topup_packs: [],
      tier_caps: null,
      ineffective_credit_pct: '0',
      invoice_grace_minutes: 60,
    });
  });

  it('takes an invoice grace period of 0 to 10080 whole minutes', () => {
    expect(validatePlanTerms({ ...BASE, invoice_grace_minutes: 0 }).invoice_grace_minutes).toBe(0);
    expect(() => validatePlanTerms({ ...BASE, invoice_grace_minutes: 10_081 })).toThrow(/invoice_grace_minutes/);
    expect(() => validatePlanTerms({ ...BASE, invoice_grace_minutes: 1.5 })).toThrow(/invoice_grace_minutes/);
  });

  it.each<[string, Partial<PlanTermsInput>, string, string]>([
    ['negative fee', { base_fee: '-1' }, 'NEGATIVE', 'base_fee'],
    ['non-numeric allowance', { included_allowance: 'lots' }, 'NOT_DECIMAL', 'included_allowance'],
    ['13 dp', { base_fee: '1.0000000000001' }, 'TOO_MANY_DECIMALS', 'base_fee'],
    ['bad currency', { currency: 'eur' }, 'INVALID_CURRENCY', 'currency'],
    ['credit over 100', { ineffective_credit_pct: '100.5' }, 'PCT_OUT_OF_RANGE', 'ineffective_credit_pct'],
    ['unknown cap tier', { tier_caps: { gold: 5 } }, 'UNKNOWN_TIER', 'tier_caps.gold'],
    ['fractional cap', { tier_caps: { base: 1.5 } }, 'INVALID_USAGE', 'tier_caps.base'],
    ['pack price', { topup_packs: [{ id: 'p', allowance: '10', price: '-5', validity_days: 30 }] }, 'NEGATIVE', 'topup_packs[0].price'],
    [
      'overlapping volume tiers',
      { volume_discount: [{ up_to: '100', discount_pct: '0' }, { from: '50', up_to: null, discount_pct: '5' }] },
      'INVALID_VOLUME_TIERS',
      'volume_discount[1].from',
    ],
  ])('rejects %s', (_name, patch, code, field) => {
    const err = errorOf(() => validatePlanTerms({ ...BASE, ...patch } as PlanTermsInput));
    expect({ code: err.code, field: err.field }).toEqual({ code, field });
  });

  it('names the currency meant by one in lowercase', () => {
    expect(errorOf(() => validatePlanTerms({ ...BASE, currency: 'eur' })).message).toBe('currency must be an ISO 4217 currency code in capitals: "EUR"');
    expect(errorOf(() => validatePlanTerms({ ...BASE, currency: 'EUE' })).message).toBe('currency must be an ISO 4217 currency code, like "EUR"');
  });

  it('finds a repeated top-up pack id', () => {
    expect(duplicatePackId([{ id: 'a' }, { id: 'b' }, { id: 'a' }])).toBe('a');
    expect(duplicatePackId([{ id: 'a' }])).toBeNull();
  });
});

describe('applyOverrides', () => {
  const terms = validatePlanTerms({
    ...BASE,
    tier_caps: { premier: 1000 },
    volume_discount: [{ up_to: '1000', discount_pct: '0' }, { up_to: null, discount_pct: '5' }],
  });

  it('replaces each overridden value wholesale and leaves the rest', () => {
    const eff = applyOverrides(terms, validateOverrides({ included_allowance: '75.5', tier_caps: { base: 10 } }));
    expect(eff.included_allowance).toBe('75.5');
    expect(eff.tier_caps).toEqual({ base: 10 });
    expect(eff.volume_discount).toEqual(terms.volume_discount);
    expect(eff.base_fee).toBe('99.00');
  });

  it('removes caps or discount with null and is the identity with no overrides', () => {
    const eff = applyOverrides(terms, validateOverrides({ tier_caps: null, volume_discount: null }));
    expect(eff.tier_caps).toBeNull();
    expect(eff).not.toHaveProperty('volume_discount');
    expect(applyOverrides(terms, {})).toEqual(terms);
  });

  it('checks overrides like plan terms', () => {
    expect(errorOf(() => validateOverrides({ included_allowance: '-3' })).field).toBe('overrides.included_allowance');
    expect(errorOf(() => validateOverrides({ volume_discount: [{ up_to: null, discount_pct: '101' }] })).code).toBe('PCT_OUT_OF_RANGE');
  });
});
