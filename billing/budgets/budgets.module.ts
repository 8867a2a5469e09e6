// Budgets: people-plus-tokens allocations down the org tree per period, transfers, burn and forecasts read
// from metering, alerts (stored, and sent as webhooks); hard budgets are limits on the counters engine.
import { Module } from '@nestjs/common';
import { MeteringModule } from '../../metering/metering.module.js';
import { ReadingsModule } from '../../metering/readings/readings.module.js';
import { AccountsModule } from '../../src/accounts/accounts.module.js';
import { AuditModule } from '../../src/audit/audit.module.js';
import { AuthorizationsModule } from '../authorizations/authorizations.module.js';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { BudgetBurnService } from './budget-burn.service.js';
import { BudgetsDataModule } from './budgets-data.module.js';
import { BudgetsController } from './budgets.controller.js';
import { BudgetsService } from './budgets.service.js';

@Module({
  imports: [AccountsModule, AuditModule, AuthorizationsModule, BudgetsDataModule, MeteringModule, ReadingsModule, WebhooksModule],
  controllers: [BudgetsController],
  providers: [BudgetsService, BudgetBurnService],
  exports: [BudgetsService],
})
export class BudgetsModule {}
