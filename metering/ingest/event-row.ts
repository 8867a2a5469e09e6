// An event row: its columns and types as in the migration (the one list every statement is built from),
// and how new rows travel to PostgreSQL (one array per column) and come back as rows (unnest).
import { pgArray } from '../../src/database/sql.js';
import type { SpendLabel } from '../classification/classify.js';

/** An event as stored (the columns ingest and classification need). */
export interface StoredEvent {
  account_id: string;
  event_id: string;
  ts: Date;
  received_at: Date;
  seq: string;
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
  model_id: string | null;
  tier: string | null;
  price_book_version: number | null;
  rates_used: string | null;
  usage_format: string | null;
  input: string;
  cached_input: string;
  cache_write: string;
  output: string;
  reasoning: string;
  cost_input: string | null;
  cost_cached_input: string | null;
  cost_cache_write: string | null;
  cost_output: string | null;
  cost_reasoning: string | null;
  cost: string | null;
  priced: boolean;
  label: SpendLabel;
  reservation_id: string | null;
  metadata: Record<string, unknown> | null;
  content_hash: string;
  allowance_left: string | null;
  adjustment: boolean;
}

export type NewEventRow = Omit<StoredEvent, 'seq'> & { seq: number };

/** Every column of `events` with its type, as in the migration. */
export const EVENT_COLUMN_TYPES = {
  account_id: 'text', event_id: 'text', ts: 'timestamptz', received_at: 'timestamptz', seq: 'int8', person_id: 'text',
  agent_id: 'text', unit_id: 'text', session_id: 'text', session_context: 'text', task_id: 'text', attempt_id: 'text',
  outcome: 'text', error_signature: 'text', learned_from: 'jsonb', task_status: 'text', operation: 'text', channel: 'text',
  model_name: 'text', model_id: 'text', tier: 'text', price_book_version: 'int4', rates_used: 'text', usage_format: 'text',
  input: 'int8', cached_input: 'int8', cache_write: 'int8', output: 'int8', reasoning: 'int8', cost_input: 'numeric',
  cost_cached_input: 'numeric', cost_cache_write: 'numeric', cost_output: 'numeric', cost_reasoning: 'numeric', cost: 'numeric',
  priced: 'bool', label: 'text', reservation_id: 'text', metadata: 'jsonb', content_hash: 'text', allowance_left: 'numeric',
  adjustment: 'bool',
} as const satisfies Record<keyof StoredEvent, string>;

export const EVENT_COLUMNS = Object.keys(EVENT_COLUMN_TYPES) as (keyof StoredEvent)[];

/** The columns of new events sent as arrays: all but `account_id` ($1) and `allowance_left` (computed). */
const SENT_COLUMNS: readonly (keyof StoredEvent)[] = EVENT_COLUMNS.filter((c) => c !== 'account_id' && c !== 'allowance_left');

/**
 * The new events' columns as arrays (pgArray), one parameter each, in SENT_COLUMNS order. Arrays carry
 * values only: about half the bytes of the same rows as JSON objects, which the driver writes to the
 * socket and the server parses on every group. Timestamps travel as epoch milliseconds (sentType).
 */
export function eventArrayParams(rows: readonly NewEventRow[]): string[] {
  return SENT_COLUMNS.map((c) => {
    const type = EVENT_COLUMN_TYPES[c];
    if (type === 'jsonb') return pgArray(rows, true, (r) => (r[c] === null || r[c] === undefined ? null : JSON.stringify(r[c])));
    return pgArray(rows, type === 'text', (r) => r[c]);
  });
}

/** The type a column's array is sent as: its own, but timestamps as epoch milliseconds. */
function sentType(c: keyof StoredEvent): string {
  const type = EVENT_COLUMN_TYPES[c];
  return type === 'timestamptz' ? 'int8' : type;
}

/** The parameter (numbered from `first`, in SENT_COLUMNS order) that carries column `c`, with its cast. */
export function arrayParam(first: number, c: keyof StoredEvent): string {
  const i = SENT_COLUMNS.indexOf(c);
  if (i < 0) throw new Error(`${c} is not sent as an array`);
  return `$${first + i}::${sentType(c)}[]`;
}

/** The SQL that turns the arrays (from parameter `first`) back into rows (`unnest`). */
export function eventArraysSql(first: number): string {
  const select = EVENT_COLUMNS.map((c) =>
    c === 'account_id'
      ? '$1::text AS account_id'
      : c === 'allowance_left'
        ? 'NULL::numeric AS allowance_left'
        : EVENT_COLUMN_TYPES[c] === 'timestamptz'
          ? `timestamptz 'epoch' + u.${c} * interval '1 millisecond' AS ${c}`
          : `u.${c}`,
  );
  return `SELECT ${select.join(', ')} FROM unnest(${SENT_COLUMNS.map((c) => arrayParam(first, c)).join(', ')}) AS u(${SENT_COLUMNS.join(', ')})`;
}
