// Group commit of reservation rows (Redis engine): holds answered by Redis wait here for their durable
// row, and rows that arrive while a write is in flight go to PostgreSQL together in the next statement.
// A hold alone is written at once; under load the groups grow and each is still one statement.
import { Histogram } from 'prom-client';
import type { NewReservation, ReservationSink } from './reservations.repository.js';

interface Waiting {
  row: NewReservation;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class ReservationWriter {
  private queue: Waiting[] = [];
  /** Rows not yet written, by reservation id: a release or commit of one waits for it first. */
  private readonly unwritten = new Map<string, Promise<void>>();

  constructor(
    /** One sink per write that may be in flight at once. */
    private readonly sinks: ReservationSink[],
    private readonly maxGroup: number,
    private readonly groupSize?: Histogram,
  ) {}

  write(row: NewReservation): Promise<void> {
    const written = new Promise<void>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.kick();
    });
    this.unwritten.set(row.id, written);
    const forget = () => this.unwritten.delete(row.id);
    written.then(forget, forget);
    return written;
  }

  /** Resolves once the row of this reservation, if this process is still writing it, is written (or failed). */
  async written(id: string): Promise<void> {
    await this.unwritten.get(id)?.catch(() => undefined);
  }

  private kick(): void {
    while (this.sinks.length > 0 && this.queue.length > 0) {
      const group = this.queue.length <= this.maxGroup ? this.queue : this.queue.slice(0, this.maxGroup);
      this.queue = this.queue.length <= this.maxGroup ? [] : this.queue.slice(this.maxGroup);
      const sink = this.sinks.pop()!;
      this.groupSize?.observe(group.length);
      sink
        .insertMany(group.map((w) => w.row))
        .then(
          () => group.forEach((w) => w.resolve()),
          (error: unknown) => group.forEach((w) => w.reject(error)),
        )
        .finally(() => {
          this.sinks.push(sink);
          this.kick();
        });
    }
  }
}
