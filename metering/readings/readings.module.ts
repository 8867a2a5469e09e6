// Readings of the meter: totals by dimension from the rollups, the per-operation listing, CSV exports and
// the live stream (SSE), whose MeterStreamService ingest publishes accepted operations to after commit.
// ReadingsService is exported for billing, which reads spend through it (budgets).
import { Module, type OnModuleInit } from '@nestjs/common';
import { AccountsModule } from '../../src/accounts/accounts.module.js';
import { HealthModule } from '../../src/health/health.module.js';
import { MeterPublisher } from '../ingest/meter-publisher.js';
import { MeteringModule } from '../metering.module.js';
import { toEventView } from './event-view.js';
import { MeterStreamController } from '../stream/meter-stream.controller.js';
import { MeterStreamService } from '../stream/meter-stream.service.js';
import { HourlyReadings } from './hourly-readings.js';
import { ReadingsController } from './readings.controller.js';
import { ReadingsRepository } from './readings.repository.js';
import { ReadingsService } from './readings.service.js';

@Module({
  imports: [AccountsModule, HealthModule, MeteringModule],
  controllers: [ReadingsController, MeterStreamController],
  providers: [ReadingsRepository, HourlyReadings, ReadingsService, MeterStreamService],
  exports: [MeterStreamService, ReadingsService],
})
export class ReadingsModule implements OnModuleInit {
  constructor(
    private readonly publisher: MeterPublisher,
    private readonly stream: MeterStreamService,
  ) {}

  /** Every operation ingest commits is streamed live to the account's (and the person's) listeners. */
  onModuleInit(): void {
    this.publisher.onPublished((accountId, events) => this.stream.publishMany(accountId, () => events.map(toEventView)));
  }
}
