// Stripe: the SDK behind one wrapper, the mirror of customers, finalized invoices and top-up invoices
// (queued by their owners, synced by jobs), and the signed webhook that applies Stripe's events once.
// Exports StripeSync (to queue) and StripeHandlers (where invoices and the credit ledger plug in).
import { Module } from '@nestjs/common';
import { AccountsModule } from '../../src/accounts/accounts.module.js';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { StripeApiRepository } from './stripe-api.repository.js';
import { StripeHandlers } from './stripe-ports.js';
import { StripeSync } from './stripe-sync.service.js';
import { StripeSyncRepository } from './stripe-sync.repository.js';
import { StripeWebhookController } from './stripe-webhook.controller.js';
import { StripeWebhooks } from './stripe-webhooks.service.js';

@Module({
  imports: [AccountsModule, WebhooksModule],
  controllers: [StripeWebhookController],
  providers: [StripeApiRepository, StripeSyncRepository, StripeHandlers, StripeSync, StripeWebhooks],
  exports: [StripeSync, StripeHandlers],
})
export class StripeModule {}
