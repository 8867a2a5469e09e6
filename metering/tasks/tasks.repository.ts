// Tasks: their rows (created, locked, their status and activity), the events of a task, and the label
// and status changes a task's classification writes.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryPrepared, queryRows, type Db } from '../../src/database/sql.js';
import { EVENT_COLUMNS, type StoredEvent } from '../ingest/event-row.js';
import { relabelParams, relabelSql, taskUpdateParams, taskUpdateSql, type LabelChanges } from '../ingest/event-write-sql.js';

export interface TaskRow {
  task_id: string;
  status: 'open' | 'succeeded' | 'failed' | 'abandoned';
  /** When it closed (read when the task is locked for a resolution). */
  closed_at?: Date | null;
}

@Injectable()
export class TasksRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Labels and task states changed by a task's resolution. */
  async saveLabels(tx: Tx, accountId: string, labels: LabelChanges): Promise<void> {
    await tx.query(
      `WITH relabelled AS (${relabelSql(2)}), tasks_changed AS (${taskUpdateSql(5)}) SELECT 1`,
      [accountId, ...relabelParams(labels.relabelled), ...taskUpdateParams(labels.taskUpdates)],
    );
  }

  /**
   * Creates missing tasks as open and locks every one, in a single upsert (the DO UPDATE takes the row
   * lock and records activity); ids in sorted order, so concurrent batches never deadlock. The same
   * statement says which of `eventIds` the account has already used. A task this statement created had
   * no row before, so it has no stored events (events in a task are only ever written with its row locked).
   */
  async lockTasks(
    tx: Tx,
    accountId: string,
    taskIds: readonly string[],
    now: Date,
    eventIds: readonly string[],
  ): Promise<{ tasks: Map<string, TaskRow & { created: boolean }>; taken: Set<string> }> {
    const sorted = [...new Set(taskIds)].sort();
    const rows = await queryPrepared<{ kind: 'task' | 'taken'; id: string; status: TaskRow['status'] | null; created: boolean | null }>(
      tx,
      `WITH locked AS (
         INSERT INTO tasks (account_id, task_id, status, opened_at, last_event_at)
         SELECT $1, t, 'open', $3, $3 FROM unnest($2::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n
         ON CONFLICT (account_id, task_id) DO UPDATE SET last_event_at = GREATEST(tasks.last_event_at, EXCLUDED.last_event_at)
         RETURNING task_id, status, xmax = 0 AS created)
       SELECT 'task' AS kind, task_id AS id, status, created FROM locked
       UNION ALL
       SELECT 'taken', event_id, NULL, NULL FROM event_keys WHERE account_id = $1 AND event_id = ANY($4::text[])`,
      [accountId, sorted, now, eventIds],
    );
    const tasks = new Map<string, TaskRow & { created: boolean }>();
    const taken = new Set<string>();
    for (const r of rows) {
      if (r.kind === 'task') tasks.set(r.id, { task_id: r.id, status: r.status!, created: r.created! });
      else taken.add(r.id);
    }
    return { tasks, taken };
  }

  async lockExistingTasks(tx: Tx, accountId: string, taskIds: readonly string[]): Promise<Map<string, TaskRow>> {
    const rows = await queryPrepared<TaskRow>(
      tx,
      'SELECT task_id, status, closed_at FROM tasks WHERE account_id = $1 AND task_id = ANY($2::text[]) ORDER BY task_id FOR UPDATE',
      [accountId, [...new Set(taskIds)].sort()],
    );
    return new Map(rows.map((r) => [r.task_id, r]));
  }

  async taskEvents(db: Db, accountId: string, taskIds: readonly string[]): Promise<StoredEvent[]> {
    if (taskIds.length === 0) return [];
    return queryPrepared<StoredEvent>(
      db,
      `SELECT ${EVENT_COLUMNS.join(', ')} FROM events WHERE account_id = $1 AND task_id = ANY($2::text[]) ORDER BY ts, seq`,
      [accountId, [...new Set(taskIds)]],
    );
  }

  /** Open tasks idle for longer than their account's timeout, oldest first. */
  async idleTasks(now: Date, limit: number): Promise<{ account_id: string; task_id: string }[]> {
    return queryRows(
      this.dataSource,
      `SELECT t.account_id, t.task_id FROM tasks t JOIN accounts a ON a.id = t.account_id
        WHERE t.status = 'open' AND t.last_event_at < $1::timestamptz - make_interval(secs => a.task_inactivity_timeout_seconds)
        ORDER BY t.last_event_at LIMIT $2`,
      [now, limit],
    );
  }
}
