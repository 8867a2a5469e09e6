// Reservations release on their own when they expire: every hold releases due ones of its account lazily,
// and this job, every minute, marks the due rows expired in PostgreSQL and takes them off the counters.
// It also prunes the journal of counter writes (a rebuild only asks about writes of the last minutes).
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { defineJob, JobHandler } from '../../src/jobs/jobs.js';
import { JobsService } from '../../src/jobs/jobs.service.js';
import { COUNTERS_ENGINE, type CountersEngine } from './counters.js';
import { ReservationsRepository } from './reservations.repository.js';

export const expireReservations = defineJob<{ period: string }>('authorizations.expire');
const JOURNAL_KEEP_MS = 86_400_000;

@Injectable()
export class ReservationExpiryService implements OnModuleInit {
  constructor(
    private readonly jobs: JobsService,
    private readonly reservations: ReservationsRepository,
    @Inject(COUNTERS_ENGINE) private readonly engine: CountersEngine,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.jobs.repeat(expireReservations, 'minute');
  }

  @JobHandler(expireReservations)
  async run(_: { period: string }): Promise<{ expired: number }> {
    const now = this.clock.now();
    const expired = await this.engine.expireDue(now);
    await this.reservations.pruneWrites(new Date(now.getTime() - JOURNAL_KEEP_MS));
    return { expired };
  }
}
