// Billing: what finance allocates and what stops an agent before it overspends (budgets, authorizations,
// the credit ledger), built on metering and tiers; neither of them imports billing.
import { Module } from '@nestjs/common';

@Module({
  imports: [],
})
export class BillingModule {}
