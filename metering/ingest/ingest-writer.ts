// Group commit for POST /v1/events. The requests of one account that arrive while earlier writes of that
// account are in flight wait here; when a write finishes, everything waiting (up to a cap) goes to the
// database as ONE group: one statement when no event is in a task, else one short transaction (the
// group's tasks locked in id order, classified, and everything written in one statement). Every request
// is still answered only after its own events are committed.
//
// Under light load a request is written at once, alone, so grouping adds no latency; under heavy load the
// groups grow by themselves, and the database parses, plans, commits and upserts rollups once per group
// instead of once per request. Requests of a group never share an event id or a task: one that does
// waits for a later group, and nothing behind it overtakes it on that id or task.
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../src/config/config.js';
import { TransactionRunner, sqlState } from '../../src/database/transactions.js';
import { Metrics } from '../../src/health/metrics.js';
import type { SpendLabel } from '../classification/classify.js';
import { TaskLabeler, type TaskBatch, type TaskLabels } from '../classification/task-labeler.js';
import type { PreparedEvent, Rejection } from './event-input.js';
import {
  EventsRepository,
  WRITE_REFUSED,
  type Allowance,
  type NewEventRow,
  type WriteGuard,
  type StoredEvent,
  type Written as Inserted,
} from './events.repository.js';

/** One request's events, checked, priced and turned into rows, ready to be written. */
export interface Submission {
  accountId: string;
  /** The request's distinct events (the first of each id), in request order. */
  events: readonly PreparedEvent[];
  /** The row of each event, by id. Events in a task carry a placeholder label until their task is classified. */
  rows: ReadonlyMap<string, NewEventRow>;
  receivedMs: number;
  /** The key that sent the request (recorded as who closed a task). */
  closedBy: string | null;
  allowance: Allowance | null;
}

/** What became of a submission's events. */
export interface Written {
  /** New events, as stored, with the reading after each. */
  stored: StoredEvent[];
  /** Events refused by their task (a learned_from naming no attempt of it). */
  rejected: Rejection[];
  /** Events whose id was already taken: a duplicate or a conflict, for the caller to tell apart. */
  repeated: PreparedEvent[];
}

interface Waiting {
  submission: Submission;
  /** The event ids and task ids the submission touches, as `e:<id>` and `t:<id>`. */
  keys: string[];
  /** Its number of events. */
  size: number;
  resolve: (written: Written) => void;
  reject: (error: unknown) => void;
}

interface AccountQueue {
  waiting: Waiting[];
  inFlight: number;
}

/** Deadlocks cannot arise from ingest's own lock order (tasks and ids both sorted); anything else can retry. */
const RETRYABLE = new Set(['40P01', '40001']);
const ATTEMPTS = 3;

/** How many (account, task) ids a process remembers having written: a task seen again takes the locked path. */
const SEEN_TASKS = 100_000;

/** A set that forgets its oldest members beyond `capacity`. */
class RecentSet {
  private readonly members = new Set<string>();

  constructor(private readonly capacity: number) {}

  has(key: string): boolean {
    return this.members.has(key);
  }

  add(key: string): void {
    this.members.delete(key);
    this.members.add(key);
    if (this.members.size > this.capacity) this.members.delete(this.members.values().next().value!);
  }
}

/** How a group is written. */
type WritePath = 'statement' | 'new_tasks' | 'transaction';

/**
 * Takes the next group off the front of `waiting`, in arrival order: every request that shares no event
 * id or task with one taken or passed over before it, while the group stays within `maxEvents` (the first
 * request is always taken). What is left stays in `waiting`, in order.
 */
export function takeGroup<T extends { keys: readonly string[]; size: number }>(waiting: T[], maxEvents: number): T[] {
  const taken: T[] = [];
  const left: T[] = [];
  const claimed = new Set<string>();
  let events = 0;
  for (const w of waiting) {
    const free = w.keys.every((k) => !claimed.has(k));
    const fits = taken.length === 0 || events + w.size <= maxEvents;
    if (free && fits) {
      taken.push(w);
      events += w.size;
    } else {
      left.push(w);
    }
    // A request passed over still holds its ids and tasks: nothing after it may overtake it on them.
    for (const k of w.keys) claimed.add(k);
  }
  waiting.splice(0, waiting.length, ...left);
  return taken;
}

function keysOf(s: Submission): string[] {
  const keys = s.events.map((e) => `e:${e.id}`);
  for (const e of s.events) if (e.task_id !== null) keys.push(`t:${e.task_id}`);
  return keys;
}

@Injectable()
export class IngestWriter {
  private readonly queues = new Map<string, AccountQueue>();
  /** Tasks this process has written events of, as `<account>\n<task>`. */
  private readonly seenTasks = new RecentSet(SEEN_TASKS);
  private readonly inFlightPerAccount: number;
  private readonly maxGroupEvents: number;

  constructor(
    private readonly events: EventsRepository,
    private readonly transactions: TransactionRunner,
    private readonly labeler: TaskLabeler,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.inFlightPerAccount = config.ingest.writersPerAccount;
    this.maxGroupEvents = config.ingest.maxGroupEvents;
  }

  /** Writes a request's events with whatever else is waiting for the same account; settles after the commit. */
  write(submission: Submission): Promise<Written> {
    if (submission.events.length === 0) return Promise.resolve({ stored: [], rejected: [], repeated: [] });
    return new Promise<Written>((resolve, reject) => {
      let queue = this.queues.get(submission.accountId);
      if (!queue) {
        queue = { waiting: [], inFlight: 0 };
        this.queues.set(submission.accountId, queue);
      }
      queue.waiting.push({ submission, keys: keysOf(submission), size: submission.events.length, resolve, reject });
      this.pump(submission.accountId, queue);
    });
  }

  private pump(accountId: string, queue: AccountQueue): void {
    while (queue.inFlight < this.inFlightPerAccount && queue.waiting.length > 0) {
      const group = takeGroup(queue.waiting, this.maxGroupEvents);
      queue.inFlight += 1;
      void this.flush(accountId, group).finally(() => {
        queue.inFlight -= 1;
        if (queue.inFlight === 0 && queue.waiting.length === 0) this.queues.delete(accountId);
        else this.pump(accountId, queue);
      });
    }
  }

  private async flush(accountId: string, group: readonly Waiting[]): Promise<void> {
    const submissions = group.map((w) => w.submission);
    const taskIds = new Set<string>();
    for (const s of submissions) for (const e of s.events) if (e.task_id !== null) taskIds.add(e.task_id);
    // Tasks never written by this process are most likely new: one statement that is refused if they
    // are not. A task seen before (its later attempts) takes the locked path at once.
    let path: WritePath =
      taskIds.size === 0 ? 'statement' : [...taskIds].some((t) => this.seenTasks.has(`${accountId}\n${t}`)) ? 'transaction' : 'new_tasks';
    this.metrics.ingestGroupRequests.observe(group.length);
    this.metrics.ingestGroupEvents.observe(group.reduce((n, w) => n + w.size, 0));
    for (let attempt = 1; ; attempt++) {
      const timer = this.metrics.ingestWriteSeconds.startTimer({ path });
      try {
        const written =
          path === 'statement'
            ? await this.writeAlone(accountId, submissions)
            : path === 'new_tasks'
              ? await this.writeNewTasks(accountId, submissions, taskIds)
              : await this.writeWithTasks(accountId, submissions);
        timer();
        for (const t of taskIds) this.seenTasks.add(`${accountId}\n${t}`);
        group.forEach((w, i) => w.resolve(written[i]!));
        return;
      } catch (error) {
        const state = sqlState(error) ?? '';
        if (state === WRITE_REFUSED) {
          this.metrics.ingestWritesRefused.inc({ path });
          // A new-task write refused goes to the locked path, which gets its own attempts. A locked
          // write refused classified an id as new that a concurrent writer claimed before committing
          // (its claim waited for that commit): classified again, the id is seen as taken.
          if (path === 'new_tasks') {
            path = 'transaction';
            attempt -= 1;
            continue;
          }
          if (attempt < ATTEMPTS) continue;
        }
        if (attempt < ATTEMPTS && RETRYABLE.has(state)) continue;
        for (const w of group) w.reject(error);
        return;
      }
    }
  }

  /** No event in a task: one statement, its own transaction. */
  private async writeAlone(accountId: string, submissions: readonly Submission[]): Promise<Written[]> {
    const rows = submissions.flatMap((s) => [...s.rows.values()]);
    const inserted = await this.events.writeBatch(null, accountId, { events: rows, relabelled: null, labels: null, allowance: allowanceOf(submissions) });
    return submissions.map((s) => outcome(s, s.events, [], s.rows, inserted));
  }

  /**
   * Tasks taken to be new (no row, no events, no id of theirs used): classified from the group alone and
   * written with their tasks in one statement, which the database refuses if the assumption was wrong.
   */
  private async writeNewTasks(accountId: string, submissions: readonly Submission[], taskIds: ReadonlySet<string>): Promise<Written[]> {
    const now = latest(submissions);
    const group = classifyGroup(this.labeler.assumeNew(accountId, submissions.flatMap((s) => s.events)), submissions);
    const updates = new Map(group.labels.taskUpdates.map((u) => [u.task_id, u]));
    const guard: WriteGuard = {
      newTasks: [...taskIds].map((task_id) => {
        const u = updates.get(task_id);
        return { task_id, status: u?.status ?? 'open', at: now, closed_at: u?.closed_at ?? null, closed_by: u?.closed_by ?? null };
      }),
      claimed: group.labels.attempts(),
    };
    const inserted = await this.events.writeBatch(null, accountId, {
      events: group.labelled.flatMap((rows) => [...rows.values()]),
      relabelled: null,
      labels: null,
      allowance: allowanceOf(submissions),
      guard,
    });
    return submissions.map((s, i) => outcome(s, group.valid[i]!, group.rejected[i]!, group.labelled[i]!, inserted));
  }

  private async writeWithTasks(accountId: string, submissions: readonly Submission[]): Promise<Written[]> {
    return this.transactions.run(async (tx) => {
      const all = submissions.flatMap((s) => s.events);
      // Tasks are locked in id order before anything is classified, so learned_from is checked and each
      // task classified against every event already committed for it.
      const tasks = await this.labeler.load(tx, accountId, all, latest(submissions));
      const group = classifyGroup(tasks, submissions);
      const inserted = await this.events.writeBatch(tx, accountId, {
        events: group.labelled.flatMap((rows) => [...rows.values()]),
        relabelled: group.labels.moves(),
        labels: group.labels,
        allowance: allowanceOf(submissions),
        // The task lock does not cover ids: one claimed by a writer not yet committed looked free.
        guard: { newTasks: [], claimed: group.labels.attempts() },
      });
      return submissions.map((s, i) => outcome(s, group.valid[i]!, group.rejected[i]!, group.labelled[i]!, inserted));
    });
  }
}

/** The group's time: its latest request's arrival. */
function latest(submissions: readonly Submission[]): Date {
  return new Date(Math.max(...submissions.map((s) => s.receivedMs)));
}

/**
 * Checks learned_from and classifies the group's tasks, request by request (requests of a group never
 * share a task): per request its valid events, its refused ones and its rows with their labels.
 */
function classifyGroup(
  tasks: TaskBatch,
  submissions: readonly Submission[],
): { valid: PreparedEvent[][]; rejected: Rejection[][]; labels: TaskLabels; labelled: Map<string, NewEventRow>[] } {
  const labels = tasks.labels();
  const valid: PreparedEvent[][] = [];
  const rejected: Rejection[][] = [];
  for (const s of submissions) {
    const ok: PreparedEvent[] = [];
    const refused: Rejection[] = [];
    for (const e of s.events) {
      const problem = tasks.problem(e);
      if (problem) refused.push({ index: e.index, id: e.id, status: 'rejected', code: problem.code, message: problem.message, field: problem.field });
      else ok.push(e);
    }
    tasks.classify(labels, ok, s.receivedMs, s.closedBy);
    valid.push(ok);
    rejected.push(refused);
  }
  return { valid, rejected, labels, labelled: submissions.map((s, i) => labelRows(s, valid[i]!, labels)) };
}

/** Every submission of an account carries the same period terms (cached for a second); the newest wins. */
function allowanceOf(submissions: readonly Submission[]): Allowance | null {
  return submissions[submissions.length - 1]!.allowance;
}

/** The rows of a submission's valid events, those in a task with the label their task's classification gave. */
function labelRows(s: Submission, valid: readonly PreparedEvent[], labels: TaskLabels): Map<string, NewEventRow> {
  const rows = new Map<string, NewEventRow>();
  for (const e of valid) {
    const row = s.rows.get(e.id)!;
    const label: SpendLabel | null = e.task_id === null ? row.label : labels.labelOrNull(e.id);
    // A repeat gets no label (it is not classified); its row is never inserted, its id being taken.
    rows.set(e.id, label === null || label === row.label ? row : { ...row, label });
  }
  return rows;
}

function outcome(
  s: Submission,
  valid: readonly PreparedEvent[],
  rejected: Rejection[],
  rows: ReadonlyMap<string, NewEventRow>,
  inserted: Inserted,
): Written {
  const stored: StoredEvent[] = [];
  const repeated: PreparedEvent[] = [];
  for (const e of valid) {
    const got = inserted.get(e.id);
    if (got === undefined) {
      repeated.push(e);
      continue;
    }
    const row = rows.get(e.id)!;
    stored.push({ ...row, seq: String(row.seq), unit_id: got.unit_id, allowance_left: got.allowance_left });
  }
  return { stored, rejected, repeated };
}
