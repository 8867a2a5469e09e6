// Invoices: period close (a job per subscription period and by hand), drafts finalized after a grace
// period, paid or void, read as JSON, CSV or HTML; the Stripe invoice handler. Uses the credit ledger
// through INVOICE_CREDITS (invoice-credits.port.ts, implemented over billing/credits in ledger-credits.ts).
import { Inject, Module, type OnModuleInit } from '@nestjs/common';
import { AccountsModule } from '../../src/accounts/accounts.module.js';
import { AuditModule } from '../../src/audit/audit.module.js';
import { TiersModule } from '../../tiers/tiers.module.js';
import { StripeHandlers } from '../stripe/stripe-ports.js';
import { StripeModule } from '../stripe/stripe.module.js';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { CreditsModule } from '../credits/credits.module.js';
import { INVOICE_CREDITS } from './invoice-credits.port.js';
import { InvoicesController } from './invoices.controller.js';
import { InvoicesRepository } from './invoices.repository.js';
import { InvoicesService } from './invoices.service.js';
import { LedgerInvoiceCredits } from './ledger-credits.js';

@Module({
  imports: [AccountsModule, AuditModule, TiersModule, WebhooksModule, StripeModule, CreditsModule],
  controllers: [InvoicesController],
  providers: [InvoicesRepository, InvoicesService, LedgerInvoiceCredits, { provide: INVOICE_CREDITS, useExisting: LedgerInvoiceCredits }],
  exports: [InvoicesService],
})
export class InvoicesModule implements OnModuleInit {
  constructor(
    private readonly handlers: StripeHandlers,
    @Inject(InvoicesService) private readonly invoices: InvoicesService,
  ) {}

  onModuleInit(): void {
    this.handlers.handleInvoices(this.invoices);
  }
}
