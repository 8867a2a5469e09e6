// Group commit of reservation rows (Redis engine). Two ways, by whether the answer waits for the row
// (AppConfig.authorizations.answerAfter):
// - `row` (delayMs 0): a row is written at once when a sink is free; rows that arrive while writes are in
//   flight go together in the next statement. The answer waits for it.
// - `redis` (delayMs > 0, write-behind): the hold is answered once Redis holds it and its row waits here
//   up to delayMs for others, so under load PostgreSQL gets one multi-row INSERT per tick instead of one
//   per free sink (each statement's socket write and commit cost more than its rows: 680 statements of 7
//   rows a second were a fifth of the service's CPU at 50 callers). A release or commit of a hold this
//   process has not written yet waits for its row (`written`); a shutdown writes what is queued (`flush`).
import { performance } from 'node:perf_hooks';
import { Histogram } from 'prom-client';
import type { NewReservation, ReservationSink } from './reservations.repository.js';

interface Waiting {
  row: NewReservation;
  /** performance.now() when it was queued. */
  at: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class ReservationWriter {
  private queue: Waiting[] = [];
  /** Rows queued or being written (not those waiting to be ready). */
  private readonly enqueued = new Set<Promise<void>>();
  /** Rows not yet written, by reservation id: a release or commit of one waits for it first. */
  private readonly unwritten = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  /** Flushes in progress: while any is, nothing waits out the delay. */
  private urgent = 0;

  constructor(
    /** One sink per write that may be in flight at once. */
    private readonly sinks: ReservationSink[],
    private readonly maxGroup: number,
    private readonly groupSize?: Histogram,
    /** How long a row may wait for others before its group is written (0: at once). */
    private readonly delayMs = 0,
  ) {}

  write(row: NewReservation): Promise<void> {
    return this.writeWhen(row.id, row);
  }

  /**
   * write() of a row that may not be ready yet (a hold answered from a lease is carved in Redis first):
   * a release or commit of it waits for it from now on.
   */
  writeWhen(id: string, row: NewReservation | Promise<NewReservation>): Promise<void> {
    const written = row instanceof Promise ? row.then((r) => this.enqueue(r)) : this.enqueue(row);
    this.unwritten.set(id, written);
    const forget = () => {
      if (this.unwritten.get(id) === written) this.unwritten.delete(id);
    };
    written.then(forget, forget);
    return written;
  }

  private enqueue(row: NewReservation): Promise<void> {
    const written = new Promise<void>((resolve, reject) => {
      this.queue.push({ row, at: this.delayMs > 0 ? performance.now() : 0, resolve, reject });
    });
    this.enqueued.add(written);
    const forget = () => this.enqueued.delete(written);
    written.then(forget, forget);
    this.schedule();
    return written;
  }

  /**
   * flush() of the rows queued or being written, not of those still waiting to be ready (a leased hold's
   * carve): for a rebuild, which a carve may itself be waiting for.
   */
  flushQueued(): Promise<void> {
    return this.writeNow([...this.enqueued]);
  }

  /**
   * Resolves once the row of this reservation, if this process is still writing it, is written (or
   * failed). A row still waiting out the delay is written at once (with the others queued).
   */
  async written(id: string): Promise<void> {
    const row = this.unwritten.get(id);
    if (row === undefined) return;
    await this.flush();
    await row.catch(() => undefined);
  }

  /**
   * written() for several reservations at once: null (nothing to wait for, no await) when this process is
   * writing none of them, the common case once holds are a moment old.
   */
  writtenAll(ids: Iterable<string | null>): Promise<void> | null {
    let rows: Promise<void>[] | null = null;
    for (const id of ids) {
      if (id === null) continue;
      const row = this.unwritten.get(id);
      if (row !== undefined) (rows ??= []).push(row);
    }
    if (rows === null) return null;
    return this.flush().then(() => Promise.all(rows.map((r) => r.catch(() => undefined)))).then(() => undefined);
  }

  /** Rows queued or being written. */
  get pending(): number {
    return this.unwritten.size;
  }

  /**
   * Writes the rows queued now without waiting out the delay and resolves once they are written (or
   * failed); rows queued meanwhile are written at once too while it waits. For the sweeper, a release or
   * commit of a queued row, and the shutdown.
   */
  flush(): Promise<void> {
    return this.writeNow([...this.unwritten.values()]);
  }

  /** Writes the queue at once, and keeps doing so until `waiting` are all settled. */
  private async writeNow(waiting: Promise<void>[]): Promise<void> {
    if (waiting.length === 0) return;
    this.urgent++;
    try {
      this.schedule();
      await Promise.allSettled(waiting);
    } finally {
      this.urgent--;
    }
  }

  /** Writes now what is due (everything without a delay; with one, once the oldest row waited it out or a group is full), else arms the timer. */
  private schedule(): void {
    if (this.queue.length === 0) return;
    const wait = this.delayMs > 0 && this.urgent === 0 && this.queue.length < this.maxGroup ? this.delayMs - (performance.now() - this.queue[0]!.at) : 0;
    if (wait <= 0) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      this.kick();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, Math.ceil(wait));
    }
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
          this.schedule();
        });
    }
  }
}
