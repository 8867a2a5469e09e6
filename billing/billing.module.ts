// Billing: what finance allocates and what stops an agent before it overspends (budgets, authorizations,
// the credit ledger), and the outgoing webhooks that announce it; built on metering and tiers, neither of
// which imports billing.
import { Module } from '@nestjs/common';
import { AuthorizationsModule } from './authorizations/authorizations.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

@Module({
  imports: [AuthorizationsModule, WebhooksModule],
  exports: [WebhooksModule],
})
export class BillingModule {}
