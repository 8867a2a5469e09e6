// The hash chain of the audit log, as pure functions: each row's hash covers its content and the hash
// of the row before it, so changing, removing or reordering any row breaks every hash after it.
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditContent {
  seq: number;
  occurred_at: string; // ISO 8601, milliseconds, UTC
  actor_key_id: string | null;
  actor_role: string | null;
  actor_account_id: string | null;
  on_behalf_of_person_id: string | null;
  action: string;
  entity_type: string;
  entity_id: string;
  account_id: string | null;
  before: unknown;
  after: unknown;
}

export interface AuditRow extends AuditContent {
  prev_hash: string;
  hash: string;
}

/** JSON with object keys sorted at every depth, so equal values always hash the same (jsonb reorders keys). */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function hashAuditRow(c: AuditContent, prevHash: string): string {
  // Named fields only: a row object carrying its own `hash` must hash the same as its bare content.
  const body = canonicalJson({
    seq: c.seq,
    occurred_at: c.occurred_at,
    actor_key_id: c.actor_key_id,
    actor_role: c.actor_role,
    actor_account_id: c.actor_account_id,
    on_behalf_of_person_id: c.on_behalf_of_person_id,
    action: c.action,
    entity_type: c.entity_type,
    entity_id: c.entity_id,
    account_id: c.account_id,
    before: c.before,
    after: c.after,
    prev_hash: prevHash,
  });
  return createHash('sha256').update(body).digest('hex');
}

export interface ChainVerification {
  valid: boolean;
  rows_checked: number;
  /** The first row whose hash or link does not hold, and why. */
  first_broken?: { seq: number; reason: 'hash_mismatch' | 'broken_link' | 'sequence_gap' };
}

/**
 * Verifies rows in `seq` order. `previous` is the row before the first one given (null from genesis),
 * so a long log can be verified page by page.
 */
export function verifyChain(
  rows: readonly AuditRow[],
  previous: { seq: number; hash: string } | null = null,
): ChainVerification {
  let prevHash = previous?.hash ?? GENESIS_HASH;
  let prevSeq = previous?.seq ?? 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (row.seq !== prevSeq + 1) {
      return { valid: false, rows_checked: i, first_broken: { seq: row.seq, reason: 'sequence_gap' } };
    }
    if (row.prev_hash !== prevHash) {
      return { valid: false, rows_checked: i, first_broken: { seq: row.seq, reason: 'broken_link' } };
    }
    if (hashAuditRow(row, row.prev_hash) !== row.hash) {
      return { valid: false, rows_checked: i, first_broken: { seq: row.seq, reason: 'hash_mismatch' } };
    }
    prevHash = row.hash;
    prevSeq = row.seq;
  }
  return { valid: true, rows_checked: rows.length };
}
