// Background jobs: BullMQ on Redis when REDIS_URL is set, a PostgreSQL jobs table otherwise.
import { Global, Inject, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { CLOCK, type Clock } from '../clock/clock.js';
import type { OpenDatabase } from '../database/data-source.js';
import { OPEN_DATABASE } from '../database/database.module.js';
import { BullJobsRepository } from './bullmq-jobs.repository.js';
import { HealthModule } from '../health/health.module.js';
import { JobHousekeepingService } from './job-housekeeping.service.js';
import { JOB_BACKEND, JobQueue, type JobBackend } from './jobs.js';
import { JOBS_CONSUME, JobsService } from './jobs.service.js';
import { PgJobsRepository } from './pg-jobs.repository.js';

/** Which kind of process this is: the API may consume jobs, a worker always does. */
export const PROCESS_ROLE = Symbol('PROCESS_ROLE');
export type ProcessRole = 'api' | 'worker';

@Global()
@Module({
  imports: [DiscoveryModule, HealthModule],
  providers: [
    {
      provide: JOB_BACKEND,
      inject: [APP_CONFIG, DataSource, OPEN_DATABASE, CLOCK],
      useFactory: (config: AppConfig, dataSource: DataSource, db: OpenDatabase, clock: Clock): JobBackend =>
        config.redisUrl
          ? new BullJobsRepository({ url: config.redisUrl, cluster: config.redisCluster, prefix: config.queuePrefix }, clock)
          : new PgJobsRepository(dataSource, clock, { exclusive: db.embedded !== null }),
    },
    {
      provide: JOBS_CONSUME,
      inject: [APP_CONFIG, PROCESS_ROLE],
      useFactory: (config: AppConfig, role: ProcessRole) => role === 'worker' || config.apiRunsJobs,
    },
    JobsService,
    { provide: JobQueue, useExisting: JobsService },
    JobHousekeepingService,
  ],
  exports: [JobsService, JobQueue, JOB_BACKEND],
})
export class JobsModule {
  constructor(@Inject(JOB_BACKEND) readonly backend: JobBackend) {}
}
