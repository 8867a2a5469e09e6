// Owns effective-spend classification (PRODUCT.md section 5): the label of every event of a task as a pure
// function of its events and status, the label of task-less events, and validation of attempt references.
import { compareEvents, eventTime } from './event-order.js';
import type { SpendLabel } from './label-totals.js';

export { compareEvents, type OrderedEvent } from './event-order.js';
export {
  SPEND_LABELS,
  type SpendLabel,
  applyDeltas,
  effectiveRatio,
  relabelDeltas,
  totalsByLabel,
  ZERO_TOTALS,
  type LabelAmount,
  type LabelTotals,
  type SpendItem,
} from './label-totals.js';

export const TASK_STATUSES = ['open', 'succeeded', 'failed', 'abandoned'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export type Outcome = 'success' | 'failure';

export interface TaskEvent {
  /** Unique per account; also the attempt key of an event that has no attempt_id. */
  readonly event_key: string;
  readonly attempt_id: string | null;
  readonly outcome: Outcome | null;
  readonly error_signature: string | null;
  /** Attempt ids (or, for attempts without an id, event keys); null or [] lists nothing. */
  readonly learned_from: readonly string[] | null;
  readonly tokens: number;
  /** Exact decimal string, never a binary float. */
  readonly cost: string;
  /** RFC 3339: when the operation happened; the primary ordering key. */
  readonly timestamp: string;
  /** Server ingest sequence: breaks timestamp ties, then event_key does. */
  readonly sequence: number;
}

export interface AttemptClassification {
  /** attempt_id, or the event_key of an event that has none (see attempt_id to tell them apart). */
  readonly attempt_key: string;
  readonly attempt_id: string | null;
  readonly outcome: Outcome | null;
  /** Signature of the event that decided the outcome; null when none was given or nothing failed. */
  readonly error_signature: string | null;
  /** Whether a later success learned from this attempt; only decides anything for failures of succeeded tasks. */
  readonly learned_from: boolean;
  readonly label: SpendLabel;
  readonly event_keys: readonly string[];
}

export interface TaskClassification {
  readonly status: TaskStatus;
  /** In attempt order: the order of each attempt's first event. */
  readonly attempts: readonly AttemptClassification[];
  /** Label of every event, by event_key. */
  readonly labels: ReadonlyMap<string, SpendLabel>;
}

/** Label of an event that belongs to no task. */
export function classifyStandalone(outcome: Outcome | null | undefined): SpendLabel {
  if (outcome === 'success') return 'effective';
  if (outcome === 'failure') return 'ineffective';
  return 'unclassified';
}

/**
 * Labels every event of one task. The events may come in any order: they are ordered by
 * (timestamp, sequence, event_key), so the answer depends only on the set of events and the status.
 */
export function classifyTask(status: TaskStatus, events: readonly TaskEvent[]): TaskClassification {
  const attempts = groupAttempts([...events].sort(compareEvents));
  const explicitLineage = attempts.some((a) => a.events.some(listsLearnedFrom));
  const learned = explicitLineage ? listedAttempts(attempts) : firstFailurePerSignature(attempts);

  const labels = new Map<string, SpendLabel>();
  const classified = attempts.map((attempt): AttemptClassification => {
    const wasLearnedFrom = learned.has(attempt.identity);
    const label = attemptLabel(status, attempt.outcome, wasLearnedFrom);
    for (const event of attempt.events) labels.set(event.event_key, label);
    return {
      attempt_key: attempt.attempt_key,
      attempt_id: attempt.attempt_id,
      outcome: attempt.outcome,
      error_signature: attempt.error_signature,
      learned_from: wasLearnedFrom,
      label,
      event_keys: attempt.events.map((e) => e.event_key),
    };
  });
  return { status, attempts: classified, labels };
}

function attemptLabel(status: TaskStatus, outcome: Outcome | null, learnedFrom: boolean): SpendLabel {
  if (outcome === 'success') return 'effective';
  switch (status) {
    case 'open':
      return 'pending';
    case 'failed':
    case 'abandoned':
      return 'ineffective';
    case 'succeeded':
      if (outcome === null) return 'effective';
      return learnedFrom ? 'effective' : 'ineffective';
  }
}

interface Attempt {
  /** Internal identity: an attempt_id and an event key never collide, even when spelled alike. */
  readonly identity: string;
  readonly attempt_key: string;
  readonly attempt_id: string | null;
  readonly events: TaskEvent[];
  outcome: Outcome | null;
  error_signature: string | null;
}

function identityOf(event: Pick<TaskEvent, 'attempt_id' | 'event_key'>): string {
  return event.attempt_id !== null ? `attempt:${event.attempt_id}` : `event:${event.event_key}`;
}

// Events arrive sorted, so an attempt's first event fixes its place and its last outcome-bearing event
// (the one that decides the outcome) is simply the latest one seen.
function groupAttempts(sorted: readonly TaskEvent[]): Attempt[] {
  const byIdentity = new Map<string, Attempt>();
  const ordered: Attempt[] = [];
  for (const event of sorted) {
    const identity = identityOf(event);
    let attempt = byIdentity.get(identity);
    if (attempt === undefined) {
      attempt = {
        identity,
        attempt_key: event.attempt_id ?? event.event_key,
        attempt_id: event.attempt_id,
        events: [],
        outcome: null,
        error_signature: null,
      };
      byIdentity.set(identity, attempt);
      ordered.push(attempt);
    }
    attempt.events.push(event);
    if (event.outcome !== null) {
      attempt.outcome = event.outcome;
      attempt.error_signature = event.outcome === 'failure' ? event.error_signature : null;
    }
  }
  return ordered;
}

// An empty list names nothing; treating it as "learned from nothing" would let a client library that always
// sends [] silently turn every learned-from failure ineffective.
function listsLearnedFrom(event: TaskEvent): boolean {
  return event.learned_from !== null && event.learned_from.length > 0;
}

/**
 * Resolves a learned_from entry to an attempt: an attempt_id first, else the key of an event that has no
 * attempt_id (such an event is its own attempt). Undefined when the task has no such attempt.
 */
function resolveReference(reference: string, identities: ReadonlySet<string>): string | undefined {
  const byAttemptId = `attempt:${reference}`;
  if (identities.has(byAttemptId)) return byAttemptId;
  const byEventKey = `event:${reference}`;
  return identities.has(byEventKey) ? byEventKey : undefined;
}

function listedAttempts(attempts: readonly Attempt[]): Set<string> {
  const identities = new Set(attempts.map((a) => a.identity));
  const learned = new Set<string>();
  for (const attempt of attempts) {
    for (const event of attempt.events) {
      for (const reference of event.learned_from ?? []) {
        const identity = resolveReference(reference, identities);
        if (identity !== undefined) learned.add(identity);
      }
    }
  }
  return learned;
}

// Without explicit lineage, a failure taught something only the first time its wall was hit; null
// signatures are one shared wall (a Set keeps null distinct from every string).
function firstFailurePerSignature(attempts: readonly Attempt[]): Set<string> {
  const seen = new Set<string | null>();
  const learned = new Set<string>();
  for (const attempt of attempts) {
    if (attempt.outcome !== 'failure') continue;
    if (seen.has(attempt.error_signature)) continue;
    seen.add(attempt.error_signature);
    learned.add(attempt.identity);
  }
  return learned;
}

// ---------------------------------------------------------------------------------------------------------
// Validation: callers reject the events named here before they reach classification.

export const CLASSIFICATION_ISSUE_CODES = [
  'duplicate_event_key',
  'learned_from_unknown_attempt',
  'learned_from_self',
  'invalid_tokens',
  'invalid_cost',
  'invalid_timestamp',
  'invalid_sequence',
] as const;

export type ClassificationIssueCode = (typeof CLASSIFICATION_ISSUE_CODES)[number];

export interface ClassificationIssue {
  readonly code: ClassificationIssueCode;
  readonly event_key: string;
  readonly field: string;
  readonly message: string;
}

const DECIMAL = /^\d+(\.\d+)?$/;

/**
 * Checks one event's learned_from against the attempts of its task. `taskEvents` are the task's events
 * (the event itself and the rest of its batch may be among them; it is counted either way).
 */
export function checkLearnedFrom(event: TaskEvent, taskEvents: readonly TaskEvent[]): ClassificationIssue[] {
  if (event.learned_from === null) return [];
  return learnedFromIssues(event, new Set([...taskEvents, event].map(identityOf)));
}

function learnedFromIssues(event: TaskEvent, identities: ReadonlySet<string>): ClassificationIssue[] {
  const own = identityOf(event);
  const issues: ClassificationIssue[] = [];
  for (const reference of new Set(event.learned_from ?? [])) {
    const identity = resolveReference(reference, identities);
    if (identity === undefined) {
      issues.push({
        code: 'learned_from_unknown_attempt',
        event_key: event.event_key,
        field: 'learned_from',
        message: `learned_from names attempt ${JSON.stringify(reference)}, which is not an attempt of this task`,
      });
    } else if (identity === own) {
      issues.push({
        code: 'learned_from_self',
        event_key: event.event_key,
        field: 'learned_from',
        message: `learned_from names the event's own attempt ${JSON.stringify(reference)}; an attempt cannot learn from itself`,
      });
    }
  }
  return issues;
}

/** Every problem in a task's events that would make classification or its totals meaningless. */
export function validateTaskEvents(events: readonly TaskEvent[]): ClassificationIssue[] {
  const issues: ClassificationIssue[] = [];
  const seen = new Set<string>();
  const identities = new Set(events.map(identityOf));
  for (const event of events) {
    const issue = (code: ClassificationIssueCode, field: string, message: string): void => {
      issues.push({ code, event_key: event.event_key, field, message });
    };
    if (seen.has(event.event_key)) issue('duplicate_event_key', 'event_key', 'event_key appears twice in the task');
    seen.add(event.event_key);
    if (!Number.isSafeInteger(event.tokens) || event.tokens < 0) {
      issue('invalid_tokens', 'tokens', `tokens must be a non-negative safe integer; got ${String(event.tokens)}`);
    }
    if (typeof event.cost !== 'string' || !DECIMAL.test(event.cost)) {
      issue('invalid_cost', 'cost', `cost must be a non-negative decimal string; got ${JSON.stringify(event.cost)}`);
    }
    if (Number.isNaN(eventTime(event))) {
      issue('invalid_timestamp', 'timestamp', `timestamp must be RFC 3339; got ${JSON.stringify(event.timestamp)}`);
    }
    if (!Number.isSafeInteger(event.sequence)) {
      issue('invalid_sequence', 'sequence', `sequence must be an integer; got ${String(event.sequence)}`);
    }
    issues.push(...learnedFromIssues(event, identities));
  }
  return issues;
}
