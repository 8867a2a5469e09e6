// The model catalog: ids, providers, tiers and aliases. A write is checked against the whole catalog so
// that every name (id or alias) points at exactly one model; resolution itself is model-resolution.ts.
import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../../src/audit/audit.service.js';
import type { Actor } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { PricingCacheService } from '../pricing/pricing-cache.service.js';
import { isTier, TIERS } from '../pricing/pricing.js';
import { TiersConfigRepository } from '../pricing/tiers-config.repository.js';
import { TiersError, TiersErrorCode as Code } from '../tiers.errors.js';
import { buildModelIndex, CatalogConflictError, resolveModel, type MatchedBy } from './model-resolution.js';
import { ModelsRepository, type Model } from './models.repository.js';
import type { PutModelBody } from './models.schemas.js';

export type ResolvedModel = Model & { requested_name: string; matched_by: MatchedBy };

@Injectable()
export class ModelsService {
  constructor(
    private readonly repository: ModelsRepository,
    private readonly config: TiersConfigRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    private readonly cache: PricingCacheService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async put(actor: Actor, id: string, body: PutModelBody): Promise<Model> {
    if (!isTier(body.tier)) {
      throw new TiersError(Code.UnknownTier, `Unknown tier "${body.tier}"; tiers are ${TIERS.join(', ')}.`, { field: 'tier' });
    }
    const tier = body.tier;
    const aliases = [...new Set(body.aliases ?? [])].filter((a) => a !== id).sort();
    const model = await this.transactions.run(async (tx) => {
      await this.config.bump(tx);
      const catalog = await this.repository.list(tx);
      const before = catalog.find((m) => m.id === id) ?? null;
      const now = this.clock.now();
      const next: Model = { id, provider: body.provider, tier, aliases, created_at: before?.created_at ?? now, updated_at: now };
      try {
        buildModelIndex([...catalog.filter((m) => m.id !== id), next]);
      } catch (error) {
        if (!(error instanceof CatalogConflictError)) throw error;
        throw new TiersError(Code.ModelNameConflict, `The name "${error.model_name}" already names another model.`, {
          field: error.model_name === id ? 'id' : 'aliases',
          name: error.model_name,
        });
      }
      const after = await this.repository.upsert(tx, next);
      await this.audit.record(tx, actor, {
        action: before ? 'model.update' : 'model.create',
        entityType: 'model',
        entityId: id,
        accountId: null,
        before,
        after,
      });
      return after;
    });
    this.cache.invalidate();
    return model;
  }

  list(): Promise<Model[]> {
    return this.repository.list();
  }

  /** By id, else through an alias or the dated-snapshot rule (see model-resolution.ts). */
  async get(name: string): Promise<Model | ResolvedModel> {
    const exact = await this.repository.find(name);
    if (exact) return exact;
    const resolution = resolveModel(name, await this.repository.list());
    if (resolution.status === 'unknown') {
      throw new TiersError(Code.ModelNotFound, `No catalog model is named "${name}", by id, alias or dated snapshot.`);
    }
    return { ...resolution.model, requested_name: name, matched_by: resolution.matched_by };
  }
}
