// Billing: what finance allocates and what stops an agent before it overspends (budgets, authorizations,
// the credit ledger), the outgoing webhooks that announce it, and Stripe; built on metering and tiers,
// neither of which imports billing.
import { Module } from '@nestjs/common';
import { AuthorizationsModule } from './authorizations/authorizations.module.js';
import { BudgetsModule } from './budgets/budgets.module.js';
import { StripeModule } from './stripe/stripe.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

@Module({
  imports: [AuthorizationsModule, BudgetsModule, WebhooksModule, StripeModule],
  exports: [WebhooksModule, StripeModule],
})
export class BillingModule {}
