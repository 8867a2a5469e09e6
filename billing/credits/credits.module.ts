// The credit ledger: grants (period allowance, top-ups, promotional, ineffective-spend credits,
// adjustments) and a double-entry record of every movement; the `credits` level of authorization.
import { Module } from '@nestjs/common';
import { AccountsModule } from '../../src/accounts/accounts.module.js';
import { AuditModule } from '../../src/audit/audit.module.js';
import { HealthModule } from '../../src/health/health.module.js';
import { TiersModule } from '../../tiers/tiers.module.js';
import { AuthorizationsModule } from '../authorizations/authorizations.module.js';
import { StripeModule } from '../stripe/stripe.module.js';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { CreditLedger } from './credit-ledger.service.js';
import { CreditsLimits } from './credits-limits.js';
import { CreditsSettleService } from './credits-settle.service.js';
import { CreditsController } from './credits.controller.js';
import { CreditsRepository } from './credits.repository.js';
import { CreditsService } from './credits.service.js';

@Module({
  imports: [AccountsModule, AuditModule, HealthModule, TiersModule, AuthorizationsModule, WebhooksModule, StripeModule],
  controllers: [CreditsController],
  providers: [CreditsRepository, CreditLedger, CreditsLimits, CreditsSettleService, CreditsService],
  exports: [CreditLedger],
})
export class CreditsModule {}
