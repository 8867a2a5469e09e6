// Price books: each POST publishes a new immutable version. A version whose effective_from lies in the
// past would reprice events already metered, so it is refused unless marked as an audited correction.
import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../../src/audit/audit.service.js';
import type { Actor } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { TiersError, TiersErrorCode as Code, validated } from '../tiers.errors.js';
import { parseInstant } from './instant.js';
import { PriceBooksRepository, type PriceBookRow } from './price-books.repository.js';
import type { CreatePriceBookBody } from './price-books.schemas.js';
import { PricingCacheService } from './pricing-cache.service.js';
import { modelNotInCatalog, selectPriceBook, validatePriceBookInput } from './pricing.js';
import { ModelsRepository } from '../catalog/models.repository.js';
import { TiersConfigRepository } from './tiers-config.repository.js';

const NANOS_PER_MS = 1_000_000n;

@Injectable()
export class PriceBooksService {
  constructor(
    private readonly repository: PriceBooksRepository,
    private readonly config: TiersConfigRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    private readonly cache: PricingCacheService,
    private readonly models: ModelsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async create(actor: Actor, body: CreatePriceBookBody): Promise<PriceBookRow> {
    const now = this.clock.now();
    const effectiveFrom = body.effective_from ?? now.toISOString();
    // Validate before taking the writers' lock; the real version number is assigned under it.
    const checked = validated(() =>
      validatePriceBookInput({
        version: 1,
        effective_from: effectiveFrom,
        ...(body.currency === undefined ? {} : { currency: body.currency }),
        tiers: body.tiers,
        ...(body.models === undefined ? {} : { models: body.models }),
        ...(body.long_context === undefined ? {} : { long_context: body.long_context }),
      }),
    );
    if (Object.keys(checked.models).length > 0 || Object.keys(checked.long_context?.models ?? {}).length > 0) {
      const missing = modelNotInCatalog(checked, await this.models.list());
      if (missing !== null) {
        throw new TiersError(
          Code.UnknownModel,
          missing.aliasOf === null
            ? `Model "${missing.id}" is not in the catalog: rates for it would never price an event. Add it to the catalog first (PUT /v1/models/${missing.id}).`
            : `"${missing.id}" is an alias of model "${missing.aliasOf}": price it by its id, "${missing.aliasOf}".`,
          { field: missing.field },
        );
      }
    }
    const fromNs = parseInstant(effectiveFrom, 'effective_from');
    const correction = body.correction === true;
    if (fromNs < BigInt(now.getTime()) * NANOS_PER_MS && !correction) {
      throw new TiersError(
        Code.EffectiveFromInPast,
        `effective_from ${effectiveFrom} is before now (${now.toISOString()}): it would reprice events already metered. ` +
          'Send "correction": true (and a "reason") to publish it as an audited correction.',
        { field: 'effective_from', now: now.toISOString() },
      );
    }
    const book = await this.transactions.run(async (tx) => {
      await this.config.bump(tx);
      const version = (await this.repository.maxVersion(tx)) + 1;
      const previous = version > 1 ? await this.repository.list(0, null, tx) : [];
      const superseded = selectPriceBook(previous, effectiveFrom) ?? null;
      const row = await this.repository.insert(tx, {
        version,
        effective_from: checked.effective_from,
        // Millisecond precision is enough for ordering in SQL; selection compares the verbatim string exactly.
        effective_at: new Date(Number(fromNs / NANOS_PER_MS)),
        currency: checked.currency ?? null,
        tiers: checked.tiers,
        models: checked.models,
        long_context: checked.long_context ?? null,
        correction,
        reason: body.reason ?? null,
        created_at: now,
        created_by: actor.keyId,
      });
      await this.audit.record(tx, actor, {
        action: correction ? 'price_book.correction' : 'price_book.create',
        entityType: 'price_book',
        entityId: String(version),
        accountId: null,
        // Before: the version that was in force at effective_from until now (what this one supersedes there).
        before: superseded,
        after: row,
      });
      return row;
    });
    this.cache.invalidate();
    return book;
  }

  list(after: number, limit: number): Promise<PriceBookRow[]> {
    return this.repository.list(after, limit);
  }

  /** The version in force at an instant, by the same rule events are priced with. */
  async inForceAt(at: string): Promise<PriceBookRow | null> {
    validated(() => parseInstant(at, 'at'));
    return selectPriceBook(await this.repository.list(), at) ?? null;
  }

  async get(version: number): Promise<PriceBookRow> {
    const row = await this.repository.find(version);
    if (!row) throw new TiersError(Code.PriceBookNotFound, `Price book version ${version} was not found.`);
    return row;
  }
}
