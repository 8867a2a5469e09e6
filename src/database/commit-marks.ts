// A mark written inside a request's own write transaction, so that "this write committed" is as durable as the
// write itself (an Idempotency-Key's, src/http/idempotency/idempotent-writes.ts). The request runs its write
// under `withCommitMark`; every transaction TransactionRunner opens in that call, while the mark is open,
// writes it before it commits: a rollback takes the mark with it, a commit keeps both. Closed once the request
// has its answer, so work the request left behind (a timer, a write-behind flush) never writes it.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Tx } from './data-source.js';

export interface CommitMark {
  open: boolean;
  write(tx: Tx): Promise<void>;
}

const marks = new AsyncLocalStorage<CommitMark>();

/** Runs `work` with `mark` written into each transaction it commits through TransactionRunner. */
export function withCommitMark<T>(mark: CommitMark, work: () => Promise<T>): Promise<T> {
  return marks.run(mark, work);
}

/**
 * Runs `work` outside any request's mark: for a scheduler whose timer a request may set (the in-process jobs'
 * poll), so the background work it starts never marks that request's key while the request is in flight.
 */
export function withoutCommitMark<T>(work: () => T): T {
  return marks.exit(work);
}

/** The open mark of the call this runs in, if any. */
export function openCommitMark(): CommitMark | undefined {
  const mark = marks.getStore();
  return mark?.open === true ? mark : undefined;
}
