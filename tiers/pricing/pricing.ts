// Owns the price of one metered request: price-book types and validation, choosing the book version in
// force at an instant, resolving per-kind rates (model override, tier, long context) and exact costs.
import { Dec, formatExact, formatScaled, parseDecimal, sumDecimals, toScaled } from './decimal.js';
import { parseInstant } from './instant.js';
import { PricingInputError } from './pricing-input-error.js';
import { isCurrency, notACurrency } from '../../src/money/currency.js';

export const TIERS = ['base', 'specialized', 'premier'] as const;
export type Tier = (typeof TIERS)[number];

export const TOKEN_KINDS = ['input', 'cached_input', 'cache_write', 'output', 'reasoning'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/**
 * Token counts after provider normalisation. Input parts do not overlap; `reasoning` is a part of
 * `output` (so reasoning <= output), never added to it.
 */
export type CanonicalUsage = Readonly<Record<TokenKind, number>>;

/**
 * Prices per 1,000,000 tokens as decimal strings (at most 12 dp). Defaults when a kind is not set at
 * any level (see resolveRates): reasoning = the resolved output price; cached_input and cache_write =
 * the resolved input price. Defaulting cache kinds to full input price means a missing cache rate can
 * never make a cached call cheaper than the book says; discounts must be written down to apply.
 */
export interface TokenRates {
  readonly input: string;
  readonly output: string;
  readonly cached_input?: string;
  readonly cache_write?: string;
  readonly reasoning?: string;
}
export type RateOverrides = Partial<TokenRates>;

export interface LongContextRates {
  /** A request whose input + cached_input + cache_write is strictly greater than this is "long". */
  readonly threshold_tokens: number;
  readonly tiers?: Readonly<Partial<Record<Tier, RateOverrides>>>;
  readonly models?: Readonly<Record<string, RateOverrides>>;
}

export interface PriceBookVersion {
  /** Positive integer; breaks ties between versions with the same effective_from. */
  readonly version: number;
  /** RFC 3339 instant from which this version prices events (events are priced by their timestamp). */
  readonly effective_from: string;
  readonly currency?: string;
  readonly tiers: Readonly<Record<Tier, TokenRates>>;
  readonly models: Readonly<Record<string, RateOverrides>>;
  readonly long_context?: LongContextRates;
}

export interface PricedModel {
  readonly id: string;
  readonly tier: Tier;
}

export type RateSet = 'standard' | 'long_context';

export interface PricedUsage {
  readonly model_id: string;
  readonly tier: Tier;
  readonly price_book_version: number;
  readonly rates_used: RateSet;
  /** Per-million rates applied, kept so an audit can recompute the cost without the book. */
  readonly rates: Readonly<Record<TokenKind, string>>;
  /** Exact, never rounded, at least 12 dp. `output` covers output minus reasoning only. */
  readonly cost_by_kind: Readonly<Record<TokenKind, string>>;
  readonly total: string;
}

export interface BatchItem {
  readonly usage: CanonicalUsage;
  readonly model: PricedModel;
}

export interface PricedBatch {
  readonly results: readonly PricedUsage[];
  readonly total: string;
  readonly total_by_tier: Readonly<Record<Tier, string>>;
}

const PER_MILLION = new Dec(1_000_000);
const NANOS_PER_MS = 1_000_000n;

export function isTier(value: unknown): value is Tier {
  return typeof value === 'string' && (TIERS as readonly string[]).includes(value);
}

function key(parent: string, name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `${parent}.${name}` : `${parent}[${JSON.stringify(name)}]`;
}

function ownValue<T>(record: Readonly<Record<string, T>> | undefined, name: string): T | undefined {
  // Object.hasOwn: a model called "constructor" or "__proto__" must not find Object.prototype members.
  return record !== undefined && Object.hasOwn(record, name) ? record[name] : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Usage

export function validateUsage(raw: unknown, field = 'usage'): CanonicalUsage {
  const obj = asObject(raw, field);
  rejectUnknownKeys(obj, TOKEN_KINDS, field);
  const out = {} as Record<TokenKind, number>;
  for (const kind of TOKEN_KINDS) {
    const v = obj[kind] ?? 0;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new PricingInputError('INVALID_USAGE', key(field, kind), `${key(field, kind)} must be a non-negative integer`);
    }
    out[kind] = v;
  }
  if (out.reasoning > out.output) {
    throw new PricingInputError(
      'INVALID_USAGE',
      key(field, 'reasoning'),
      `${key(field, 'reasoning')} is part of output and cannot exceed it`,
    );
  }
  return out;
}

export function totalInputTokens(usage: CanonicalUsage): number {
  return usage.input + usage.cached_input + usage.cache_write;
}

// ---------------------------------------------------------------------------------------------------
// Rates

/**
 * Long-context rates apply when the book has them for this model or its tier and the request's total
 * input exceeds the threshold; a request over the threshold with no long-context rates for its model or
 * tier stays on standard rates rather than failing.
 */
export function selectRateSet(usage: CanonicalUsage, model: PricedModel, book: PriceBookVersion): RateSet {
  const lc = book.long_context;
  if (lc === undefined || totalInputTokens(usage) <= lc.threshold_tokens) return 'standard';
  const hasRates = ownValue(lc.models, model.id) !== undefined || ownValue(lc.tiers, model.tier) !== undefined;
  return hasRates ? 'long_context' : 'standard';
}

interface RateLayer {
  readonly rates: RateOverrides | undefined;
  readonly field: string;
}

/**
 * Per kind, the most specific explicit price wins, in this order:
 *   long context: long_context.models[id] > long_context.tiers[tier] > models[id] > tiers[tier]
 *   standard:     models[id] > tiers[tier]
 * Long context sits above the standard model override because the brief prices the whole request at
 * long-context rates; kinds the long-context set leaves out fall back to standard resolution.
 * Only then do defaults fill gaps: reasoning <- output, cached_input and cache_write <- input, each read
 * from the already-resolved price (so a model that overrides only `input` also moves its cache default).
 */
export function resolveRates(
  model: PricedModel,
  book: PriceBookVersion,
  rateSet: RateSet = 'standard',
): Record<TokenKind, Dec> {
  if (!isTier(model.tier)) {
    throw new PricingInputError('UNKNOWN_TIER', 'model.tier', `model.tier must be one of ${TIERS.join(', ')}`);
  }
  const tierRates = ownValue(book.tiers, model.tier);
  if (tierRates === undefined) {
    throw new PricingInputError('MISSING_FIELD', key('tiers', model.tier), `price book has no rates for tier ${model.tier}`);
  }
  const layers: RateLayer[] = [];
  if (rateSet === 'long_context' && book.long_context !== undefined) {
    layers.push(
      { rates: ownValue(book.long_context.models, model.id), field: key('long_context.models', model.id) },
      { rates: ownValue(book.long_context.tiers, model.tier), field: key('long_context.tiers', model.tier) },
    );
  }
  layers.push(
    { rates: ownValue(book.models, model.id), field: key('models', model.id) },
    { rates: tierRates, field: key('tiers', model.tier) },
  );
  const explicit = (kind: TokenKind): Dec | undefined => {
    for (const layer of layers) {
      const raw = layer.rates?.[kind];
      if (raw !== undefined) return parseDecimal(raw, key(layer.field, kind));
    }
    return undefined;
  };
  const input = explicit('input');
  const output = explicit('output');
  if (input === undefined || output === undefined) {
    const missing = input === undefined ? 'input' : 'output';
    throw new PricingInputError('MISSING_FIELD', key(key('tiers', model.tier), missing), `no ${missing} price for ${model.tier}`);
  }
  return {
    input,
    cached_input: explicit('cached_input') ?? input,
    cache_write: explicit('cache_write') ?? input,
    output,
    reasoning: explicit('reasoning') ?? output,
  };
}

// ---------------------------------------------------------------------------------------------------
// Pricing

/** Tokens billed at each kind's rate: reasoning is carved out of output, never counted twice. */
function billableTokens(usage: CanonicalUsage): Record<TokenKind, number> {
  return {
    input: usage.input,
    cached_input: usage.cached_input,
    cache_write: usage.cache_write,
    output: usage.output - usage.reasoning,
    reasoning: usage.reasoning,
  };
}

export type RateResolver = (model: PricedModel, book: PriceBookVersion, rateSet: RateSet) => Record<TokenKind, Dec>;

/**
 * `resolveRates` with a memo per (book version, model, rate set): rates are parsed once per snapshot,
 * not once per event. Valid only while book versions are immutable, which they are.
 */
export function memoizedRates(): RateResolver {
  const memo = new Map<string, Record<TokenKind, Dec>>();
  return (model, book, rateSet) => {
    const k = `${book.version}\u0000${model.id}\u0000${model.tier}\u0000${rateSet}`;
    let rates = memo.get(k);
    if (rates === undefined) {
      rates = resolveRates(model, book, rateSet);
      memo.set(k, rates);
    }
    return rates;
  };
}

export function priceUsage(
  usage: CanonicalUsage,
  model: PricedModel,
  book: PriceBookVersion,
  rateResolver: RateResolver = resolveRates,
): PricedUsage {
  const u = validateUsage(usage);
  const rateSet = selectRateSet(u, model, book);
  const rates = rateResolver(model, book, rateSet);
  const tokens = billableTokens(u);
  const exact = exactRates(rates);
  const head = { model_id: model.id, tier: model.tier, price_book_version: book.version, rates_used: rateSet, rates: exact.text };
  if (exact.scaled !== null) {
    // tokens x (R / 10^12) / 10^6 = tokens x R / 10^18: an exact integer count of 10^-18.
    const costs = mapKinds((kind) => BigInt(tokens[kind]) * exact.scaled![kind]);
    const total = costs.input + costs.cached_input + costs.cache_write + costs.output + costs.reasoning;
    return { ...head, cost_by_kind: mapKinds((kind) => formatScaled(costs[kind], COST_SCALE)), total: formatScaled(total, COST_SCALE) };
  }
  const costs = mapKinds((kind) => new Dec(tokens[kind]).times(rates[kind]).dividedBy(PER_MILLION));
  return {
    ...head,
    cost_by_kind: mapKinds((kind) => formatExact(costs[kind])),
    total: formatExact(sumDecimals(TOKEN_KINDS.map((kind) => costs[kind]))),
  };
}

/** Rates per million tokens have at most 12 places, so a cost has at most 12 + 6. */
const RATE_SCALE = 12;
const COST_SCALE = RATE_SCALE + 6;

interface ExactRates {
  /** Each rate as written for the result. */
  text: Record<TokenKind, string>;
  /** Each rate as a whole number of 10^-12, or null if one has more places (then Decimal prices it). */
  scaled: Record<TokenKind, bigint> | null;
}

/** Per resolved rate set (memoizedRates returns the same object each time): its strings and integers. */
const exactRateMemo = new WeakMap<Record<TokenKind, Dec>, ExactRates>();

function exactRates(rates: Record<TokenKind, Dec>): ExactRates {
  let exact = exactRateMemo.get(rates);
  if (exact === undefined) {
    const scaled = mapKinds((kind) => toScaled(rates[kind], RATE_SCALE));
    exact = {
      text: mapKinds((kind) => rates[kind].toFixed()),
      scaled: TOKEN_KINDS.every((kind) => scaled[kind] !== null) ? (scaled as Record<TokenKind, bigint>) : null,
    };
    exactRateMemo.set(rates, exact);
  }
  return exact;
}

/**
 * Prices each item on its own (long context is a per-request property, so usage is never pooled before
 * pricing) and sums the exact costs; the batch total therefore equals the sum of one-by-one totals.
 */
export function priceBatch(items: readonly BatchItem[], book: PriceBookVersion): PricedBatch {
  const results = items.map((item) => priceUsage(item.usage, item.model, book));
  const byTier: Record<Tier, Dec> = { base: new Dec(0), specialized: new Dec(0), premier: new Dec(0) };
  for (const r of results) byTier[r.tier] = byTier[r.tier].plus(r.total);
  return {
    results,
    total: formatExact(sumDecimals(results.map((r) => new Dec(r.total)))),
    total_by_tier: { base: formatExact(byTier.base), specialized: formatExact(byTier.specialized), premier: formatExact(byTier.premier) },
  };
}

function mapKinds<T>(f: (kind: TokenKind) => T): Record<TokenKind, T> {
  return {
    input: f('input'),
    cached_input: f('cached_input'),
    cache_write: f('cache_write'),
    output: f('output'),
    reasoning: f('reasoning'),
  };
}

// ---------------------------------------------------------------------------------------------------
// Price-book selection

/**
 * selectPriceBook for many timestamps against one set of books: instants are parsed once and the books
 * sorted once, so each lookup is one parse and a scan from the newest. Same answers as selectPriceBook.
 */
export function bookSelector<B extends Pick<PriceBookVersion, 'version' | 'effective_from'>>(books: readonly B[]): (timestamp: string | Date) => B | undefined {
  const sorted = books
    .map((book, index) => ({ book, index, from: parseInstant(book.effective_from, 'effective_from') }))
    .sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.book.version - b.book.version || b.index - a.index));
  return (timestamp) => {
    // A Date (an ingested event's time) is whole milliseconds: no need to print and parse it again.
    const at = timestamp instanceof Date ? BigInt(timestamp.getTime()) * NANOS_PER_MS : parseInstant(timestamp, 'timestamp');
    for (let i = sorted.length - 1; i >= 0; i--) if (sorted[i]!.from <= at) return sorted[i]!.book;
    return undefined;
  };
}

/**
 * The version in force at `timestamp`: latest effective_from <= timestamp, compared as exact instants;
 * equal instants go to the higher version number, and identical (instant, version) pairs to the earlier
 * array element so the answer never depends on sort stability. Undefined when none is in force yet.
 */
export function selectPriceBook<B extends Pick<PriceBookVersion, 'version' | 'effective_from'>>(
  books: readonly B[],
  timestamp: string,
): B | undefined {
  const at = parseInstant(timestamp, 'timestamp');
  let best: B | undefined;
  let bestFrom = 0n;
  books.forEach((book, i) => {
    const from = parseInstant(book.effective_from, `books[${i}].effective_from`);
    if (from > at) return;
    if (best === undefined || from > bestFrom || (from === bestFrom && book.version > best.version)) {
      best = book;
      bestFrom = from;
    }
  });
  return best;
}

// ---------------------------------------------------------------------------------------------------
// Price-book validation

const BOOK_KEYS = ['version', 'effective_from', 'currency', 'tiers', 'models', 'long_context'] as const;
const LONG_CONTEXT_KEYS = ['threshold_tokens', 'tiers', 'models'] as const;

function asObject(raw: unknown, field: string): Readonly<Record<string, unknown>> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PricingInputError('NOT_AN_OBJECT', field, `${field} must be an object`);
  }
  return raw as Readonly<Record<string, unknown>>;
}

// Unknown keys are errors, not ignored: a typo like `cached_imput` would otherwise silently bill the
// default (full input) price.
function rejectUnknownKeys(obj: Readonly<Record<string, unknown>>, allowed: readonly string[], field: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new PricingInputError('UNKNOWN_FIELD', key(field, k), `${key(field, k)} is not a known field`);
    }
  }
}

function validateOverrides(raw: unknown, field: string): RateOverrides {
  const obj = asObject(raw, field);
  rejectUnknownKeys(obj, TOKEN_KINDS, field);
  const out: { -readonly [K in TokenKind]?: string } = {};
  for (const kind of TOKEN_KINDS) {
    const v = obj[kind];
    if (v === undefined) continue;
    parseDecimal(v, key(field, kind));
    out[kind] = v as string;
  }
  return out;
}

function validateTierRates(raw: unknown, field: string): TokenRates {
  const rates = validateOverrides(raw, field);
  for (const kind of ['input', 'output'] as const) {
    if (rates[kind] === undefined) {
      throw new PricingInputError('MISSING_FIELD', key(field, kind), `${key(field, kind)} is required`);
    }
  }
  return rates as TokenRates;
}

function validateTierKeys(obj: Readonly<Record<string, unknown>>, field: string): void {
  for (const k of Object.keys(obj)) {
    if (!isTier(k)) {
      throw new PricingInputError('UNKNOWN_TIER', key(field, k), `unknown tier "${k}"; tiers are ${TIERS.join(', ')}`);
    }
  }
}

function validateModels(raw: unknown, field: string): Record<string, RateOverrides> {
  const obj = asObject(raw, field);
  const entries: [string, RateOverrides][] = [];
  for (const id of Object.keys(obj)) {
    if (id.trim() === '' || id !== id.trim()) {
      throw new PricingInputError('INVALID_MODEL_ID', key(field, id), 'model ids must be non-empty with no surrounding spaces');
    }
    entries.push([id, validateOverrides(obj[id], key(field, id))]);
  }
  // fromEntries defines own properties, so an id "__proto__" stays data and never becomes a prototype.
  return Object.fromEntries(entries);
}

function validateLongContext(raw: unknown, field: string): LongContextRates {
  const obj = asObject(raw, field);
  rejectUnknownKeys(obj, LONG_CONTEXT_KEYS, field);
  const threshold = obj.threshold_tokens;
  if (typeof threshold !== 'number' || !Number.isSafeInteger(threshold) || threshold < 1) {
    throw new PricingInputError(
      'INVALID_THRESHOLD',
      key(field, 'threshold_tokens'),
      `${key(field, 'threshold_tokens')} must be a positive integer token count`,
    );
  }
  const out: { threshold_tokens: number; tiers?: Partial<Record<Tier, RateOverrides>>; models?: Record<string, RateOverrides> } = {
    threshold_tokens: threshold,
  };
  if (obj.tiers !== undefined) {
    const tiersField = key(field, 'tiers');
    const tiers = asObject(obj.tiers, tiersField);
    validateTierKeys(tiers, tiersField);
    const parsed: Partial<Record<Tier, RateOverrides>> = {};
    for (const tier of TIERS) {
      if (tiers[tier] !== undefined) parsed[tier] = validateOverrides(tiers[tier], key(tiersField, tier));
    }
    out.tiers = parsed;
  }
  if (obj.models !== undefined) out.models = validateModels(obj.models, key(field, 'models'));
  return out;
}

/** Checks an untrusted price-book object and returns a typed copy; throws PricingInputError naming the field. */
/**
 * The first model a book prices by id (`models.<id>`, `long_context.models.<id>`) that is not a model of the
 * catalog, with the field it is at and the model it is an alias of, if it is one; null when every one is.
 * Rates keyed by anything else never price an event (events are priced by their model's catalog id).
 */
export function modelNotInCatalog(
  book: Pick<PriceBookVersion, 'models' | 'long_context'>,
  catalog: readonly { id: string; aliases: readonly string[] }[],
): { field: string; id: string; aliasOf: string | null } | null {
  const ids = new Set(catalog.map((m) => m.id));
  const named = [
    ...Object.keys(book.models).map((id) => ({ field: `models.${id}`, id })),
    ...Object.keys(book.long_context?.models ?? {}).map((id) => ({ field: `long_context.models.${id}`, id })),
  ];
  const missing = named.find((n) => !ids.has(n.id));
  if (missing === undefined) return null;
  return { ...missing, aliasOf: catalog.find((m) => m.aliases.includes(missing.id))?.id ?? null };
}

export function validatePriceBookInput(raw: unknown): PriceBookVersion {
  const obj = asObject(raw, 'price_book');
  rejectUnknownKeys(obj, BOOK_KEYS, 'price_book');
  const version = obj.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new PricingInputError('INVALID_VERSION', 'version', 'version must be a positive integer');
  }
  parseInstant(obj.effective_from, 'effective_from');
  const effectiveFrom = obj.effective_from as string;
  if (obj.currency !== undefined && !isCurrency(obj.currency)) {
    throw new PricingInputError('INVALID_CURRENCY', 'currency', notACurrency('currency', obj.currency));
  }
  if (obj.tiers === undefined) throw new PricingInputError('MISSING_FIELD', 'tiers', 'tiers is required');
  const tiersRaw = asObject(obj.tiers, 'tiers');
  validateTierKeys(tiersRaw, 'tiers');
  const tiers = {} as Record<Tier, TokenRates>;
  // Every tier must be priced so that no catalog model can become unpriceable just by its tier.
  for (const tier of TIERS) {
    if (tiersRaw[tier] === undefined) {
      throw new PricingInputError('MISSING_FIELD', key('tiers', tier), `tiers.${tier} is required`);
    }
    tiers[tier] = validateTierRates(tiersRaw[tier], key('tiers', tier));
  }
  const book: {
    version: number;
    effective_from: string;
    currency?: string;
    tiers: Record<Tier, TokenRates>;
    models: Record<string, RateOverrides>;
    long_context?: LongContextRates;
  } = {
    version,
    effective_from: effectiveFrom,
    tiers,
    models: obj.models === undefined ? {} : validateModels(obj.models, 'models'),
  };
  if (obj.currency !== undefined) book.currency = obj.currency as string;
  if (obj.long_context !== undefined) book.long_context = validateLongContext(obj.long_context, 'long_context');
  return book;
}
