import fc from 'fast-check';
import {
  TIERS,
  TOKEN_KINDS,
  priceBatch,
  modelNotInCatalog,
  priceUsage,
  resolveRates,
  selectPriceBook,
  validatePriceBookInput,
  type CanonicalUsage,
  type PriceBookVersion,
  type PricedModel,
  type RateOverrides,
  type Tier,
  type TokenKind,
  type TokenRates,
} from './pricing.js';
import { parseInstant } from './instant.js';
import { Dec, formatExact } from './decimal.js';
import { PricingInputError } from './pricing-input-error.js';

function usage(parts: Partial<CanonicalUsage>): CanonicalUsage {
  return { input: 0, cached_input: 0, cache_write: 0, output: 0, reasoning: 0, ...parts };
}

function errorOf(f: () => unknown): PricingInputError {
  try {
    f();
  } catch (e) {
    if (e instanceof PricingInputError) return e;
    throw e;
  }
  throw new Error('expected a PricingInputError');
}

const BOOK_INPUT = {
  version: 1,
  effective_from: '2025-01-01T00:00:00Z',
  currency: 'USD',
  tiers: {
    base: { input: '0.15', output: '0.6' },
    specialized: { input: '1.1', cached_input: '0.275', output: '4.4', reasoning: '8.8' },
    premier: { input: '3', cached_input: '0.3', cache_write: '3.75', output: '15' },
  },
  models: {
    'gpt-4o': { input: '2.5', cached_input: '1.25', output: '10' },
    'cheap-premier': { input: '1' },
  },
  long_context: {
    threshold_tokens: 200_000,
    tiers: { premier: { input: '6', output: '22.5' } },
    models: { 'gemini-2.5-pro': { input: '2.5', cached_input: '0.625', output: '15' } },
  },
};
const book: PriceBookVersion = validatePriceBookInput(BOOK_INPUT);

const premier: PricedModel = { id: 'claude-opus', tier: 'premier' };
const specialized: PricedModel = { id: 'o-think', tier: 'specialized' };
const base: PricedModel = { id: 'mini', tier: 'base' };

describe('priceUsage: hand-checked examples', () => {
  it('prices a long-context request wholly at long-context rates (not graduated)', () => {
    // 250k + 50k cached = 300k input > 200k threshold.
    const r = priceUsage(usage({ input: 250_000, cached_input: 50_000, output: 2_000 }), premier, book);
    expect(r.rates_used).toBe('long_context');
    expect(r.rates).toEqual({ input: '6', cached_input: '0.3', cache_write: '3.75', output: '22.5', reasoning: '22.5' });
    // 250000*6/1e6 = 1.5 (all of it at 6, not 200k at 3 + 50k at 6); 50000*0.3/1e6; 2000*22.5/1e6.
    expect(r.cost_by_kind).toEqual({
      input: '1.500000000000',
      cached_input: '0.015000000000',
      cache_write: '0.000000000000',
      output: '0.045000000000',
      reasoning: '0.000000000000',
    });
    expect(r.total).toBe('1.560000000000');
  });

  it('keeps a request exactly at the threshold on standard rates', () => {
    const r = priceUsage(usage({ input: 150_000, cached_input: 50_000, output: 2_000 }), premier, book);
    expect(r.rates_used).toBe('standard');
    // 150000*3/1e6 + 50000*0.3/1e6 + 2000*15/1e6 = 0.45 + 0.015 + 0.03
    expect(r.total).toBe('0.495000000000');
  });

  it('uses model-specific long-context rates over the tier ones', () => {
    const r = priceUsage(usage({ input: 100_000, cached_input: 150_000, output: 1_000 }), { id: 'gemini-2.5-pro', tier: 'premier' }, book);
    expect(r.rates_used).toBe('long_context');
    // 100000*2.5/1e6 + 150000*0.625/1e6 + 1000*15/1e6 = 0.25 + 0.09375 + 0.015
    expect(r.total).toBe('0.358750000000');
  });

  it('stays on standard rates over the threshold when no long-context rates exist for the model or tier', () => {
    const r = priceUsage(usage({ input: 1_000_000 }), base, book);
    expect(r.rates_used).toBe('standard');
    expect(r.total).toBe('0.150000000000');
  });

  it('prices a reasoning-heavy request: reasoning at its rate, only the rest of output at output rate', () => {
    const r = priceUsage(usage({ input: 2_000, output: 30_000, reasoning: 25_000 }), specialized, book);
    // input 2000*1.1/1e6 = 0.0022; output (30000-25000)*4.4/1e6 = 0.022; reasoning 25000*8.8/1e6 = 0.22
    expect(r.cost_by_kind.input).toBe('0.002200000000');
    expect(r.cost_by_kind.output).toBe('0.022000000000');
    expect(r.cost_by_kind.reasoning).toBe('0.220000000000');
    expect(r.total).toBe('0.244200000000');
  });

  it('prices reasoning at the output price when the book sets no reasoning rate', () => {
    const r = priceUsage(usage({ output: 1_000, reasoning: 400 }), base, book);
    // 600*0.6/1e6 + 400*0.6/1e6: same as 1000 plain output tokens
    expect(r.cost_by_kind.output).toBe('0.000360000000');
    expect(r.cost_by_kind.reasoning).toBe('0.000240000000');
    expect(r.total).toBe(priceUsage(usage({ output: 1_000 }), base, book).total);
  });

  it('prices cached input at the cached rate, and at the input rate when none is set', () => {
    const r = priceUsage(usage({ input: 1_000, cached_input: 9_000, output: 500 }), { id: 'gpt-4o', tier: 'specialized' }, book);
    // 1000*2.5/1e6 = 0.0025; 9000*1.25/1e6 = 0.01125; 500*10/1e6 = 0.005
    expect(r.cost_by_kind.cached_input).toBe('0.011250000000');
    expect(r.total).toBe('0.018750000000');
    const plain = priceUsage(usage({ cached_input: 1_000, cache_write: 2_000 }), base, book);
    // base has no cache rates: both default to input 0.15 -> 0.00015 and 0.0003
    expect(plain.cost_by_kind.cached_input).toBe('0.000150000000');
    expect(plain.cost_by_kind.cache_write).toBe('0.000300000000');
  });

  it('lets a model override beat its tier price kind by kind', () => {
    const u = usage({ input: 100_000, cached_input: 50_000, output: 1_000_000 });
    const r = priceUsage(u, { id: 'cheap-premier', tier: 'premier' }, book);
    // input overridden to 1; cached_input and output still the premier tier's explicit 0.3 and 15.
    expect(r.rates).toMatchObject({ input: '1', cached_input: '0.3', output: '15' });
    // 100000*1/1e6 + 50000*0.3/1e6 + 1000000*15/1e6 = 0.1 + 0.015 + 15
    expect(r.total).toBe('15.115000000000');
    // Same usage on a premier model without override: input at 3 -> 0.3 + 0.015 + 15
    expect(priceUsage(u, premier, book).total).toBe('15.315000000000');
  });

  it('keeps more than 12 places when the exact cost needs them', () => {
    const tiny = validatePriceBookInput({ ...BOOK_INPUT, long_context: undefined, tiers: { ...BOOK_INPUT.tiers, base: { input: '0.000000000001', output: '1' } } });
    expect(priceUsage(usage({ input: 1 }), base, tiny).cost_by_kind.input).toBe('0.000000000000000001');
  });

  it('does not treat Object.prototype members as model overrides', () => {
    const r = priceUsage(usage({ input: 1_000_000 }), { id: 'constructor', tier: 'base' }, book);
    expect(r.total).toBe('0.150000000000');
  });

  it('rejects bad usage with the field named', () => {
    expect(errorOf(() => priceUsage(usage({ output: 1, reasoning: 2 }), base, book)).field).toBe('usage.reasoning');
    expect(errorOf(() => priceUsage(usage({ input: -1 }), base, book)).code).toBe('INVALID_USAGE');
    expect(errorOf(() => priceUsage(usage({ input: 1.5 }), base, book)).field).toBe('usage.input');
    expect(errorOf(() => priceUsage(usage({}), { id: 'x', tier: 'gold' as Tier }, book)).code).toBe('UNKNOWN_TIER');
  });
});

describe('selectPriceBook', () => {
  const v1 = { ...book, version: 1, effective_from: '2025-01-01T00:00:00Z' };
  const v2 = { ...book, version: 2, effective_from: '2025-03-01T10:30:00Z', tiers: { ...book.tiers, base: { input: '0.1', output: '0.4' } } };
  const books = [v2, v1];

  it('prices two events of the same hour with the versions in force at each', () => {
    const before = selectPriceBook(books, '2025-03-01T10:15:00Z');
    const after = selectPriceBook(books, '2025-03-01T10:45:00Z');
    expect(before?.version).toBe(1);
    expect(after?.version).toBe(2);
    const u = usage({ input: 1_000_000 });
    expect(priceUsage(u, base, before as PriceBookVersion).total).toBe('0.150000000000');
    expect(priceUsage(u, base, after as PriceBookVersion).total).toBe('0.100000000000');
  });

  it('uses <= on exact instants, across offsets and sub-millisecond digits', () => {
    expect(selectPriceBook(books, '2025-03-01T10:30:00Z')?.version).toBe(2);
    expect(selectPriceBook(books, '2025-03-01T10:29:59.999999999Z')?.version).toBe(1);
    expect(selectPriceBook(books, '2025-03-01T11:29:00+01:00')?.version).toBe(1);
    expect(selectPriceBook(books, '2025-03-01T11:30:00+01:00')?.version).toBe(2);
  });

  it('breaks ties on effective_from by the newest version and returns undefined before the first', () => {
    const v3 = { ...v2, version: 3 };
    expect(selectPriceBook([v3, v2, v1], '2025-06-01T00:00:00Z')?.version).toBe(3);
    expect(selectPriceBook([v2, v3, v1], '2025-06-01T00:00:00Z')?.version).toBe(3);
    expect(selectPriceBook(books, '2024-12-31T23:59:59Z')).toBeUndefined();
  });

  it('rejects a malformed timestamp', () => {
    expect(errorOf(() => selectPriceBook(books, '2025-03-01 10:30')).code).toBe('INVALID_TIMESTAMP');
    expect(errorOf(() => selectPriceBook(books, '2025-02-30T00:00:00Z')).code).toBe('INVALID_TIMESTAMP');
  });
});

describe('modelNotInCatalog', () => {
  const catalog = [{ id: 'gpt-4o', aliases: ['gpt-4o-2024-08-06'] }, { id: 'claude-opus', aliases: [] }];
  it('passes a book whose rates name catalog models only', () => {
    expect(modelNotInCatalog({ models: { 'gpt-4o': {} }, long_context: { threshold_tokens: 1, models: { 'claude-opus': {} } } }, catalog)).toBeNull();
    expect(modelNotInCatalog({ models: {} }, [])).toBeNull();
  });
  it('names the first model it does not know, with its field, and the model an alias stands for', () => {
    expect(modelNotInCatalog({ models: { 'gpt-4o': {}, nope: {} } }, catalog)).toEqual({ field: 'models.nope', id: 'nope', aliasOf: null });
    expect(modelNotInCatalog({ models: {}, long_context: { threshold_tokens: 1, models: { 'gpt-4o-2024-08-06': {} } } }, catalog)).toEqual({
      field: 'long_context.models.gpt-4o-2024-08-06',
      id: 'gpt-4o-2024-08-06',
      aliasOf: 'gpt-4o',
    });
  });
});

describe('parseInstant', () => {
  it('agrees with Date for ordinary instants', () => {
    expect(parseInstant('2025-03-01T10:30:00.123Z', 't')).toBe(BigInt(Date.parse('2025-03-01T10:30:00.123Z')) * 1_000_000n);
    expect(parseInstant('2024-02-29T23:00:00-05:00', 't')).toBe(BigInt(Date.parse('2024-03-01T04:00:00Z')) * 1_000_000n);
  });
});

describe('validatePriceBookInput', () => {
  const clone = (): Record<string, unknown> => JSON.parse(JSON.stringify(BOOK_INPUT)) as Record<string, unknown>;
  const DELETE = Symbol('delete');
  /** A copy of the valid input with one value set (or deleted) at `path`. */
  const patched = (path: readonly string[], value: unknown): Record<string, unknown> => {
    const root = clone();
    let node = root;
    for (const k of path.slice(0, -1)) node = node[k] as Record<string, unknown>;
    const last = path[path.length - 1];
    if (value === DELETE) delete node[last];
    else node[last] = value;
    return root;
  };

  it.each<[string, string[], unknown, string, string]>([
    ['unknown tier', ['tiers', 'gold'], { input: '1', output: '1' }, 'UNKNOWN_TIER', 'tiers.gold'],
    ['unknown long-context tier', ['long_context', 'tiers', 'gold'], {}, 'UNKNOWN_TIER', 'long_context.tiers.gold'],
    ['missing tier', ['tiers', 'base'], DELETE, 'MISSING_FIELD', 'tiers.base'],
    ['missing output', ['tiers', 'premier', 'output'], DELETE, 'MISSING_FIELD', 'tiers.premier.output'],
    ['negative price', ['tiers', 'base', 'input'], '-0.1', 'NEGATIVE', 'tiers.base.input'],
    ['non-numeric price', ['models', 'gpt-4o', 'output'], 'ten', 'NOT_DECIMAL', 'models["gpt-4o"].output'],
    ['number price', ['tiers', 'base', 'input'], 0.15, 'NOT_A_STRING', 'tiers.base.input'],
    ['exponent price', ['tiers', 'base', 'input'], '1.5e-1', 'EXPONENT_NOTATION', 'tiers.base.input'],
    ['more than 12 dp', ['tiers', 'specialized', 'reasoning'], '8.8000000000001', 'TOO_MANY_DECIMALS', 'tiers.specialized.reasoning'],
    ['more than 12 dp in long context', ['long_context', 'models', 'gemini-2.5-pro', 'input'], '0.0000000000001', 'TOO_MANY_DECIMALS', 'long_context.models["gemini-2.5-pro"].input'],
    ['zero threshold', ['long_context', 'threshold_tokens'], 0, 'INVALID_THRESHOLD', 'long_context.threshold_tokens'],
    ['negative threshold', ['long_context', 'threshold_tokens'], -5, 'INVALID_THRESHOLD', 'long_context.threshold_tokens'],
    ['fractional threshold', ['long_context', 'threshold_tokens'], 1.5, 'INVALID_THRESHOLD', 'long_context.threshold_tokens'],
    ['string threshold', ['long_context', 'threshold_tokens'], '200000', 'INVALID_THRESHOLD', 'long_context.threshold_tokens'],
    ['missing threshold', ['long_context', 'threshold_tokens'], DELETE, 'INVALID_THRESHOLD', 'long_context.threshold_tokens'],
    ['typo in a kind', ['tiers', 'premier', 'cached_imput'], '0.3', 'UNKNOWN_FIELD', 'tiers.premier.cached_imput'],
    ['typo at top level', ['long_contxt'], {}, 'UNKNOWN_FIELD', 'price_book.long_contxt'],
    ['bad effective_from', ['effective_from'], 'yesterday', 'INVALID_TIMESTAMP', 'effective_from'],
    ['effective_from without offset', ['effective_from'], '2025-01-01T00:00:00', 'INVALID_TIMESTAMP', 'effective_from'],
    ['bad version', ['version'], 0, 'INVALID_VERSION', 'version'],
    ['bad currency', ['currency'], 'usd', 'INVALID_CURRENCY', 'currency'],
    ['blank model id', ['models', ' '], {}, 'INVALID_MODEL_ID', 'models[" "]'],
    ['rates not an object', ['models', 'gpt-4o'], '2.5', 'NOT_AN_OBJECT', 'models["gpt-4o"]'],
  ])('rejects %s', (_name, path, value, code, field) => {
    const err = errorOf(() => validatePriceBookInput(patched(path, value)));
    expect({ code: err.code, field: err.field }).toEqual({ code, field });
  });

  it('rejects a non-object and defaults models to empty', () => {
    expect(errorOf(() => validatePriceBookInput([])).code).toBe('NOT_AN_OBJECT');
    const b = clone();
    delete b.models;
    expect(validatePriceBookInput(b).models).toEqual({});
  });

  it('keeps a "__proto__" model id as data', () => {
    const b = JSON.parse('{"version":1,"effective_from":"2025-01-01T00:00:00Z","tiers":{"base":{"input":"1","output":"1"},"specialized":{"input":"1","output":"1"},"premier":{"input":"1","output":"1"}},"models":{"__proto__":{"input":"7"}}}') as unknown;
    const v = validatePriceBookInput(b);
    expect(Object.getPrototypeOf(v.models)).toBe(Object.prototype);
    expect(resolveRates({ id: '__proto__', tier: 'base' }, v).input.toFixed()).toBe('7');
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties

const MICRO = 1_000_000n;

/** A decimal string with at most 6 places, from an integer count of micro-units. */
function microToString(micro: bigint): string {
  const int = micro / MICRO;
  const frac = (micro % MICRO).toString().padStart(6, '0').replace(/0+$/, '');
  return frac === '' ? int.toString() : `${int}.${frac}`;
}

const microPrice = fc.bigInt({ min: 0n, max: 100n * MICRO });
const priceStr = microPrice.map(microToString);
const optionalPrice = fc.option(priceStr, { nil: undefined });

function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const overridesArb: fc.Arbitrary<RateOverrides> = fc
  .record({ input: optionalPrice, cached_input: optionalPrice, cache_write: optionalPrice, output: optionalPrice, reasoning: optionalPrice })
  .map(clean);
const tierRatesArb: fc.Arbitrary<TokenRates> = fc
  .record({ input: priceStr, output: priceStr, cached_input: optionalPrice, cache_write: optionalPrice, reasoning: optionalPrice })
  .map(clean);

const MODEL_IDS = ['m-a', 'm-b', 'm-c', 'm-d'] as const;
const modelArb: fc.Arbitrary<PricedModel> = fc.record({ id: fc.constantFrom(...MODEL_IDS), tier: fc.constantFrom(...TIERS) });

function bookArb(withLongContext: boolean): fc.Arbitrary<PriceBookVersion> {
  return fc
    .record({
      tiers: fc.record({ base: tierRatesArb, specialized: tierRatesArb, premier: tierRatesArb }),
      models: fc.dictionary(fc.constantFrom(...MODEL_IDS), overridesArb),
      long_context: withLongContext
        ? fc.record({
            threshold_tokens: fc.integer({ min: 1, max: 2_000_000 }),
            tiers: fc.dictionary(fc.constantFrom(...TIERS), overridesArb),
            models: fc.dictionary(fc.constantFrom(...MODEL_IDS), overridesArb),
          })
        : fc.constant(undefined),
    })
    .map((b) => validatePriceBookInput(clean({ version: 1, effective_from: '2025-01-01T00:00:00Z', ...b })));
}

const usageArb: fc.Arbitrary<CanonicalUsage> = fc
  .record({
    input: fc.integer({ min: 0, max: 5_000_000 }),
    cached_input: fc.integer({ min: 0, max: 5_000_000 }),
    cache_write: fc.integer({ min: 0, max: 5_000_000 }),
    output: fc.integer({ min: 0, max: 5_000_000 }),
    reasoningShare: fc.integer({ min: 0, max: 100 }),
  })
  .map(({ reasoningShare, ...u }) => ({ ...u, reasoning: Math.floor((u.output * reasoningShare) / 100) }));

function addUsage(a: CanonicalUsage, b: CanonicalUsage): CanonicalUsage {
  return {
    input: a.input + b.input,
    cached_input: a.cached_input + b.cached_input,
    cache_write: a.cache_write + b.cache_write,
    output: a.output + b.output,
    reasoning: a.reasoning + b.reasoning,
  };
}

/** Splits usage into one request per billed kind; reasoning travels with an equal amount of output. */
function splitByKind(u: CanonicalUsage): CanonicalUsage[] {
  return [
    usage({ input: u.input }),
    usage({ cached_input: u.cached_input }),
    usage({ cache_write: u.cache_write }),
    usage({ output: u.output - u.reasoning }),
    usage({ output: u.reasoning, reasoning: u.reasoning }),
  ];
}

const sum = (values: readonly string[]): string => values.reduce((acc, v) => acc.plus(v), new Dec(0)).toFixed();

describe('priceUsage: properties', () => {
  it('is additive over token kinds', () => {
    fc.assert(
      fc.property(bookArb(false), modelArb, usageArb, (b, m, u) => {
        const whole = priceUsage(u, m, b);
        const parts = splitByKind(u).map((p) => priceUsage(p, m, b).total);
        expect(new Dec(whole.total).eq(sum(parts))).toBe(true);
        expect(new Dec(whole.total).eq(sum(TOKEN_KINDS.map((k) => whole.cost_by_kind[k])))).toBe(true);
      }),
    );
  });

  it('is additive over events on the same rate set', () => {
    fc.assert(
      fc.property(bookArb(false), modelArb, usageArb, usageArb, (b, m, u1, u2) => {
        const together = priceUsage(addUsage(u1, u2), m, b).total;
        const apart = sum([priceUsage(u1, m, b).total, priceUsage(u2, m, b).total]);
        expect(new Dec(together).eq(apart)).toBe(true);
      }),
    );
  });

  it('never yields a negative cost', () => {
    fc.assert(
      fc.property(bookArb(true), modelArb, usageArb, (b, m, u) => {
        const r = priceUsage(u, m, b);
        for (const k of TOKEN_KINDS) expect(new Dec(r.cost_by_kind[k]).isNegative()).toBe(false);
        expect(new Dec(r.total).isNegative()).toBe(false);
      }),
    );
  });

  it('prices a batch exactly as one by one', () => {
    fc.assert(
      fc.property(bookArb(true), fc.array(fc.record({ usage: usageArb, model: modelArb }), { maxLength: 20 }), (b, items) => {
        const batch = priceBatch(items, b);
        const single = items.map((i) => priceUsage(i.usage, i.model, b));
        expect(batch.results).toEqual(single);
        expect(new Dec(batch.total).eq(sum(single.map((r) => r.total)))).toBe(true);
        for (const t of TIERS) {
          expect(new Dec(batch.total_by_tier[t]).eq(sum(single.filter((r) => r.tier === t).map((r) => r.total)))).toBe(true);
        }
      }),
    );
  });

  it('equals Decimal arithmetic for 12-dp prices and token counts up to 2^53 - 1', () => {
    // priceUsage computes in integers of 10^-18; this is the same price the slow way, by decimal.js.
    const pico = fc.bigInt({ min: 0n, max: 10n ** 16n }).map((p) => {
      const digits = p.toString().padStart(13, '0');
      return `${digits.slice(0, -12)}.${digits.slice(-12)}`;
    });
    const tokens = fc.oneof(fc.integer({ min: 0, max: 10_000_000 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
    fc.assert(
      fc.property(fc.record({ input: pico, cached_input: pico, cache_write: pico, output: pico, reasoning: pico }), tokens, tokens, tokens, tokens, (rates, a, b, c, d) => {
        const b12 = validatePriceBookInput({ version: 1, effective_from: '2025-01-01T00:00:00Z', tiers: { base: rates, specialized: rates, premier: rates }, models: {} });
        const u = usage({ input: a, cached_input: b, cache_write: c, output: Math.max(d, 1), reasoning: Math.floor(Math.max(d, 1) / 3) });
        const r = priceUsage(u, base, b12);
        const billed: Record<TokenKind, number> = { ...u, output: u.output - u.reasoning };
        let total = new Dec(0);
        for (const k of TOKEN_KINDS) {
          const cost = new Dec(billed[k]).times(rates[k]).dividedBy(1_000_000);
          total = total.plus(cost);
          expect(r.cost_by_kind[k]).toBe(formatExact(cost));
          expect(r.rates[k]).toBe(new Dec(rates[k]).toFixed());
        }
        expect(r.total).toBe(formatExact(total));
      }),
    );
  });

  it('equals a BigInt reference in micro-units (prices with at most 6 dp)', () => {
    // Reference resolution written independently of resolveRates: override, then tier, then default.
    const microRate = (b: PriceBookVersion, m: PricedModel, kind: TokenKind): bigint => {
      const pick = (k: TokenKind): string | undefined => b.models[m.id]?.[k] ?? b.tiers[m.tier][k];
      const fallback: Record<TokenKind, TokenKind> = { input: 'input', output: 'output', cached_input: 'input', cache_write: 'input', reasoning: 'output' };
      const s = pick(kind) ?? (pick(fallback[kind]) as string);
      const [int, frac = ''] = s.split('.');
      return BigInt(int) * MICRO + BigInt(frac.padEnd(6, '0'));
    };
    fc.assert(
      fc.property(bookArb(false), modelArb, usageArb, (b, m, u) => {
        const billed: Record<TokenKind, number> = { ...u, output: u.output - u.reasoning };
        const r = priceUsage(u, m, b);
        let total = 0n;
        for (const k of TOKEN_KINDS) {
          // tokens * (micro-units per million tokens) = cost in units of 10^-12
          const pico = BigInt(billed[k]) * microRate(b, m, k);
          total += pico;
          expect(r.cost_by_kind[k]).toMatch(/^\d+\.\d{12}$/);
          expect(BigInt(r.cost_by_kind[k].replace('.', ''))).toBe(pico);
        }
        expect(BigInt(r.total.replace('.', ''))).toBe(total);
      }),
    );
  });
});
