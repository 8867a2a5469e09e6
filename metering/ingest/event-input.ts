// One token event as the client sends it, checked and normalised without I/O: the JSON schema, the
// usage normalisation, the timestamp rules and the content hash that tells a duplicate from a conflict.
import { hash } from 'node:crypto';
import { canonicalJson } from '../../src/audit/audit-chain.js';
import { compileSchema, type JsonSchema } from '../../src/http/validation.js';
import { RequestError } from '../../src/http/domain-error.js';
import { daysInMonth } from '../../tiers/pricing/instant.js';
import { normalizeUsage, totalTokens, USAGE_FORMATS, type CanonicalUsage } from '../usage/normalize-usage.js';

export const MAX_BATCH = 1000;
export const MAX_METADATA_BYTES = 8 * 1024;
export const MAX_FUTURE_MS = 5 * 60_000;
/**
 * The earliest timestamp an event may carry: before it is an unset date sent as one (Go's zero time
 * 0001-01-01, the Unix epoch 1970-01-01, ...), never when an operation happened; accepted, it would be billed
 * as a late event of a period decades closed.
 */
export const EARLIEST_TIMESTAMP = '2000-01-01T00:00:00Z';
const EARLIEST_MS = Date.parse(EARLIEST_TIMESTAMP);
export const CHANNELS = ['cli', 'mcp', 'chat', 'api', 'program'] as const;

const id255 = { type: 'string', minLength: 1, maxLength: 255 } as const;
const slug = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9._-]*$' } as const;

export const eventSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'timestamp'],
  properties: {
    id: id255,
    timestamp: { type: 'string', maxLength: 64 },
    person_id: slug,
    agent_id: slug,
    unit_id: slug,
    session_id: id255,
    session_context: { type: 'string', enum: ['internal', 'external'] },
    task_id: id255,
    attempt_id: id255,
    outcome: { type: 'string', enum: ['success', 'failure'] },
    error_signature: { type: 'string', maxLength: 1000 },
    learned_from: { type: 'array', maxItems: 100, items: id255 },
    task_status: { type: 'string', enum: ['succeeded', 'failed', 'abandoned'] },
    operation: { type: 'string', minLength: 1, maxLength: 200 },
    channel: { type: 'string', enum: [...CHANNELS] },
    model: { type: 'string', minLength: 1, maxLength: 200 },
    usage: { type: 'object' },
    usage_format: { type: 'string', enum: [...USAGE_FORMATS] },
    reservation_id: id255,
    metadata: { type: 'object' },
  },
} as const satisfies JsonSchema;

/** The batch envelope only: each event is checked on its own, so one bad event never costs the others. */
export const batchSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['events'],
  properties: { events: { type: 'array', items: {} } },
} as const satisfies JsonSchema;

export interface RawEvent {
  id: string;
  timestamp: string;
  person_id?: string;
  agent_id?: string;
  unit_id?: string;
  session_id?: string;
  session_context?: 'internal' | 'external';
  task_id?: string;
  attempt_id?: string;
  outcome?: 'success' | 'failure';
  error_signature?: string;
  learned_from?: string[];
  task_status?: 'succeeded' | 'failed' | 'abandoned';
  operation?: string;
  channel?: (typeof CHANNELS)[number];
  model?: string;
  usage?: Record<string, unknown>;
  usage_format?: string;
  reservation_id?: string;
  metadata?: Record<string, unknown>;
}

/** A valid event, normalised: what is stored, priced and classified. */
export interface PreparedEvent {
  index: number;
  id: string;
  ts: Date;
  person_id: string | null;
  agent_id: string | null;
  unit_id: string | null;
  session_id: string | null;
  session_context: 'internal' | 'external' | null;
  task_id: string | null;
  attempt_id: string | null;
  outcome: 'success' | 'failure' | null;
  error_signature: string | null;
  learned_from: string[] | null;
  task_status: 'succeeded' | 'failed' | 'abandoned' | null;
  operation: string | null;
  channel: string | null;
  model_name: string | null;
  usage: CanonicalUsage;
  usage_format: string | null;
  reservation_id: string | null;
  metadata: Record<string, unknown> | null;
  content_hash: string;
  /**
   * Fields of `usage` tokenmeter does not know and did not count (full paths, usually none). Not part of
   * the event's content: an event that differs from a stored one only in these is a duplicate.
   */
  ignored_usage_fields: readonly string[];
  /** person_id and agent_id as sent (the hash's), before ingest fills them in from the key. */
  sent_who: { person_id: string | null; agent_id: string | null };
}

/** What makes two events with the same id "the same event" (see contentHash). */
export type EventContent = Omit<PreparedEvent, 'index' | 'content_hash' | 'ignored_usage_fields' | 'sent_who'>;

export interface Rejection {
  index: number;
  id: string | null;
  status: 'rejected';
  code: string;
  message: string;
  field?: string;
}

const validateEvent = compileSchema<RawEvent>(eventSchema);

const NO_FIELDS: readonly string[] = Object.freeze([]);

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses a strict RFC 3339 timestamp (explicit offset) to a Date; sub-millisecond digits are dropped. */
export function parseTimestamp(raw: string): Date | null {
  const m = RFC3339.exec(raw);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return null;
  const zone = m[8]!;
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  // From the fields, not by Date's own parser (a third of this function's time on the ingest path).
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(1, 4).padEnd(3, '0'));
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d); // not Date.UTC, which reads years 0-99 as 1900-1999
  date.setUTCHours(h, mi, s, ms);
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

function reject(index: number, raw: unknown, code: string, message: string, field?: string): Rejection {
  const id = raw !== null && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : null;
  return { index, id: id !== null && id.length <= 255 ? id : null, status: 'rejected', code, message, ...(field ? { field } : {}) };
}

/**
 * The fields that make two events with the same id "the same event", in a fixed order (metadata with
 * sorted keys). The usage shape is how the count was reported, not what was counted: the same tokens
 * sent as canonical usage or as a provider's usage object are the same event, so usage_format is left out.
 */
export function contentHash(e: EventContent): string {
  const u = e.usage;
  const content = JSON.stringify([
    e.ts.getTime(), e.person_id, e.agent_id, e.unit_id, e.session_id, e.session_context, e.task_id, e.attempt_id,
    e.outcome, e.error_signature, e.learned_from, e.task_status, e.operation, e.channel, e.model_name,
    u.input, u.cached_input, u.cache_write, u.output, u.reasoning, e.reservation_id,
  ]);
  const metadata = e.metadata === null ? '' : canonicalJson(e.metadata);
  // One-shot hash of content NUL metadata: the same digest as before, without a Hash object per event.
  return hash('sha256', `${content}\u0000${metadata}`, 'hex');
}

export function prepareEvent(raw: unknown, index: number, now: Date): PreparedEvent | Rejection {
  let event: RawEvent;
  try {
    event = validateEvent(raw);
  } catch (error) {
    if (error instanceof RequestError) return reject(index, raw, error.code, error.message, error.details.field);
    throw error;
  }
  const ts = parseTimestamp(event.timestamp);
  if (ts === null) {
    return reject(index, raw, 'invalid_timestamp', 'timestamp must be an RFC 3339 date-time with an offset, e.g. 2026-03-01T12:00:00Z.', 'timestamp');
  }
  if (ts.getTime() > now.getTime() + MAX_FUTURE_MS) {
    return reject(index, raw, 'timestamp_in_future', 'timestamp is more than 5 minutes in the future.', 'timestamp');
  }
  if (ts.getTime() < EARLIEST_MS) {
    return reject(
      index,
      raw,
      'timestamp_too_old',
      `timestamp is before ${EARLIEST_TIMESTAMP}: an unset date (0001-01-01, 1970-01-01, ...), not when an operation happened. Send the time the operation ran.`,
      'timestamp',
    );
  }
  let usage: CanonicalUsage = { input: 0, cached_input: 0, cache_write: 0, output: 0, reasoning: 0 };
  let usageFormat: string | null = null;
  let ignored: readonly string[] = NO_FIELDS;
  if (event.usage !== undefined) {
    const normalised = normalizeUsage(event.usage, event.usage_format ?? null);
    if (!normalised.ok) return reject(index, raw, normalised.code, normalised.message, normalised.field);
    usage = normalised.usage;
    usageFormat = normalised.format;
    ignored = normalised.ignored;
  } else if (event.usage_format !== undefined) {
    return reject(index, raw, 'usage_format_without_usage', 'usage_format was given without usage.', 'usage_format');
  }
  if (event.model === undefined && totalTokens(usage) > 0) {
    return reject(index, raw, 'model_required', 'An event that used tokens must name its model.', 'model');
  }
  if (event.metadata !== undefined && Buffer.byteLength(JSON.stringify(event.metadata)) > MAX_METADATA_BYTES) {
    return reject(index, raw, 'metadata_too_large', `metadata must be at most ${MAX_METADATA_BYTES} bytes as JSON.`, 'metadata');
  }
  if (event.attempt_id !== undefined && event.task_id === undefined) {
    return reject(index, raw, 'attempt_without_task', 'attempt_id needs a task_id.', 'attempt_id');
  }
  if ((event.learned_from !== undefined || event.task_status !== undefined) && event.task_id === undefined) {
    const field = event.learned_from !== undefined ? 'learned_from' : 'task_status';
    return reject(index, raw, 'task_field_without_task', `${field} needs a task_id.`, field);
  }
  const prepared: EventContent = {
    id: event.id,
    ts,
    person_id: event.person_id ?? null,
    agent_id: event.agent_id ?? null,
    unit_id: event.unit_id ?? null,
    session_id: event.session_id ?? null,
    session_context: event.session_context ?? null,
    task_id: event.task_id ?? null,
    attempt_id: event.attempt_id ?? null,
    outcome: event.outcome ?? null,
    error_signature: event.error_signature ?? null,
    learned_from: event.learned_from && event.learned_from.length > 0 ? event.learned_from : null,
    task_status: event.task_status ?? null,
    operation: event.operation ?? null,
    channel: event.channel ?? null,
    model_name: event.model ?? null,
    usage,
    usage_format: usageFormat,
    reservation_id: event.reservation_id ?? null,
    metadata: event.metadata ?? null,
  };
  return {
    ...prepared,
    index,
    content_hash: contentHash(prepared),
    ignored_usage_fields: ignored,
    sent_who: { person_id: prepared.person_id, agent_id: prepared.agent_id },
  };
}

/** Field names whose values differ between two prepared events with the same id. */
export function differingFields(a: EventContent, b: EventContent): string[] {
  const fields: string[] = [];
  const same = (x: unknown, y: unknown) => canonicalJson(x) === canonicalJson(y);
  if (a.ts.getTime() !== b.ts.getTime()) fields.push('timestamp');
  const keys = [
    'person_id', 'agent_id', 'unit_id', 'session_id', 'session_context', 'task_id', 'attempt_id', 'outcome',
    'error_signature', 'learned_from', 'task_status', 'operation', 'channel', 'reservation_id', 'metadata',
  ] as const;
  for (const key of keys) if (!same(a[key], b[key])) fields.push(key);
  if (a.model_name !== b.model_name) fields.push('model');
  if (!same(a.usage, b.usage)) fields.push('usage');
  return fields;
}

/**
 * A person's membership from a time on (person_unit_history): `from_us` in epoch microseconds, the
 * database's own precision, so an event's time compares with it exactly as in the write.
 */
export interface UnitMove {
  unit_id: string;
  from_us: number;
}

/**
 * The person's unit at `ts`, as the write attributes an event that names none (UNIT_AT_EVENT_TIME in
 * event-write-sql.ts): the unit of their latest move at or before it, or, before their first move, the
 * unit they started in. `moves` in time order; null for a person with none.
 */
export function unitAtTime(moves: readonly UnitMove[], ts: Date): string | null {
  if (moves.length === 0) return null;
  const t = ts.getTime() * 1000;
  let at = 0;
  for (let i = 1; i < moves.length; i++) if (moves[i]!.from_us <= t) at = i;
  return moves[at]!.unit_id;
}

/**
 * An event's unit is its person's unit at its time: an agent reports for its owner, and a unit the event
 * names is only accepted when it is that one (naming another would move spend, and the hard budgets
 * checked, to a unit the owner is not in, or to one that does not exist). Null when the named unit is
 * the owner's; the rejection otherwise (nothing is stored for that event).
 */
export function namedUnitRejection(e: PreparedEvent, existing: ReadonlySet<string>, moves: readonly UnitMove[]): Rejection | null {
  if (e.unit_id === null) return null;
  const own = unitAtTime(moves, e.ts);
  if (e.unit_id === own) return null;
  const whose = own === null ? `person "${e.person_id}" is in no unit` : `the unit of person "${e.person_id}" at the event's time is "${own}"`;
  if (!existing.has(e.unit_id)) {
    return { index: e.index, id: e.id, status: 'rejected', code: 'unit_not_found', message: `Unit "${e.unit_id}" is not a unit of this account; ${whose}. Leave unit_id out to use it.`, field: 'unit_id' };
  }
  return { index: e.index, id: e.id, status: 'rejected', code: 'unit_not_owner', message: `Unit "${e.unit_id}" is not the event's: ${whose}. Leave unit_id out to use it.`, field: 'unit_id' };
}
