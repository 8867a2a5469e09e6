import { Module } from '@nestjs/common';
import { HealthChecks } from './health-checks.js';
import { HealthController } from './health.controller.js';
import { Metrics } from './metrics.js';

@Module({
  controllers: [HealthController],
  providers: [Metrics, HealthChecks],
  exports: [Metrics, HealthChecks],
})
export class HealthModule {}
