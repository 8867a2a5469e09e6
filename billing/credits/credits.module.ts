// The credit ledger: grants (period allowance, top-ups, promotional, ineffective-spend credits,
// adjustments) and a double-entry record of every movement; the `credits` level of authorization.
import { Module } from '@nestjs/common';
import { AccountsModule } from '../../src/accounts/accounts.module.js';
import { TiersModule } from '../../tiers/tiers.module.js';
import { AuthorizationsModule } from '../authorizations/authorizations.module.js';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { CreditLedger } from './credit-ledger.service.js';
import { CreditsRepository } from './credits.repository.js';

@Module({
  imports: [AccountsModule, TiersModule, AuthorizationsModule, WebhooksModule],
  providers: [CreditsRepository, CreditLedger],
  exports: [CreditLedger],
})
export class CreditsModule {}
