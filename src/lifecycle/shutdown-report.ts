// What a graceful shutdown waited for. Each part that holds something open (HTTP requests, jobs, live
// streams, Redis and database connections) closes it through `step`, which notes how long that took
// and what was open; main.ts logs the whole as the last line of the process.
import { Injectable } from '@nestjs/common';

export type StepDetail = Record<string, number | string | boolean>;

@Injectable()
export class ShutdownReport {
  /** HTTP requests (and open streams) being answered right now; kept by bootstrap's hooks. */
  requestsInFlight = 0;
  private readonly steps: Record<string, StepDetail & { ms: number }> = {};

  /** Runs one part of the shutdown, recording what it waited for and for how long (even if it fails). */
  async step<T>(name: string, detail: StepDetail, close: () => Promise<T> | T): Promise<T> {
    const started = performance.now();
    try {
      return await close();
    } finally {
      this.record(name, detail, performance.now() - started);
    }
  }

  /** Notes a part whose start and end are seen in two places (Fastify's preClose and onClose hooks). */
  record(name: string, detail: StepDetail, ms: number): void {
    this.steps[name] = { ...detail, ms: Math.round(ms) };
  }

  /** The steps that ran, in order. */
  waited(): Record<string, StepDetail & { ms: number }> {
    return { ...this.steps };
  }
}
