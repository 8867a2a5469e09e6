// A timer that runs a sweep (re-queueing work whose job was lost) every so often, only while this process
// consumes jobs, one run at a time, and waits for the run in progress at shutdown. A timer rather than a
// repeatable job: BullMQ keeps every deterministic job id for ever, and a job a minute would pile up half a
// million a year; several processes sweeping at once is harmless when what a sweep queues has a
// deterministic id.
import type { Logger } from '@nestjs/common';
import type { JobsService } from './jobs.service.js';

export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly jobs: JobsService,
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  start(everyMs: number, sweep: () => Promise<unknown>): void {
    this.timer = setInterval(() => {
      if (!this.jobs.consuming || this.running) return;
      this.running = sweep()
        .catch((error: unknown) => this.logger.warn({ err: error }, `${this.what} failed`))
        .finally(() => (this.running = null));
    }, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
