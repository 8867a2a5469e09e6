// The sales forms' pure parts: exact decimal ordering, per-model and long-context rate rows of a price
// book, a plan's caps, discount ladder and top-up packs, and a subscription's overrides. What a form is
// prefilled with from the API must send back exactly what it read (the laws below), and what it refuses
// is named per field before anything is sent.
import fc from 'fast-check';
import type { Schemas } from './api';
import { compareDecimal } from './decimal-input';
import { show } from './plan-diff';
import {
  capsBody, capsDraft, capsErrors, emptyCaps, emptyPack, emptyStep, ladderBody, ladderDraft, ladderErrors, overridesBody, overridesDraft, overridesErrors,
  overridesFromPlan, packErrors, packsBody, packsDraft, planFormField,
} from './plan-form';
import {
  draftOf, emptyModelForm, emptyModelRow, emptyRates, formField, modelAliases, modelFormErrors, modelFormOf, modelRateErrors, modelRates, priceBookErrors, tierRates,
  type ModelRateRow,
} from './price-book-form';

const decimal = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.stringMatching(/^\d{0,12}$/))
  .map(([whole, fraction]) => (fraction === '' ? `${whole}` : `${whole}.${fraction}`));
/** The exact value of a decimal string, scaled by 10^12. */
const scaled = (d: string) => {
  const [w, f = ''] = d.split('.');
  return BigInt(w!) * 10n ** 12n + BigInt(f.padEnd(12, '0'));
};
const sign = (n: bigint) => (n < 0n ? -1 : n > 0n ? 1 : 0);

describe('compareDecimal', () => {
  it('orders decimal strings exactly as their values (never through a float)', () => {
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        expect(compareDecimal(a, b)).toBe(sign(scaled(a) - scaled(b)));
        expect(compareDecimal(b, a)).toBe(-compareDecimal(a, b) || 0);
      }),
    );
    expect(compareDecimal('0.1', '0.10')).toBe(0);
    expect(compareDecimal('007', '7.000')).toBe(0);
    // 2^53 + 1 and 2^53 are one float; not here.
    expect(compareDecimal('9007199254740993', '9007199254740992')).toBe(1);
  });
});

const rates = fc.record(
  { input: decimal, cached_input: decimal, cache_write: decimal, output: decimal, reasoning: decimal },
  { requiredKeys: [] },
);
const modelId = fc.stringMatching(/^[a-z][a-z0-9.-]{0,15}$/);

describe('price book rate rows', () => {
  const catalog = ['gpt-4o', 'claude-opus'];
  const row = (model: string, given: Partial<ModelRateRow['rates']>, scope: ModelRateRow['scope'] = 'all'): ModelRateRow => ({
    model, scope, rates: { ...emptyRates(), ...given },
  });

  it('accepts catalog models with decimal rates; a long-context row needs a threshold', () => {
    expect(modelRateErrors([row('gpt-4o', { input: '2.00' }), row('gpt-4o', { output: '20' }, 'long')], '128000', catalog)).toEqual({});
    expect(modelRateErrors([row('tier:premier', { input: '30' }, 'long')], '200000', catalog)).toEqual({});
    expect(modelRateErrors([], '', catalog)).toEqual({});
    expect(modelRateErrors([row('gpt-4o', { input: '2.00' }, 'long')], '', catalog)).toEqual({ threshold: expect.stringContaining('threshold') });
  });

  it('names each bad row field: no model, not in the catalog, twice, no rate, not a decimal, a bad threshold', () => {
    const errors = modelRateErrors(
      [row('', { input: '1' }), row('llama', { input: '1' }), row('gpt-4o', {}), row('gpt-4o', { output: '1e3', reasoning: '-1' }), row('tier:base', { input: '1' })],
      '12.5',
      catalog,
    );
    expect(Object.keys(errors).sort()).toEqual(['models.0.model', 'models.1.model', 'models.2', 'models.3.model', 'models.3.output', 'models.3.reasoning', 'models.4.model', 'threshold']);
    expect(errors['models.1.model']).toBe('llama is not in the catalog.');
    expect(errors['models.3.model']).toBe('gpt-4o already has a row.');
    expect(modelRateErrors([emptyModelRow()], '', catalog)['models.0']).toMatch(/at least one rate/);
  });

  it('a form prefilled from a published book sends that book back exactly (rates as the strings read)', () => {
    const tierRatesArb = fc.record({ input: decimal, output: decimal, cached_input: decimal, reasoning: decimal }, { requiredKeys: ['input', 'output'] });
    const book = fc.record({
      tiers: fc.record({ base: tierRatesArb, specialized: tierRatesArb, premier: tierRatesArb }),
      models: fc.dictionary(modelId, rates.filter((r) => Object.keys(r).length > 0), { maxKeys: 4 }),
      long_context: fc.option(
        fc.record(
          {
            threshold_tokens: fc.integer({ min: 1, max: 10_000_000 }),
            tiers: fc.record({ base: rates, specialized: rates, premier: rates }, { requiredKeys: [] }).map((t) =>
              Object.fromEntries(Object.entries(t).filter(([, r]) => Object.keys(r).length > 0)),
            ),
            models: fc.dictionary(modelId, rates.filter((r) => Object.keys(r).length > 0), { maxKeys: 3 }),
          },
          { requiredKeys: ['threshold_tokens'] },
        ),
        { nil: null },
      ),
    });
    fc.assert(
      fc.property(book, (b) => {
        const published = { version: 1, effective_from: '', currency: null, correction: false, reason: null, created_at: '', created_by: null, ...b } as Schemas['PriceBook'];
        const draft = draftOf(published);
        const catalog = [...Object.keys(b.models), ...Object.keys(b.long_context?.models ?? {})];
        expect(modelRateErrors(draft.rows, draft.threshold, catalog)).toEqual({});
        expect(priceBookErrors(draft.prices, '', false, new Date())).toEqual({});
        expect(tierRates(draft.prices)).toEqual(b.tiers);
        const sent = modelRates(draft.rows, draft.threshold);
        expect(sent.models ?? {}).toEqual(b.models);
        const long = b.long_context;
        const expected = long
          ? {
              threshold_tokens: long.threshold_tokens,
              ...(long.tiers && Object.keys(long.tiers).length > 0 ? { tiers: long.tiers } : {}),
              ...(long.models && Object.keys(long.models).length > 0 ? { models: long.models } : {}),
            }
          : undefined;
        expect(sent.long_context).toEqual(expected);
      }),
    );
  });

  it('points the service’s error at the form field it names', () => {
    const rows = [row('gpt-4o', { input: '1' }), row('claude-opus', { input: '1' }, 'long'), row('tier:base', { input: '1' }, 'long')];
    expect(formField('models["gpt-4o"].output', rows)).toBe('models.0.output');
    expect(formField('long_context.models["claude-opus"]', rows)).toBe('models.1');
    expect(formField('long_context.tiers.base.input', rows)).toBe('models.2.input');
    expect(formField('long_context.threshold_tokens', rows)).toBe('threshold');
    expect(formField('tiers.base.input', rows)).toBe('base.input');
    expect(formField('effective_from', rows)).toBe('effective_from');
  });
});

describe('plan terms', () => {
  const caps = fc.record(
    { base: fc.integer({ min: 0, max: 2 ** 40 }), specialized: fc.integer({ min: 0, max: 2 ** 40 }), premier: fc.integer({ min: 0, max: 2 ** 40 }) },
    { requiredKeys: [] },
  );
  /** A valid ladder: strictly ascending ends, the last unbounded, discounts 0..100. */
  const ladder = fc
    .tuple(fc.uniqueArray(fc.bigInt({ min: 1n, max: 10n ** 15n }), { maxLength: 6 }), fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 7, maxLength: 7 }))
    .map(([ends, pcts]) => {
      const sorted = [...ends].sort((a, b) => (a < b ? -1 : 1));
      const pct = (i: number) => `${Math.floor(pcts[i]! / 100)}.${String(pcts[i]! % 100).padStart(2, '0')}`;
      return [...sorted.map((e, i) => ({ up_to: `${e / 100n}.${String(e % 100n).padStart(2, '0')}`, discount_pct: pct(i) })), { up_to: null, discount_pct: pct(sorted.length) }];
    });

  it('caps: whole token counts or blank; the form sends back exactly what it was prefilled with', () => {
    fc.assert(
      fc.property(caps, (c) => {
        const draft = capsDraft(c);
        expect(capsErrors(draft)).toEqual({});
        expect(capsBody(draft)).toEqual(Object.keys(c).length === 0 ? null : c);
      }),
    );
    expect(capsBody({ base: '1,000,000', specialized: '', premier: '0' })).toEqual({ base: 1_000_000, premier: 0 });
    expect(Object.keys(capsErrors({ base: '1.5', specialized: '-3', premier: 'lots' })).sort()).toEqual(['tier_caps.base', 'tier_caps.premier', 'tier_caps.specialized']);
    expect(capsErrors({ ...emptyCaps(), base: String(2 ** 53) })).toHaveProperty(['tier_caps.base']);
  });

  it('ladder: any ascending ladder ending unbounded is accepted and sent back as read', () => {
    fc.assert(
      fc.property(ladder, (l) => {
        expect(ladderErrors(ladderDraft(l))).toEqual({});
        expect(ladderBody(ladderDraft(l))).toEqual(l);
      }),
    );
    expect(ladderBody([])).toBeNull();
  });

  it('ladder: a step not above the one before is refused at that step, whatever the spelling', () => {
    fc.assert(
      fc.property(ladder.filter((l) => l.length >= 3), fc.nat(), (l, pick) => {
        const steps = ladderDraft(l);
        const i = 1 + (pick % (steps.length - 2)); // a bounded step after the first
        steps[i] = { ...steps[i]!, up_to: `${steps[i - 1]!.up_to}000` }; // the same amount, written longer
        expect(Object.keys(ladderErrors(steps))).toEqual([`volume_discount.${i}.up_to`]);
      }),
    );
    const errors = ladderErrors([{ up_to: '1000', discount_pct: '0' }, { up_to: '500', discount_pct: '100.5' }, { up_to: '9000', discount_pct: '10' }]);
    expect(Object.keys(errors).sort()).toEqual(['volume_discount.1.discount_pct', 'volume_discount.1.up_to', 'volume_discount.2.up_to']);
    expect(errors['volume_discount.1.up_to']).toBe('More than 1000: the steps go up.');
  });

  it('packs: an id once, price and credit decimals, days 1..3660; sent back as read', () => {
    const pack = fc.record({ id: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/), price: decimal, allowance: decimal.filter((d) => scaled(d) > 0n), validity_days: fc.integer({ min: 1, max: 3660 }) });
    fc.assert(
      fc.property(fc.uniqueArray(pack, { selector: (p) => p.id, maxLength: 5 }), (packs) => {
        expect(packErrors(packsDraft(packs))).toEqual({});
        expect(packsBody(packsDraft(packs))).toEqual(packs);
      }),
    );
    const errors = packErrors([
      { id: 'small', price: '45.00', allowance: '50.00', validity_days: '90' },
      { id: 'small', price: '45,00', allowance: '0.00', validity_days: '0' },
      { ...emptyPack(), id: 'Big Pack' },
    ]);
    expect(Object.keys(errors).sort()).toEqual([
      'topup_packs.1.allowance', 'topup_packs.1.id', 'topup_packs.1.price', 'topup_packs.1.validity_days', 'topup_packs.2.allowance', 'topup_packs.2.id', 'topup_packs.2.price',
    ]);
  });

  it('the service’s field names map to the form’s', () => {
    expect(planFormField('volume_discount[2].up_to')).toBe('volume_discount.2.up_to');
    expect(planFormField('topup_packs[0].price')).toBe('topup_packs.0.price');
    expect(planFormField('tier_caps.base')).toBe('tier_caps.base');
  });

  it('shows caps, ladders and packs in words, none as “none”', () => {
    expect(show({ base: 5_000_000, premier: 0 }, 'tier_caps')).toBe('base 5,000,000 · premier 0');
    expect(show(null, 'tier_caps')).toBe('none');
    expect(show([{ up_to: '1000', discount_pct: '0' }, { up_to: null, discount_pct: '5' }], 'volume_discount')).toBe('to 1000: 0% · above: 5%');
    expect(show([{ id: 'small', allowance: '50.00', price: '45.00', validity_days: 90 }], 'topup_packs')).toBe('small: 50.00 for 45.00, 90 days');
  });
});

describe('subscription overrides', () => {
  it('a form prefilled from the overrides read sends them back: kept, removed (null) or replaced', () => {
    const overrides = fc.record(
      {
        included_allowance: decimal,
        tier_caps: fc.option(fc.record({ base: fc.integer({ min: 0, max: 10 ** 9 }) }), { nil: null }),
        volume_discount: fc.option(fc.constant<Schemas['VolumeTier'][]>([{ up_to: '1000', discount_pct: '0' }, { up_to: null, discount_pct: '7.5' }]), { nil: null }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(overrides, (o) => {
        const form = overridesDraft(o);
        expect(overridesErrors(form)).toEqual({});
        expect(overridesBody(form)).toEqual(o);
      }),
    );
  });

  it('refuses a replacement that is empty or invalid', () => {
    const form = overridesDraft(undefined);
    expect(overridesBody(form)).toEqual({});
    expect(Object.keys(overridesErrors({ ...form, caps_mode: 'set' }))).toEqual(['overrides.tier_caps']);
    expect(Object.keys(overridesErrors({ ...form, ladder_mode: 'set', volume_discount: [] }))).toEqual(['overrides.volume_discount']);
    expect(Object.keys(overridesErrors({ ...form, included_allowance: 'ten', ladder_mode: 'set', volume_discount: [{ up_to: '5', discount_pct: '1' }] })).sort()).toEqual([
      'overrides.included_allowance', 'overrides.volume_discount.0.up_to',
    ]);
  });

  it('a caps or ladder override chosen with nothing typed starts as the plan’s; one typed is kept', () => {
    const plan = { tier_caps: { premier: 1_000_000 }, volume_discount: [{ up_to: '1000', discount_pct: '0' }, { up_to: null, discount_pct: '5' }] };
    const chosen = overridesFromPlan({ ...overridesDraft(undefined), caps_mode: 'set', ladder_mode: 'set' }, plan);
    expect(overridesBody(chosen)).toEqual({ tier_caps: plan.tier_caps, volume_discount: plan.volume_discount });
    const typed = { ...overridesDraft(undefined), caps_mode: 'set' as const, tier_caps: { ...emptyCaps(), base: '10' } };
    expect(overridesFromPlan(typed, plan)).toEqual(typed);
    expect(overridesFromPlan(overridesDraft(undefined), plan)).toEqual(overridesDraft(undefined));
  });

  it('an untouched copy follows the plan chosen next (blank while it loads); an edited one stays', () => {
    const scale = { tier_caps: { premier: 1_000_000 }, volume_discount: null };
    const growth = { tier_caps: { specialized: 2_000_000 }, volume_discount: [{ up_to: '1000', discount_pct: '0' }, { up_to: null, discount_pct: '7.5' }] };
    const copied = overridesFromPlan({ ...overridesDraft(undefined), caps_mode: 'set', ladder_mode: 'set' }, scale);
    expect(overridesBody(copied)?.tier_caps).toEqual(scale.tier_caps);
    expect(copied.volume_discount).toEqual([emptyStep()]); // scale has no ladder: a blank step to fill
    // Another plan chosen: its answer not here yet, then here.
    const loading = overridesFromPlan(copied, undefined);
    expect(capsBody(loading.tier_caps)).toBeNull();
    const switched = overridesFromPlan(loading, growth);
    expect(overridesBody(switched)).toEqual({ tier_caps: growth.tier_caps, volume_discount: growth.volume_discount });
    // Straight from one plan to the other, without the blank in between, alike.
    expect(overridesFromPlan(copied, growth)).toEqual(switched);
    // A cap typed into the copy (as the form's onChange does) makes it the user's: no plan replaces it.
    const edited = { ...copied, tier_caps: { ...copied.tier_caps, base: '10' }, caps_copied: false };
    expect(overridesFromPlan(edited, growth).tier_caps).toEqual(edited.tier_caps);
    expect(overridesFromPlan(edited, growth).volume_discount).toEqual(switched.volume_discount);
  });
});

describe('the model form', () => {
  it('refuses, by field, what the API would refuse: an id that is not a slug, no provider, an alias that is not a model name', () => {
    expect(modelFormErrors(emptyModelForm())).toEqual({ id: 'A model id is required, like gpt-4o.', provider: 'A provider is required, like openai.' });
    expect(modelFormErrors({ id: 'GPT 4', tier: 'base', provider: 'openai', aliases: '' })).toEqual({ id: expect.stringMatching(/^Lower-case letters/) });
    expect(modelFormErrors({ id: 'gpt-4', tier: 'base', provider: 'openai', aliases: 'gpt 4, x' })).toEqual({ aliases: expect.stringMatching(/^“gpt 4” is not a model name/) });
    expect(modelFormErrors({ id: 'gpt-4', tier: 'base', provider: 'openai', aliases: 'a, a' })).toEqual({ aliases: 'Each alias once.' });
    expect(modelFormErrors({ id: 'gpt-4', tier: 'base', provider: 'openai', aliases: 'gpt-4-0613, openai/gpt-4@2023' })).toEqual({});
  });

  it('a catalog model filled in by Change sends back exactly its aliases', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,20}$/);
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 5 }), (aliases) => {
        const form = modelFormOf({ id: 'm-1', tier: 'premier', provider: 'openai', aliases });
        expect(modelFormErrors(form)).toEqual({});
        expect(modelAliases(form)).toEqual(aliases);
      }),
    );
  });
});
