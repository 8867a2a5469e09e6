// Keeps the database job table small: finished jobs older than the retention are removed daily. Ids of
// repeatable jobs stay long enough that no period still being scheduled can be queued twice.
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, type Clock } from '../clock/clock.js';
import { defineJob, JobHandler } from './jobs.js';
import { JobsService } from './jobs.service.js';

export const pruneJobs = defineJob<{ period: string }>('jobs.prune');
const RETENTION_MS = 30 * 86_400_000;

@Injectable()
export class JobHousekeepingService implements OnModuleInit {
  constructor(
    private readonly jobs: JobsService,
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.jobs.repeat(pruneJobs, 'day');
  }

  @JobHandler(pruneJobs)
  async prune(_: { period: string }): Promise<void> {
    if (this.jobs.backendKind !== 'database') return;
    await this.dataSource.query(`DELETE FROM jobs WHERE status IN ('done', 'failed') AND finished_at < $1`, [
      new Date(this.clock.now().getTime() - RETENTION_MS),
    ]);
  }
}
