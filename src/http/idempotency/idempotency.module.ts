// The idempotency keys, for every module's write routes (@Idempotent), and their daily pruning.
import { Global, Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { CLOCK, type Clock } from '../../clock/clock.js';
import { defineJob, JobHandler } from '../../jobs/jobs.js';
import { JobsService } from '../../jobs/jobs.service.js';
import { KEY_TTL_MS } from './idempotency.js';
import { IdempotencyInterceptor } from './idempotency.interceptor.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { IdempotentWrites } from './idempotent-writes.js';

export const pruneIdempotencyKeys = defineJob<{ period: string }>('idempotency.prune');

@Injectable()
export class IdempotencyHousekeeping implements OnModuleInit {
  constructor(
    private readonly jobs: JobsService,
    private readonly keys: IdempotencyRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.jobs.repeat(pruneIdempotencyKeys, 'day');
  }

  /** Forgets the keys no retry may use any more. */
  @JobHandler(pruneIdempotencyKeys)
  async prune(_: { period: string }): Promise<number> {
    return this.keys.prune(new Date(this.clock.now().getTime() - KEY_TTL_MS));
  }
}

@Global()
@Module({
  providers: [IdempotencyRepository, IdempotentWrites, IdempotencyInterceptor, IdempotencyHousekeeping],
  exports: [IdempotencyRepository, IdempotentWrites, IdempotencyInterceptor],
})
export class IdempotencyModule {}
