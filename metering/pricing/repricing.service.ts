// Prices what could not be priced at ingest, and reprices what an audited price-book correction changed.
// Both run as repeatable jobs (every minute, and on demand); each chunk updates the events and moves
// their cost (and, for newly known models, their tier) in the rollups within one transaction, in which it
// tells the spend counters (UsageCounters.spendChanged) which accounts' events changed.
import { Inject, Injectable, Logger, Optional, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { defineJob, JobHandler } from '../../src/jobs/jobs.js';
import { JobsService } from '../../src/jobs/jobs.service.js';
import { PricingCacheService } from '../../tiers/pricing/pricing-cache.service.js';
import type { StoredEvent } from '../ingest/event-row.js';
import { EventsRepository } from '../ingest/events.repository.js';
import { metered, NO_USAGE_COUNTERS, USAGE_COUNTERS, type UsageCounters } from '../ingest/usage-counters.port.js';
import { RepricingRepository } from './repricing.repository.js';

export const priceUnpriced = defineJob<{ period: string }>('metering.price-unpriced');
export const applyCorrections = defineJob<{ period: string }>('metering.apply-corrections');

const CHUNK = 500;

type EventKey = { account_id: string; ts: Date; event_id: string };
type Pricer = Awaited<ReturnType<PricingCacheService['pricer']>>;
const CORRECTIONS_KEY = 'last_correction_version';

@Injectable()
export class RepricingService implements OnModuleInit {
  private readonly logger = new Logger('repricing');
  private readonly counters: UsageCounters;

  constructor(
    private readonly events: EventsRepository,
    private readonly repricing: RepricingRepository,
    private readonly pricing: PricingCacheService,
    private readonly transactions: TransactionRunner,
    private readonly jobs: JobsService,
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() @Inject(USAGE_COUNTERS) counters: UsageCounters | null,
  ) {
    this.counters = counters ?? NO_USAGE_COUNTERS;
  }

  onModuleInit(): void {
    this.jobs.repeat(priceUnpriced, 'minute');
    this.jobs.repeat(applyCorrections, 'minute');
  }

  /** Prices every stored event whose model (or price) is now known. Returns how many were priced. */
  @JobHandler(priceUnpriced)
  async priceUnpriced(_: { period: string }): Promise<number> {
    let priced = 0;
    for (const { model_name } of await this.repricing.unpricedModels()) {
      for (;;) {
        const pricer = await this.pricing.pricer();
        const changed = await this.counted(async (tx, counters) => {
          const chunk = await this.repricing.lockUnpriced(tx, model_name, CHUNK);
          const { changed, counted } = await this.reprice(tx, chunk, pricer);
          await counters(counted);
          return changed.length;
        });
        priced += changed;
        if (changed < CHUNK) break;
      }
    }
    if (priced) this.logger.log(`priced ${priced} events`);
    return priced;
  }

  /**
   * Reprices the events each new correction covers, once per correction: those another version priced
   * (events ingested after the correction was published were priced by it). Returns how many it read.
   */
  @JobHandler(applyCorrections)
  async applyCorrections(_: { period: string }): Promise<number> {
    const last = await this.repricing.state(this.dataSource, CORRECTIONS_KEY);
    let repriced = 0;
    for (const window of await this.pricing.correctionsAfter(last)) {
      let after: EventKey | null = null;
      for (;;) {
        const pricer = await this.pricing.pricer();
        const { count, lastKey }: { count: number; lastKey: EventKey | null } = await this.counted(async (tx, counters) => {
          const chunk = await this.repricing.eventsInRange(tx, window.version, new Date(window.from), window.to ? new Date(window.to) : null, after, CHUNK);
          await counters((await this.reprice(tx, chunk, pricer)).counted);
          const tail = chunk[chunk.length - 1];
          return { count: chunk.length, lastKey: tail ? { account_id: tail.account_id, ts: tail.ts, event_id: tail.event_id } : null };
        });
        repriced += count;
        if (count < CHUNK || lastKey === null) break;
        after = lastKey;
      }
      await this.transactions.run((tx) => this.repricing.setState(tx, CORRECTIONS_KEY, window.version));
      this.logger.log(`applied price-book correction v${window.version}`);
    }
    return repriced;
  }

  /**
   * A chunk's transaction that tells the spend counters (UsageCounters.spendChanged) about the events it
   * changed, per account, and once it has ended runs their after-commit part (or their rollback): ingest
   * counted an unpriced event's tokens and no amount, and a correction's old cost, so until then a hard
   * amount budget (or a cap, or the credit balance) would under-count that spend. A failed after-commit
   * part is logged, not thrown: the prices are committed (and the counters made to rebuild, see
   * spendChanged).
   */
  private async counted<T>(work: (tx: Tx, counters: (changed: readonly StoredEvent[]) => Promise<void>) => Promise<T>): Promise<T> {
    const writes: { account: string; afterCommit(): Promise<void>; afterRollback(): Promise<void> }[] = [];
    const now = this.clock.now();
    const tell = async (tx: Tx, changed: readonly StoredEvent[]) => {
      const byAccount = new Map<string, StoredEvent[]>();
      for (const e of changed) byAccount.set(e.account_id, [...(byAccount.get(e.account_id) ?? []), e]);
      for (const [account, events] of byAccount) writes.push({ account, ...(await this.counters.spendChanged(tx, account, events.map(metered), now)) });
    };
    const logged = (account: string) => (error: unknown) => this.logger.error({ err: error, account }, 'the counters of repriced events were not refreshed; the account is rebuilt instead');
    let result: T;
    try {
      result = await this.transactions.run((tx) => work(tx, (changed) => tell(tx, changed)));
    } catch (error) {
      for (const w of writes) await w.afterRollback().catch(logged(w.account));
      throw error;
    }
    for (const w of writes) await w.afterCommit().catch(logged(w.account));
    return result;
  }

  /**
   * Prices each event with today's catalog and the book in force at its time; moves rollups by the
   * difference. Returns the events it changed, as they are now, and what the counters are told: those, and
   * an event as it was when its tier changed (its old tier's cap no longer counts it).
   */
  private async reprice(tx: Tx, chunk: readonly StoredEvent[], pricer: Pricer): Promise<{ changed: StoredEvent[]; counted: StoredEvent[] }> {
    const updates: StoredEvent[] = [];
    const before: StoredEvent[] = [];
    for (const e of chunk) {
      const usage = {
        input: Number(e.input),
        cached_input: Number(e.cached_input),
        cache_write: Number(e.cache_write),
        output: Number(e.output),
        reasoning: Number(e.reasoning),
      };
      const result = pricer(usage, e.model_name!, e.ts);
      if (result.status !== 'priced') continue;
      const c = result.priced.cost_by_kind;
      const next: StoredEvent = {
        ...e,
        model_id: result.model.id,
        tier: result.model.tier,
        price_book_version: result.book_version,
        rates_used: result.priced.rates_used,
        cost_input: c.input,
        cost_cached_input: c.cached_input,
        cost_cache_write: c.cache_write,
        cost_output: c.output,
        cost_reasoning: c.reasoning,
        cost: result.priced.total,
        priced: true,
      };
      if (e.priced && e.cost === next.cost && e.tier === next.tier && e.model_id === next.model_id) continue;
      updates.push(next);
      before.push(e);
    }
    await this.repricing.setPrices(tx, updates);
    await this.events.moveInRollups(tx, before, updates);
    return { changed: updates, counted: [...updates, ...before.filter((b, i) => b.tier !== null && b.tier !== updates[i]!.tier)] };
  }
}
