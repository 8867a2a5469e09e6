// The hot-path view of the catalog and every price-book version, per process. A read re-checks the
// tiers_config_version counter at most every 500 ms and reloads when it moved, so every process sees a
// committed change within about half a second; a change made by this process is seen at once.
import { Injectable } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { buildModelIndex, resolveModel, type MatchedBy, type ModelIndex } from '../catalog/model-resolution.js';
import { ModelsRepository, type Model } from '../catalog/models.repository.js';
import { PriceBooksRepository, type PriceBookRow } from './price-books.repository.js';
import {
  bookSelector,
  memoizedRates,
  priceUsage,
  type RateResolver,
  selectPriceBook,
  type CanonicalUsage,
  type PricedModel,
  type PricedUsage,
  type PriceBookVersion,
} from './pricing.js';
import { TiersConfigRepository } from './tiers-config.repository.js';

export interface PricingLookup {
  /** The catalog model the name resolved to, or null when the catalog does not know it. */
  model: (PricedModel & { matched_by: MatchedBy }) | null;
  /** The price-book version in force at the timestamp, or null when none is in force yet. */
  book: PriceBookVersion | null;
}

export type PriceEventResult =
  | { status: 'priced'; model: PricedModel & { matched_by: MatchedBy }; book_version: number; priced: PricedUsage }
  | { status: 'unknown_model'; model: null; book_version: number | null }
  | { status: 'no_price_book'; model: PricedModel & { matched_by: MatchedBy }; book_version: null };

interface Snapshot {
  configVersion: number;
  index: ModelIndex<Model>;
  books: PriceBookVersion[];
  /** Versions published as audited corrections of the past. */
  corrections: ReadonlySet<number>;
  /** selectPriceBook over this snapshot's books, prepared once. */
  bookAt: (at: string | Date) => PriceBookVersion | undefined;
  rates: RateResolver;
}


/** The span of event time a correction reprices: from its effective_from to the next book's. */
export interface CorrectionWindow {
  version: number;
  from: string;
  to: string | null;
}

export function toPriceBookVersion(row: PriceBookRow): PriceBookVersion {
  return {
    version: row.version,
    effective_from: row.effective_from,
    ...(row.currency === null ? {} : { currency: row.currency }),
    tiers: row.tiers,
    models: row.models,
    ...(row.long_context === null ? {} : { long_context: row.long_context }),
  };
}

@Injectable()
export class PricingCacheService {
  /** How long a read trusts the loaded snapshot before asking the database whether it moved. */
  static readonly RECHECK_MS = 500;

  private snapshot: Snapshot | null = null;
  private checkedAt = Number.NEGATIVE_INFINITY;
  // Bumped by invalidate(); a refresh that started before an invalidation may not mark the cache fresh.
  private generation = 0;
  private inflight: { generation: number; promise: Promise<Snapshot> } | null = null;

  constructor(
    private readonly config: TiersConfigRepository,
    private readonly models: ModelsRepository,
    private readonly books: PriceBooksRepository,
  ) {}

  /** Resolves a reported model name and picks the price book in force at `timestamp` (RFC 3339 or Date). */
  async lookup(modelName: string, timestamp: string | Date): Promise<PricingLookup> {
    const snap = await this.current();
    const at = typeof timestamp === 'string' ? timestamp : timestamp.toISOString();
    const resolution = resolveModel(modelName, snap.index);
    const model =
      resolution.status === 'resolved'
        ? { id: resolution.model.id, tier: resolution.model.tier, matched_by: resolution.matched_by }
        : null;
    return { model, book: selectPriceBook(snap.books, at) ?? null };
  }

  /** Prices one event's canonical usage exactly (see priceUsage), or says why it cannot be priced yet. */
  async priceEvent(usage: CanonicalUsage, modelName: string, timestamp: string | Date): Promise<PriceEventResult> {
    return (await this.pricer())(usage, modelName, timestamp);
  }

  /**
   * A synchronous pricer over one consistent snapshot of catalog and books: a whole batch is priced by
   * the same versions, and pricing inside a transaction never waits for a connection to refresh.
   */
  async pricer(): Promise<(usage: CanonicalUsage, modelName: string, timestamp: string | Date) => PriceEventResult> {
    const snap = await this.current();
    return (usage, modelName, timestamp) => {
      const resolution = resolveModel(modelName, snap.index);
      const book = snap.bookAt(timestamp) ?? null;
      if (resolution.status !== 'resolved') return { status: 'unknown_model', model: null, book_version: book?.version ?? null };
      const model = { id: resolution.model.id, tier: resolution.model.tier, matched_by: resolution.matched_by };
      if (book === null) return { status: 'no_price_book', model, book_version: null };
      return { status: 'priced', model, book_version: book.version, priced: priceUsage(usage, model, book, snap.rates) };
    };
  }

  /** Corrections newer than `afterVersion`, each with the span of event time it now prices. */
  async correctionsAfter(afterVersion: number): Promise<CorrectionWindow[]> {
    const snap = await this.current();
    const byTime = [...snap.books].sort((a, b) => Date.parse(a.effective_from) - Date.parse(b.effective_from) || a.version - b.version);
    return byTime
      .filter((b) => b.version > afterVersion && snap.corrections.has(b.version))
      .map((b) => {
        const next = byTime.find((o) => Date.parse(o.effective_from) > Date.parse(b.effective_from));
        return { version: b.version, from: b.effective_from, to: next?.effective_from ?? null };
      });
  }

  /** The version counter the loaded snapshot reflects (after a freshness check). */
  async configVersion(): Promise<number> {
    return (await this.current()).configVersion;
  }

  /** Called after this process commits a catalog or price-book change: the next read re-checks. */
  invalidate(): void {
    this.generation++;
    this.checkedAt = Number.NEGATIVE_INFINITY;
  }

  private current(): Promise<Snapshot> {
    if (this.snapshot !== null && performance.now() - this.checkedAt < PricingCacheService.RECHECK_MS) {
      return Promise.resolve(this.snapshot);
    }
    if (this.inflight === null || this.inflight.generation !== this.generation) {
      const generation = this.generation;
      const promise = this.refresh(generation).finally(() => {
        if (this.inflight?.promise === promise) this.inflight = null;
      });
      this.inflight = { generation, promise };
    }
    return this.inflight.promise;
  }

  private async refresh(generation: number): Promise<Snapshot> {
    const startedAt = performance.now();
    // The counter is read before the data: a change committing in between makes the next check reload
    // again, never leaves newer data unseen under an older label.
    const version = await this.config.current();
    let snap = this.snapshot;
    if (snap === null || snap.configVersion !== version) {
      const [catalog, rows] = await Promise.all([this.models.list(), this.books.list()]);
      const books = rows.map(toPriceBookVersion);
      snap = {
        configVersion: version,
        index: buildModelIndex(catalog),
        books,
        corrections: new Set(rows.filter((r) => r.correction).map((r) => r.version)),
        bookAt: bookSelector(books),
        rates: memoizedRates(),
      };
      if (this.snapshot === null || this.snapshot.configVersion <= version) this.snapshot = snap;
    }
    if (generation === this.generation) this.checkedAt = Math.max(this.checkedAt, startedAt);
    return snap;
  }
}
