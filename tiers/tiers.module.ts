// Tiers and plans: the model catalog, price-book versions, plan versions and subscriptions, plus the
// per-process pricing cache the metering module prices events through.
import { Module } from '@nestjs/common';
import { AccountsModule } from '../src/accounts/accounts.module.js';
import { AuditModule } from '../src/audit/audit.module.js';
import { ModelsController } from './catalog/models.controller.js';
import { ModelsRepository } from './catalog/models.repository.js';
import { ModelsService } from './catalog/models.service.js';
import { PlansController } from './plans/plans.controller.js';
import { PlansRepository } from './plans/plans.repository.js';
import { PlansService } from './plans/plans.service.js';
import { PriceBooksController } from './pricing/price-books.controller.js';
import { PriceBooksRepository } from './pricing/price-books.repository.js';
import { PriceBooksService } from './pricing/price-books.service.js';
import { PricingCacheService } from './pricing/pricing-cache.service.js';
import { TiersConfigRepository } from './pricing/tiers-config.repository.js';
import { SubscriptionsController } from './subscriptions/subscriptions.controller.js';
import { SubscriptionsRepository } from './subscriptions/subscriptions.repository.js';
import { SubscriptionsService } from './subscriptions/subscriptions.service.js';

@Module({
  imports: [AuditModule, AccountsModule],
  controllers: [ModelsController, PriceBooksController, PlansController, SubscriptionsController],
  providers: [
    TiersConfigRepository,
    ModelsRepository,
    ModelsService,
    PriceBooksRepository,
    PriceBooksService,
    PricingCacheService,
    PlansRepository,
    PlansService,
    SubscriptionsRepository,
    SubscriptionsService,
  ],
  exports: [PricingCacheService, PlansService, SubscriptionsService],
})
export class TiersModule {}
