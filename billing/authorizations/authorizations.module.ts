// Authorizations: the atomic hold engine (Redis with PostgreSQL as the record, or PostgreSQL alone), the
// reserve and release routes, caps per agent and per session context, and reservation expiry. Budgets
// and credits register their limits with LimitRegistry; ingest reaches the engine through metering's
// port, implemented in ingest-counters.ts.
import { Inject, Logger, Module, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { AccountsModule } from '../../src/accounts/accounts.module.js';
import { AuditModule } from '../../src/audit/audit.module.js';
import { APP_CONFIG, type AppConfig } from '../../src/config/config.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { HealthModule } from '../../src/health/health.module.js';
import { Metrics } from '../../src/health/metrics.js';
import { redisClient, type RedisClient } from '../../src/redis/redis-client.js';
import { TiersModule } from '../../tiers/tiers.module.js';
import { AuthorizationsController } from './authorizations.controller.js';
import { AuthorizationsService } from './authorizations.service.js';
import { CapsController } from './caps.controller.js';
import { CapsRepository } from './caps.repository.js';
import { CapsService } from './caps.service.js';
import { COUNTERS_ENGINE, type CountersEngine } from './counters.js';
import { CountersRepository } from './counters.repository.js';
import { LeaseBroadcast } from './lease-broadcast.js';
import { DEFAULT_LEASE } from './lease-policy.js';
import { LimitRegistry } from './limit-registry.js';
import { PathPlans } from './path-plans.js';
import { PgCounters } from './pg-counters.js';
import { RedisCounters } from './redis-counters.js';
import { ReservationExpiryService } from './reservation-expiry.service.js';
import { ReservationWriter } from './reservation-writer.js';
import { ReservationsRepository } from './reservations.repository.js';
import { SpendRepository } from './spend.repository.js';
import { TierCaps } from './tier-caps.js';

const COUNTERS_REDIS = Symbol('COUNTERS_REDIS');
const RESERVATION_WRITER = Symbol('RESERVATION_WRITER');

/**
 * At shutdown the reservation rows still queued (write-behind) are written before PostgreSQL and Redis
 * close: once before the HTTP server closes, again after it (requests it finished meanwhile).
 */
class CountersRedisLifecycle implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('authorizations');
  constructor(
    @Inject(COUNTERS_REDIS) private readonly redis: RedisClient | null,
    @Inject(RESERVATION_WRITER) private readonly writer: ReservationWriter | null,
    @Inject(COUNTERS_ENGINE) private readonly engine: CountersEngine,
  ) {}
  async beforeApplicationShutdown(): Promise<void> {
    if (this.engine instanceof RedisCounters) await this.engine.quiesce();
    await this.flush();
  }
  async onApplicationShutdown(): Promise<void> {
    // Budget leases give back what they hold (after the rows of their holds), then the rows left are written.
    if (this.engine instanceof RedisCounters) {
      await this.engine.quiesce();
      await this.engine.close();
    }
    await this.flush();
    if (this.redis) await this.redis.quit().catch(() => this.redis!.disconnect());
  }
  private async flush(): Promise<void> {
    const pending = this.writer?.pending ?? 0;
    // Requests still being answered may queue more; a few rounds write them too.
    for (let round = 0; round < 10 && (this.writer?.pending ?? 0) > 0; round++) await this.writer!.flush();
    if (pending > 0) this.logger.log(`wrote ${pending} queued reservation rows before shutting down`);
  }
}

@Module({
  imports: [AccountsModule, AuditModule, HealthModule, TiersModule],
  controllers: [AuthorizationsController, CapsController],
  providers: [
    ReservationsRepository,
    CountersRepository,
    SpendRepository,
    CapsRepository,
    LimitRegistry,
    TierCaps,
    PathPlans,
    {
      // Redis counters need a PostgreSQL server too: the embedded store is one process with one connection.
      provide: COUNTERS_REDIS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): RedisClient | null =>
        config.redisUrl && config.databaseUrl ? redisClient({ url: config.redisUrl, cluster: config.redisCluster }, { enableAutoPipelining: true, maxRetriesPerRequest: 3 }) : null,
    },
    {
      provide: RESERVATION_WRITER,
      inject: [COUNTERS_REDIS, APP_CONFIG, ReservationsRepository, Metrics],
      useFactory: (redis: RedisClient | null, config: AppConfig, reservations: ReservationsRepository, metrics: Metrics): ReservationWriter | null => {
        if (redis === null) return null;
        const groups = new Histogram({
          name: 'tokenmeter_authorization_group_rows',
          help: 'Reservation rows per database write (group commit of the holds Redis allowed)',
          buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
          registers: [metrics.registry],
        });
        // Answered after Redis: rows are written behind, one statement per tick of writeDelayMs at most.
        const delay = config.authorizations.answerAfter === 'redis' ? config.authorizations.writeDelayMs : 0;
        return new ReservationWriter([reservations.openSink(), reservations.openSink()], 1000, groups, delay);
      },
    },
    CountersRedisLifecycle,
    {
      provide: COUNTERS_ENGINE,
      inject: [COUNTERS_REDIS, RESERVATION_WRITER, APP_CONFIG, TransactionRunner, CountersRepository, ReservationsRepository, SpendRepository, LimitRegistry, Metrics],
      useFactory: (
        redis: RedisClient | null,
        writer: ReservationWriter | null,
        config: AppConfig,
        transactions: TransactionRunner,
        counters: CountersRepository,
        reservations: ReservationsRepository,
        spend: SpendRepository,
        limits: LimitRegistry,
        metrics: Metrics,
      ): CountersEngine => {
        if (redis === null || writer === null) return new PgCounters(transactions, counters, reservations, spend, limits);
        const batches = new Histogram({
          name: 'tokenmeter_authorization_hold_batch',
          help: 'Holds per Redis script call (the holds of an account that arrived in one turn of the event loop)',
          buckets: [1, 2, 4, 8, 16, 32, 64, 128],
          registers: [metrics.registry],
        });
        const leases = new Counter({
          name: 'tokenmeter_authorization_leases_total',
          help: 'Budget leases: taken, refused (no room), released, and holds answered from one (answered)',
          labelNames: ['outcome'],
          registers: [metrics.registry],
        });
        // A hold answered from a lease has its row written behind: no leases where the answer waits for the row.
        const leaseHolds = config.authorizations.answerAfter === 'redis' ? config.authorizations.leaseHolds : 0;
        const namespace = config.queuePrefix.replace(/[{}]/g, '');
        return new RedisCounters(redis, namespace, transactions, reservations, writer, spend, limits, config.authorizations.answerAfter, batches, {
          ...DEFAULT_LEASE,
          holds: leaseHolds,
          carveDelayMs: config.authorizations.writeDelayMs,
        }, leases, leaseHolds > 0 ? new LeaseBroadcast(redis, redis.duplicate(), `${namespace}:leases`) : undefined);
      },
    },
    CapsService,
    AuthorizationsService,
    ReservationExpiryService,
  ],
  exports: [COUNTERS_ENGINE, LimitRegistry, PathPlans, SpendRepository],
})
export class AuthorizationsModule {}
