// Applies classification to stored tasks: loads a task's events, classifies the whole task (a pure
// function of its events and status) and turns the difference into label changes and rollup deltas.
// Used by ingest (new events), by the close API and by the inactivity timeout alike.
import { Injectable } from '@nestjs/common';
import type { Tx } from '../../src/database/data-source.js';
import type { StoredEvent } from '../ingest/event-row.js';
import type { LabelChanges, TaskUpdate } from '../ingest/event-write-sql.js';
import { TasksRepository, type TaskRow } from '../tasks/tasks.repository.js';
import type { PreparedEvent } from '../ingest/event-input.js';
import { checkLearnedFrom, classifyTask, type SpendLabel, type TaskEvent, type TaskStatus } from './classify.js';
import type { ClassifiedTask } from './task-classified.port.js';
import { summarizeTask } from './task-summary.js';

export interface Relabel {
  ts: Date;
  event_id: string;
  label: SpendLabel;
  /** The event as stored, before the new label. */
  stored: StoredEvent;
}

function storedTaskEvent(e: StoredEvent): TaskEvent {
  return {
    event_key: e.event_id,
    attempt_id: e.attempt_id,
    outcome: e.outcome,
    error_signature: e.error_signature,
    learned_from: e.learned_from,
    tokens: Number(e.input) + Number(e.cached_input) + Number(e.cache_write) + Number(e.output),
    cost: e.cost ?? '0',
    timestamp: e.ts.toISOString(),
    sequence: Number(e.seq),
  };
}

function preparedTaskEvent(e: PreparedEvent, receivedMs: number, cost: string = '0'): TaskEvent {
  const u = e.usage;
  return {
    event_key: e.id,
    attempt_id: e.attempt_id,
    outcome: e.outcome,
    error_signature: e.error_signature,
    learned_from: e.learned_from,
    tokens: u.input + u.cached_input + u.cache_write + u.output,
    cost,
    timestamp: e.ts.toISOString(),
    sequence: receivedMs * 1000 + e.index,
  };
}

/** The outcome of classifying tasks in one transaction: labels for new events, changes for old ones. */
export class TaskLabels implements LabelChanges {
  readonly relabelled: Relabel[] = [];
  private readonly labels = new Map<string, SpendLabel>();
  readonly taskUpdates: TaskUpdate[] = [];
  /** Tasks that resolved here (their status changed to a closed one), for the TASK_CLASSIFIED port. */
  readonly classified: ClassifiedTask[] = [];

  constructor(
    private readonly repository: TasksRepository,
    private readonly accountId: string,
  ) {}

  /** The ids classified as new attempts of their tasks (repeats of stored ids are left out). */
  attempts(): string[] {
    return [...this.labels.keys()];
  }

  /** The label classification gave a new event; null for one it left out (a repeat of a stored id). */
  labelOrNull(eventId: string): SpendLabel | null {
    return this.labels.get(eventId) ?? null;
  }

  /** Classifies one task and records what changed. */
  apply(
    task: TaskRow,
    status: TaskStatus,
    stored: readonly StoredEvent[],
    added: readonly TaskEvent[],
    now: Date,
    closedBy: string | null,
    touched: boolean,
  ): void {
    const events = [...stored.map(storedTaskEvent), ...added];
    const result = classifyTask(status, events);
    for (const e of stored) {
      const label = result.labels.get(e.event_id)!;
      if (label !== e.label) this.relabelled.push({ ts: e.ts, event_id: e.event_id, label, stored: e });
    }
    for (const e of added) this.labels.set(e.event_key, result.labels.get(e.event_key)!);
    // Activity (last_event_at) is recorded when the task is locked; only a status change is written here.
    if (status !== task.status) {
      this.taskUpdates.push({
        task_id: task.task_id,
        status,
        last_event_at: touched ? now : null,
        closed_at: status !== 'open' ? now : null,
        closed_by: status !== 'open' ? closedBy : null,
      });
      if (status !== 'open') this.classified.push({ task_id: task.task_id, status, closed_at: now, closed_by: closedBy, ...summarizeTask(result, events) });
    }
  }

  /** The relabelled events as stored (to take out of the rollups) and as they are now (to put back). */
  moves(): { before: StoredEvent[]; after: StoredEvent[] } {
    return { before: this.relabelled.map((r) => r.stored), after: this.relabelled.map((r) => ({ ...r.stored, label: r.label })) };
  }

  /** Writes the label and task changes (ingest writes them with its batch instead). */
  async save(tx: Tx): Promise<void> {
    if (this.relabelled.length === 0 && this.taskUpdates.length === 0) return;
    await this.repository.saveLabels(tx, this.accountId, this);
  }
}

/** The tasks a batch touches, locked for the transaction, with their stored events. */
export class TaskBatch {
  constructor(
    private readonly repository: TasksRepository,
    private readonly accountId: string,
    private readonly tasks: Map<string, TaskRow>,
    private readonly stored: Map<string, StoredEvent[]>,
    private readonly candidates: readonly PreparedEvent[],
    /** Ids of candidates in a task that the account had already used when the tasks were locked. */
    private readonly taken: ReadonlySet<string>,
  ) {}

  /**
   * A learned_from that names no attempt of the event's task (or the event's own attempt). A repeat (an
   * id already taken) is not judged: it is answered as a duplicate or a conflict.
   */
  problem(e: PreparedEvent): { code: string; message: string; field: string } | null {
    if (e.task_id === null || e.learned_from === null || this.taken.has(e.id)) return null;
    const others = [
      ...(this.stored.get(e.task_id) ?? []).map(storedTaskEvent),
      ...this.candidates.filter((c) => c.task_id === e.task_id && c !== e).map((c) => preparedTaskEvent(c, 0)),
    ];
    const [issue] = checkLearnedFrom(preparedTaskEvent(e, 0), others);
    return issue ? { code: issue.code, message: issue.message, field: issue.field } : null;
  }

  /**
   * Classifies the tasks of `accepted` into `labels`. Ingest's writer calls it once per request of a
   * group, into one TaskLabels; the requests of a group never share a task. `costOf` gives a new event's
   * priced cost (null while unpriced), for what a resolved task's announcement says it cost.
   */
  classify(labels: TaskLabels, accepted: readonly PreparedEvent[], receivedMs: number, closedBy: string | null, costOf: (eventId: string) => string | null = () => null): void {
    const byTask = new Map<string, PreparedEvent[]>();
    for (const e of accepted) {
      // An id already taken is a repeat (duplicate or conflict), never a new attempt.
      if (e.task_id === null || this.taken.has(e.id)) continue;
      const list = byTask.get(e.task_id) ?? [];
      list.push(e);
      byTask.set(e.task_id, list);
    }
    const now = new Date(receivedMs);
    for (const [taskId, events] of byTask) {
      const task = this.tasks.get(taskId)!;
      // The latest task_status in event order closes (or re-closes) the task.
      let status: TaskStatus = task.status;
      for (const e of [...events].sort((a, b) => a.ts.getTime() - b.ts.getTime() || a.index - b.index)) {
        if (e.task_status !== null) status = e.task_status;
      }
      labels.apply(task, status, this.stored.get(taskId) ?? [], events.map((e) => preparedTaskEvent(e, receivedMs, costOf(e.id) ?? '0')), now, closedBy, true);
    }
  }

  labels(): TaskLabels {
    return new TaskLabels(this.repository, this.accountId);
  }
}

@Injectable()
export class TaskLabeler {
  constructor(private readonly repository: TasksRepository) {}

  /**
   * Locks the tasks of `candidates` (creating new ones) and loads their stored events; `taken` holds the
   * ids of `candidates` in a task that the account has already used (repeats, never new attempts).
   */
  async load(tx: Tx, accountId: string, candidates: readonly PreparedEvent[], now: Date): Promise<TaskBatch> {
    const inTasks = candidates.filter((e) => e.task_id !== null);
    const taskIds = [...new Set(inTasks.map((e) => e.task_id!))];
    if (taskIds.length === 0) return new TaskBatch(this.repository, accountId, new Map(), new Map(), candidates, new Set());
    const { tasks, taken } = await this.repository.lockTasks(tx, accountId, taskIds, now, inTasks.map((e) => e.id));
    const existing = [...tasks.values()].filter((t) => !t.created).map((t) => t.task_id);
    const stored = await this.storedByTask(tx, accountId, existing);
    return new TaskBatch(this.repository, accountId, tasks, stored, candidates, taken);
  }

  /**
   * The tasks of `candidates` taken to be new: open, with no stored events and no id used before. Only
   * for a write that checks this as it goes (ingest's new-task statement, refused otherwise).
   */
  assumeNew(accountId: string, candidates: readonly PreparedEvent[]): TaskBatch {
    const tasks = new Map<string, TaskRow>();
    for (const e of candidates) if (e.task_id !== null) tasks.set(e.task_id, { task_id: e.task_id, status: 'open' });
    return new TaskBatch(this.repository, accountId, tasks, new Map(), candidates, new Set());
  }

  /**
   * Resolves a task (close API, inactivity timeout): relabels its events and returns the changes. `admit`
   * sees the locked task and its events first: it may refuse (throw), or answer false to change nothing (a
   * task already so closed, or no longer open for the timeout).
   */
  async resolve(
    tx: Tx,
    accountId: string,
    taskId: string,
    status: Exclude<TaskStatus, 'open'>,
    now: Date,
    closedBy: string,
    admit: (task: TaskRow, events: readonly StoredEvent[]) => boolean = () => true,
  ): Promise<TaskLabels | null> {
    const tasks = await this.repository.lockExistingTasks(tx, accountId, [taskId]);
    const task = tasks.get(taskId);
    if (!task) return null;
    const labels = new TaskLabels(this.repository, accountId);
    const events = await this.repository.taskEvents(tx, accountId, [taskId]);
    if (admit(task, events)) labels.apply(task, status, events, [], now, closedBy, false);
    return labels;
  }

  /**
   * Classifies tasks again from their stored events and current status (rebuild): locks them and loads
   * their events in one statement each, whatever their number. Ids that are not tasks are skipped.
   */
  async relabelFromScratch(tx: Tx, accountId: string, taskIds: readonly string[]): Promise<{ tasks: number; labels: TaskLabels }> {
    const tasks = await this.repository.lockExistingTasks(tx, accountId, taskIds);
    const stored = await this.storedByTask(tx, accountId, [...tasks.keys()]);
    const labels = new TaskLabels(this.repository, accountId);
    for (const task of tasks.values()) labels.apply(task, task.status, stored.get(task.task_id) ?? [], [], new Date(0), null, false);
    return { tasks: tasks.size, labels };
  }

  /** The stored events of these tasks, by task, in event order. */
  private async storedByTask(tx: Tx, accountId: string, taskIds: readonly string[]): Promise<Map<string, StoredEvent[]>> {
    const stored = new Map<string, StoredEvent[]>();
    for (const e of await this.repository.taskEvents(tx, accountId, taskIds)) {
      const list = stored.get(e.task_id!) ?? [];
      list.push(e);
      stored.set(e.task_id!, list);
    }
    return stored;
  }
}
