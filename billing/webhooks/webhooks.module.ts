// Outgoing webhooks: endpoints, the event outbox other billing code (and metering, through the ports
// billing implements: task-classified.ts) emits into with `WebhookEvents.emit`, and delivery by jobs.
import { Module } from '@nestjs/common';
import { AuditModule } from '../../src/audit/audit.module.js';
import { APP_CONFIG, type AppConfig } from '../../src/config/config.js';
import { AddressPolicy } from './address-policy.js';
import { AfterCommit } from './after-commit.js';
import { WebhookDeliveryService } from './webhook-delivery.service.js';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';
import { WebhookEvents } from './webhook-events.js';
import { WebhookSender } from './webhook-sender.js';
import { WebhooksController } from './webhooks.controller.js';
import { WebhooksRepository } from './webhooks.repository.js';

/** Connecting gets at most this long, or the whole attempt's timeout when that is shorter. */
const CONNECT_TIMEOUT_MS = 5_000;

@Module({
  imports: [AuditModule],
  controllers: [WebhooksController],
  providers: [
    WebhooksRepository,
    AfterCommit,
    {
      provide: WebhookSender,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new WebhookSender(new AddressPolicy(config.webhooks.allowPrivate), {
          totalMs: config.webhooks.timeoutMs,
          connectMs: Math.min(CONNECT_TIMEOUT_MS, config.webhooks.timeoutMs),
        }),
    },
    WebhookDeliveryService,
    WebhookEndpointsService,
    WebhookEvents,
  ],
  exports: [WebhookEvents, AfterCommit],
})
export class WebhooksModule {}
