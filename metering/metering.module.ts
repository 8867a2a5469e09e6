// Metering: ingest of token events with their meter reading, effective-spend classification, task
// resolution, pricing of events whose model was unknown, and the rollups readings are served from (with
// their hourly compaction).
import { Module } from '@nestjs/common';
import { AccountsModule } from '../src/accounts/accounts.module.js';
import { HealthModule } from '../src/health/health.module.js';
import { TiersModule } from '../tiers/tiers.module.js';
import { CompactionRepository } from './compaction/compaction.repository.js';
import { CompactionService } from './compaction/compaction.service.js';
import { TaskLabeler } from './classification/task-labeler.js';
import { EventsRepository } from './ingest/events.repository.js';
import { IngestController } from './ingest/ingest.controller.js';
import { IngestService } from './ingest/ingest.service.js';
import { IngestWriter } from './ingest/ingest-writer.js';
import { MeterPublisher } from './ingest/meter-publisher.js';
import { RepricingRepository } from './pricing/repricing.repository.js';
import { RepricingService } from './pricing/repricing.service.js';
import { UnpricedController } from './pricing/unpriced.controller.js';
import { RebuildRepository } from './rebuild/rebuild.repository.js';
import { RebuildService } from './rebuild/rebuild.service.js';
import { TasksController } from './tasks/tasks.controller.js';
import { TasksRepository } from './tasks/tasks.repository.js';
import { TasksService } from './tasks/tasks.service.js';
import { IgnoredUsageFieldsController } from './usage/ignored-usage-fields.controller.js';
import { IgnoredUsageFieldsRepository } from './usage/ignored-usage-fields.repository.js';
import { IgnoredUsageFieldsService } from './usage/ignored-usage-fields.service.js';

@Module({
  imports: [AccountsModule, HealthModule, TiersModule],
  controllers: [IngestController, TasksController, UnpricedController, IgnoredUsageFieldsController],
  providers: [CompactionRepository, CompactionService, EventsRepository, IgnoredUsageFieldsRepository, IgnoredUsageFieldsService, IngestService, IngestWriter, MeterPublisher, RebuildRepository, RebuildService, RepricingRepository, RepricingService, TaskLabeler, TasksRepository, TasksService],
  exports: [CompactionService, EventsRepository, MeterPublisher, IngestService, RebuildService, RepricingService],
})
export class MeteringModule {}
