// Group commit for POST /v1/events. The requests of one account that arrive while earlier writes of that
// account are in flight wait here; when a write finishes, everything waiting (up to a cap) goes to the
// database as ONE group: one statement when no event is in a task or its tasks are new (with the spend
// counters' rows in it when budgets apply), else one short transaction (the group's tasks locked in id
// order, classified, and everything written in one statement). Every request
// is still answered only after its own events are committed.
//
// Under light load a request is written at once, alone, so grouping adds no latency; under heavy load the
// groups grow by themselves, and the database parses, plans, commits and upserts rollups once per group
// instead of once per request. Requests of a group never share an event id or a task: one that does
// waits for a later group, and nothing behind it overtakes it on that id or task.
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../src/config/config.js';
import type { Tx } from '../../src/database/data-source.js';
import { TransactionRunner, sqlState } from '../../src/database/transactions.js';
import { Metrics } from '../../src/health/metrics.js';
import type { SpendLabel } from '../classification/classify.js';
import { NO_TASK_CLASSIFIED, TASK_CLASSIFIED, type TaskClassifiedHook } from '../classification/task-classified.port.js';
import { TaskLabeler, type TaskBatch, type TaskLabels } from '../classification/task-labeler.js';
import type { PreparedEvent, Rejection } from './event-input.js';
import { metered, NO_USAGE_COUNTERS, USAGE_COUNTERS, type UsageCounters, type UsageCountersStatement, type UsageCountersWrite, type UsageReading } from './usage-counters.port.js';
import type { NewEventRow, StoredEvent } from './event-row.js';
import { WRITE_REFUSED, type WriteGuard } from './event-write-sql.js';
import { EventsRepository, type Allowance, type Written as Inserted } from './events.repository.js';

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
  /** Per stored event with counters engaged: its reservation's outcome and the budget left. */
  readings: Map<string, UsageReading>;
}

interface Waiting {
  submission: Submission;
  /** The event ids and task ids the submission touches, as `e:<id>` and `t:<id>`. */
  keys: string[];
  /** Its number of events. */
  size: number;
  resolve: (written: Written) => void;
  reject: (error: unknown) => void;
  /** Its counters' part, prepared as it arrived (see prepareEarly); taken by the first write of its group. */
  early: Promise<Early> | null;
}

/** A request's counters' part prepared ahead of its group: none to count (null), or the preparation failed. */
type Early = { part: UsageCountersStatement | null } | { error: unknown };

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
  private readonly counters: UsageCounters;
  private readonly taskHook: TaskClassifiedHook;
  private readonly logger = new Logger('ingest');

  constructor(
    private readonly events: EventsRepository,
    private readonly transactions: TransactionRunner,
    private readonly labeler: TaskLabeler,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() @Inject(USAGE_COUNTERS) counters: UsageCounters | null,
    @Optional() @Inject(TASK_CLASSIFIED) taskHook: TaskClassifiedHook | null,
  ) {
    this.counters = counters ?? NO_USAGE_COUNTERS;
    this.taskHook = taskHook ?? NO_TASK_CLASSIFIED;
    this.inFlightPerAccount = config.ingest.writersPerAccount;
    this.maxGroupEvents = config.ingest.maxGroupEvents;
  }

  /** Writes a request's events with whatever else is waiting for the same account; settles after the commit. */
  write(submission: Submission): Promise<Written> {
    if (submission.events.length === 0) return Promise.resolve({ stored: [], rejected: [], repeated: [], readings: new Map() });
    return new Promise<Written>((resolve, reject) => {
      let queue = this.queues.get(submission.accountId);
      if (!queue) {
        queue = { waiting: [], inFlight: 0 };
        this.queues.set(submission.accountId, queue);
      }
      queue.waiting.push({ submission, keys: keysOf(submission), size: submission.events.length, resolve, reject, early: this.prepareEarly(submission) });
      this.pump(submission.accountId, queue);
    });
  }

  /**
   * A request's counters' part, prepared at once (with Redis: its spend counted, before any write commits,
   * as the counters' rule wants) so that the Redis round trip runs while the request waits for its group
   * instead of in front of the group's statement. Only where the group will most likely be written as one
   * statement (no task of the request written before); a part the group cannot use is rolled back.
   */
  private prepareEarly(s: Submission): Promise<Early> | null {
    if (!this.counters.combine) return null;
    if (s.events.some((e) => e.task_id !== null && this.seenTasks.has(`${s.accountId}\n${e.task_id}`))) return null;
    return this.counters.prepare(s.accountId, s.events.map((e) => metered(s.rows.get(e.id)!)), new Date(s.receivedMs)).then(
      (part) => ({ part }),
      (error: unknown) => ({ error }),
    );
  }

  /** Takes the group's early parts (once: later attempts get none). */
  private takeEarly(group: readonly Waiting[]): (Promise<Early> | null)[] {
    return group.map((w) => {
      const early = w.early;
      w.early = null;
      return early;
    });
  }

  /** Rolls back early parts that will not be written. */
  private async dropEarly(accountId: string, early: readonly (Promise<Early> | null)[]): Promise<void> {
    for (const e of await Promise.all(early)) {
      if (e !== null && 'part' in e && e.part !== null) await e.part.afterRollback().catch((error: unknown) => this.logger.error({ err: error, account: accountId }, 'counter rollback failed'));
    }
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
    let engaged: boolean;
    // A group that may resolve a task is written in a transaction when someone listens for that
    // (TASK_CLASSIFIED), so the announcement commits with it; the locked path has one anyway.
    let announce = false;
    try {
      engaged = await this.counters.engaged(accountId, submissions.flatMap((sub) => sub.events.map((e) => metered(sub.rows.get(e.id)!))));
      const closes = submissions.some((s) => s.events.some((e) => e.task_id !== null && e.task_status !== null));
      if (closes && path === 'new_tasks') announce = await this.taskHook.listening(accountId);
    } catch (error) {
      await this.dropEarly(accountId, this.takeEarly(group));
      for (const w of group) w.reject(error);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      const timer = this.metrics.ingestWriteSeconds.startTimer({ path });
      try {
        const written = await this.writeGroup(accountId, submissions, path, engaged, announce, this.takeEarly(group));
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

  /**
   * One group, top to bottom. Tasks: none (no event in a task), taken to be new (classified from the group
   * alone; the statement refuses itself if they were not), or locked and classified against what is
   * stored. Then ONE statement claims the ids and stores the events, their rollups and the label and task
   * changes. When the counters are engaged (a reservation named, a budget or cap on a path), tasks not
   * locked and the counters able to (Redis), that statement also carries the counters' rows and no
   * transaction is opened (writeCounted); otherwise the same transaction commits the reservations and
   * counts the spend, and their afterCommit runs once it ends.
   * Tasks the group resolved are announced through TASK_CLASSIFIED in the transaction (`announce`: a
   * listener asked for one where the group would otherwise need none).
   */
  private async writeGroup(
    accountId: string,
    submissions: readonly Submission[],
    path: WritePath,
    engaged: boolean,
    announce: boolean,
    early: readonly (Promise<Early> | null)[],
  ): Promise<Written[]> {
    const now = latest(submissions);
    let counted: UsageCountersWrite | null = null;
    const write = async (tx: Tx | null): Promise<Written[]> => {
      const events = submissions.flatMap((s) => s.events);
      const group =
        path === 'statement'
          ? unclassified(submissions)
          : classifyGroup(path === 'transaction' ? await this.labeler.load(tx!, accountId, events, now) : this.labeler.assumeNew(accountId, events), submissions);
      const inserted = await this.events.writeBatch(tx, accountId, {
        events: group.labelled.flatMap((rows) => [...rows.values()]),
        relabelled: path === 'transaction' ? group.labels!.moves() : null,
        labels: path === 'transaction' ? group.labels : null,
        allowance: allowanceOf(submissions),
        guard: guardOf(path, group.labels, events, now),
      });
      const written = submissions.map((s, i) => outcome(s, group.valid[i]!, group.rejected[i]!, group.labelled[i]!, inserted));
      if (tx !== null && engaged) {
        counted = await this.counters.record(tx, accountId, written.flatMap((w) => w.stored.map(metered)), now);
        for (const w of written) for (const e of w.stored) w.readings.set(e.event_id, counted.readings.get(e.event_id) ?? NO_READING);
      }
      if (tx !== null && group.labels !== null && group.labels.classified.length > 0) await this.taskHook.classified(tx, accountId, group.labels.classified);
      return written;
    };
    if (engaged && !announce && path !== 'transaction') {
      const counted = await this.writeCounted(accountId, submissions, path, now, early);
      if (counted !== null) return counted;
    } else {
      await this.dropEarly(accountId, early);
    }
    if (!engaged && !announce && path !== 'transaction') return write(null);
    let written: Written[];
    try {
      written = await this.transactions.run(write);
    } catch (error) {
      await (counted as UsageCountersWrite | null)?.afterRollback().catch((e: unknown) => this.logger.error({ err: e, account: accountId }, 'counter rollback failed'));
      throw error;
    }
    // Committed: a failed confirmation leaves the counters stricter until they are rebuilt, never looser.
    await (counted as UsageCountersWrite | null)?.afterCommit().catch((e: unknown) => this.logger.error({ err: e, account: accountId }, 'counter confirmation failed'));
    return written;
  }

  /**
   * The group's early parts as one (see prepareEarly), when they count exactly the events the group writes:
   * every request prepared without error, and none lost an event to its task's checks. Otherwise they are
   * rolled back and null is answered: the group prepares its own.
   */
  private async combinedEarly(
    accountId: string,
    early: readonly (Promise<Early> | null)[],
    submissions: readonly Submission[],
    valid: readonly (readonly PreparedEvent[])[],
    now: Date,
  ): Promise<UsageCountersStatement | null> {
    if (early.length === 0 || early.some((e) => e === null) || !this.counters.combine) {
      await this.dropEarly(accountId, early);
      return null;
    }
    const got = await Promise.all(early as Promise<Early>[]);
    const usable = got.every((e) => 'part' in e) && submissions.every((s, i) => valid[i]!.length === s.events.length);
    const parts = got.flatMap((e) => ('part' in e && e.part !== null ? [e.part] : []));
    if (!usable || parts.length === 0) {
      await this.dropEarly(accountId, early);
      return null;
    }
    return this.counters.combine(parts, now);
  }

  /**
   * A group with counters engaged, without a transaction where the counters can (Redis): their room is
   * used first (their rule: before the write commits), then ONE statement stores the events as in
   * write(null) and carries the counters' rows (the named reservations committed, the write journalled),
   * refusing itself unless it stores every event as counted (new, in the unit counted); then the counters
   * are confirmed. Null when the counters cannot or the statement refused itself: the caller takes the
   * transaction, which handles every case.
   */
  private async writeCounted(
    accountId: string,
    submissions: readonly Submission[],
    path: 'statement' | 'new_tasks',
    now: Date,
    early: readonly (Promise<Early> | null)[],
  ): Promise<Written[] | null> {
    const events = submissions.flatMap((s) => s.events);
    const group = path === 'statement' ? unclassified(submissions) : classifyGroup(this.labeler.assumeNew(accountId, events), submissions);
    const rows = group.labelled.flatMap((r) => [...r.values()]);
    const counting = (await this.combinedEarly(accountId, early, submissions, group.valid, now)) ?? (await this.counters.prepare(accountId, rows.map(metered), now));
    if (counting === null) return null;
    let inserted: { written: Inserted; counted: unknown };
    try {
      inserted = await this.events.writeCounted(
        accountId,
        { events: rows, relabelled: null, labels: null, allowance: allowanceOf(submissions), guard: guardOf(path, group.labels, events, now) },
        counting,
      );
    } catch (error) {
      await counting.afterRollback().catch((e: unknown) => this.logger.error({ err: e, account: accountId }, 'counter rollback failed'));
      if (sqlState(error) === WRITE_REFUSED) return null;
      throw error;
    }
    const written = submissions.map((s, i) => outcome(s, group.valid[i]!, group.rejected[i]!, group.labelled[i]!, inserted.written));
    // Committed: a failure from here on leaves the counters stricter until they are rebuilt, never looser.
    try {
      const settled = await counting.settle(inserted.counted);
      for (const w of written) for (const e of w.stored) w.readings.set(e.event_id, settled.readings.get(e.event_id) ?? NO_READING);
      // Sent, not waited for: this process's counter calls share one Redis connection and run in order, so
      // any later one (a hold, a read) sees it; until Redis runs it the counters are only stricter.
      void settled.afterCommit().catch((e: unknown) => this.logger.error({ err: e, account: accountId }, 'counter confirmation failed'));
    } catch (error) {
      this.logger.error({ err: error, account: accountId }, 'counter confirmation failed');
      for (const w of written) for (const e of w.stored) if (!w.readings.has(e.event_id)) w.readings.set(e.event_id, NO_READING);
    }
    return written;
  }
}

/** What the statement checks it was classified on (see WriteGuard): tasks taken to be new, ids taken to be unused. */
function guardOf(path: WritePath, labels: TaskLabels | null, events: readonly PreparedEvent[], now: Date): WriteGuard | undefined {
  if (path === 'statement') return undefined;
  // The task lock does not cover ids: one claimed by a writer not yet committed looked free.
  if (path === 'transaction') return { newTasks: [], claimed: labels!.attempts() };
  const updates = new Map(labels!.taskUpdates.map((u) => [u.task_id, u]));
  const taskIds = [...new Set(events.flatMap((e) => (e.task_id === null ? [] : [e.task_id])))];
  return {
    newTasks: taskIds.map((task_id) => {
      const u = updates.get(task_id);
      return { task_id, status: u?.status ?? 'open', at: now, closed_at: u?.closed_at ?? null, closed_by: u?.closed_by ?? null };
    }),
    claimed: labels!.attempts(),
  };
}

const NO_READING: UsageReading = { reservation: null, budget_left: null, budget_tokens_left: null };

/** No event of the group is in a task: every event as it came, nothing classified. */
function unclassified(submissions: readonly Submission[]): { valid: PreparedEvent[][]; rejected: Rejection[][]; labels: TaskLabels | null; labelled: ReadonlyMap<string, NewEventRow>[] } {
  return { valid: submissions.map((s) => [...s.events]), rejected: submissions.map(() => []), labels: null, labelled: submissions.map((s) => s.rows) };
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
    tasks.classify(labels, ok, s.receivedMs, s.closedBy, (id) => s.rows.get(id)?.cost ?? null);
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
  return { stored, rejected, repeated, readings: new Map() };
}
