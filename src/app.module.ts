// The application: the shell in src/ (config, database, jobs, auth, accounts, audit, health) and the
// domains on top of it. Domain dependencies point one way: billing -> metering -> tiers -> src.
import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AccountsModule } from './accounts/accounts.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import type { AppConfig } from './config/config.js';
import type { Clock } from './clock/clock.js';
import { CoreModule } from './core.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { HttpExceptionFilter } from './http/http-exception.filter.js';
import { IdempotencyModule } from './http/idempotency/idempotency.module.js';
import { ApiRoutes } from './http/route-hints.js';
import { JobsModule, type ProcessRole } from './jobs/jobs.module.js';
import { TiersModule } from '../tiers/tiers.module.js';
import { ReadingsModule } from '../metering/readings/readings.module.js';
import { BillingModule } from '../billing/billing.module.js';

export interface AppOptions {
  config: AppConfig;
  clock: Clock;
  role: ProcessRole;
  /** Extra modules, for tests that need a job or a route of their own. */
  extraModules?: (Type | DynamicModule)[];
}

@Module({})
export class AppModule {
  static forRoot(options: AppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(options.config, options.clock, options.role),
        DatabaseModule,
        JobsModule,
        IdempotencyModule,
        AuditModule,
        AccountsModule,
        AuthModule,
        HealthModule,
        TiersModule,
        ReadingsModule,
        BillingModule,
        ...(options.extraModules ?? []),
      ],
      providers: [ApiRoutes, { provide: APP_FILTER, useClass: HttpExceptionFilter }],
    };
  }
}
