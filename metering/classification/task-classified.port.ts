// The port through which a task's resolution is announced (billing's opt-in `task.classified` webhook),
// defined here and implemented by billing (billing/webhooks/task-classified.ts), so metering never imports
// billing. Called inside the transaction that resolves the task (the close API, the inactivity timeout, an
// ingested event carrying task_status), so an announcement exists iff the resolution commits.
import type { Tx } from '../../src/database/data-source.js';
import type { TaskSummary } from './task-summary.js';

/** The injection token of the TaskClassifiedHook implementation (billing binds it; without billing there is none). */
export const TASK_CLASSIFIED = Symbol('TASK_CLASSIFIED');

/** A task that resolved (its status changed to a closed one), with its classification. */
export interface ClassifiedTask extends TaskSummary {
  task_id: string;
  status: 'succeeded' | 'failed' | 'abandoned';
  closed_at: Date;
  /** The key that closed it, or `inactivity-timeout`; null when unknown. */
  closed_by: string | null;
}

export interface TaskClassifiedHook {
  /**
   * Whether anyone may hear of the account's tasks resolving. Ingest asks before a write that closes a task
   * and would otherwise need no transaction; when not, it keeps its fast path.
   */
  listening(account: string): Promise<boolean>;
  /** Announces resolved tasks, in the transaction that resolves them. */
  classified(tx: Tx, account: string, tasks: readonly ClassifiedTask[]): Promise<void>;
}

/** Nobody listening (metering without billing). */
export const NO_TASK_CLASSIFIED: TaskClassifiedHook = {
  listening: async () => false,
  classified: async () => undefined,
};
