// Billing: what finance allocates and what stops an agent before it overspends (budgets, authorizations,
// the credit ledger), the outgoing webhooks that announce it, and Stripe; built on metering and tiers,
// neither of which imports billing.
import { Module } from '@nestjs/common';
import { AuthorizationsModule } from './authorizations/authorizations.module.js';
import { IngestCountersModule } from './authorizations/ingest-counters.module.js';
import { InvoicedPeriodsModule } from './invoices/invoiced-periods.js';
import { BudgetsModule } from './budgets/budgets.module.js';
import { OrgBudgetsModule } from './budgets/org-budgets.module.js';
import { CreditsModule } from './credits/credits.module.js';
import { InvoicesModule } from './invoices/invoices.module.js';
import { StripeModule } from './stripe/stripe.module.js';
import { TaskClassifiedModule } from './webhooks/task-classified.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

@Module({
  imports: [AuthorizationsModule, IngestCountersModule, BudgetsModule, OrgBudgetsModule, WebhooksModule, TaskClassifiedModule, StripeModule, CreditsModule, InvoicesModule, InvoicedPeriodsModule],
  exports: [WebhooksModule, StripeModule, CreditsModule],
})
export class BillingModule {}
