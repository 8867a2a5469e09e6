// Binds metering's ingest port (USAGE_COUNTERS) to billing's counters. Global so that metering resolves the
// token without importing billing: dependencies keep pointing billing -> metering.
import { Global, Module } from '@nestjs/common';
import { USAGE_COUNTERS } from '../../metering/ingest/usage-counters.port.js';
import { AuthorizationsModule } from './authorizations.module.js';
import { IngestCounters } from './ingest-counters.js';

@Global()
@Module({
  imports: [AuthorizationsModule],
  providers: [IngestCounters, { provide: USAGE_COUNTERS, useExisting: IngestCounters }],
  exports: [USAGE_COUNTERS],
})
export class IngestCountersModule {}
