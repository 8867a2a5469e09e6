import type { ModelsRepository, Model } from '../catalog/models.repository.js';
import type { PriceBooksRepository, PriceBookRow } from './price-books.repository.js';
import { PricingCacheService } from './pricing-cache.service.js';
import type { TiersConfigRepository } from './tiers-config.repository.js';

const tiers = { base: { input: '1', output: '2' }, specialized: { input: '3', output: '6' }, premier: { input: '10', output: '30' } };

function bookRow(version: number, effective_from: string, baseInput: string): PriceBookRow {
  return {
    version,
    effective_from,
    currency: null,
    tiers: { ...tiers, base: { input: baseInput, output: '2' } },
    models: {},
    long_context: null,
    correction: false,
    reason: null,
    created_at: new Date(0),
    created_by: null,
  };
}

function fakeStore() {
  const state = {
    version: 1,
    versionReads: 0,
    loads: 0,
    models: [{ id: 'm', provider: 'x', tier: 'base', aliases: ['m-alias'], created_at: new Date(0), updated_at: new Date(0) }] as Model[],
    books: [bookRow(1, '2030-01-01T00:00:00Z', '1')],
  };
  const config = { current: async () => (state.versionReads++, state.version) } as unknown as TiersConfigRepository;
  const models = { list: async () => (state.loads++, state.models) } as unknown as ModelsRepository;
  const books = { list: async () => state.books } as unknown as PriceBooksRepository;
  return { state, cache: new PricingCacheService(config, models, books) };
}

const USAGE = { input: 1_000_000, cached_input: 0, cache_write: 0, output: 0, reasoning: 0 };

describe('PricingCacheService', () => {
  it('trusts its snapshot between checks and reloads only when the counter moved', async () => {
    const { state, cache } = fakeStore();
    await cache.lookup('m', '2030-02-01T00:00:00Z');
    await cache.lookup('m', '2030-02-01T00:00:00Z');
    expect({ reads: state.versionReads, loads: state.loads }).toEqual({ reads: 1, loads: 1 });

    cache.invalidate(); // counter unchanged: one cheap read, no reload
    await cache.lookup('m', '2030-02-01T00:00:00Z');
    expect({ reads: state.versionReads, loads: state.loads }).toEqual({ reads: 2, loads: 1 });

    state.books = [...state.books, bookRow(2, '2030-01-15T00:00:00Z', '4')];
    state.version = 2;
    cache.invalidate();
    expect((await cache.lookup('m', '2030-02-01T00:00:00Z')).book?.version).toBe(2);
    expect(state.loads).toBe(2);
  });

  it('rechecks on its own after RECHECK_MS', async () => {
    const { state, cache } = fakeStore();
    await cache.lookup('m', '2030-02-01T00:00:00Z');
    state.version = 2;
    state.books = [...state.books, bookRow(2, '2030-01-15T00:00:00Z', '4')];
    await new Promise((r) => setTimeout(r, PricingCacheService.RECHECK_MS + 20));
    expect((await cache.lookup('m', '2030-02-01T00:00:00Z')).book?.version).toBe(2);
  });

  it('shares one refresh between concurrent readers', async () => {
    const { state, cache } = fakeStore();
    await Promise.all(Array.from({ length: 20 }, () => cache.lookup('m', '2030-02-01T00:00:00Z')));
    expect(state.versionReads).toBe(1);
  });

  it('prices by the version in force, or says why it cannot', async () => {
    const { cache } = fakeStore();
    expect(await cache.priceEvent(USAGE, 'm-alias', '2030-02-01T00:00:00Z')).toMatchObject({
      status: 'priced',
      book_version: 1,
      model: { id: 'm', tier: 'base', matched_by: 'alias' },
      priced: { total: '1.000000000000' },
    });
    expect(await cache.priceEvent(USAGE, 'm', '2029-12-31T23:59:59Z')).toMatchObject({ status: 'no_price_book', book_version: null });
    expect(await cache.priceEvent(USAGE, 'zzz', '2030-02-01T00:00:00Z')).toMatchObject({ status: 'unknown_model', book_version: 1 });
  });
});
