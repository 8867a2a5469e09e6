// Only this file reads or writes the audit_log table. Appends are serialised by a transaction-scoped
// advisory lock, so the chain has exactly one successor per row even under concurrent writers.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryRows } from '../database/sql.js';
import type { Tx } from '../database/data-source.js';
import { GENESIS_HASH, hashAuditRow, type AuditContent, type AuditRow } from './audit-chain.js';

const AUDIT_APPEND_LOCK = 7_310_001;

interface AuditDbRow {
  seq: string;
  occurred_at: Date;
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
  prev_hash: string;
  hash: string;
}

function toRow(r: AuditDbRow): AuditRow {
  return { ...r, seq: Number(r.seq), occurred_at: r.occurred_at.toISOString() };
}

export interface AuditQuery {
  afterSeq: number;
  limit: number;
  accountId?: string;
  entityType?: string;
}

@Injectable()
export class AuditRepository {
  constructor(private readonly dataSource: DataSource) {}

  async append(tx: Tx, content: Omit<AuditContent, 'seq'>): Promise<AuditRow> {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_APPEND_LOCK]);
    const last = (await queryRows<{
      seq: string;
      hash: string;
    }>(tx, 'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1'));
    const seq = last.length ? Number(last[0]!.seq) + 1 : 1;
    const prevHash = last.length ? last[0]!.hash : GENESIS_HASH;
    const full: AuditContent = { ...content, seq };
    const hash = hashAuditRow(full, prevHash);
    await tx.query(
      `INSERT INTO audit_log (seq, occurred_at, actor_key_id, actor_role, actor_account_id, on_behalf_of_person_id,
         action, entity_type, entity_id, account_id, before, after, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        seq,
        full.occurred_at,
        full.actor_key_id,
        full.actor_role,
        full.actor_account_id,
        full.on_behalf_of_person_id,
        full.action,
        full.entity_type,
        full.entity_id,
        full.account_id,
        full.before === null || full.before === undefined ? null : JSON.stringify(full.before),
        full.after === null || full.after === undefined ? null : JSON.stringify(full.after),
        prevHash,
        hash,
      ],
    );
    return { ...full, prev_hash: prevHash, hash };
  }

  async list(query: AuditQuery): Promise<AuditRow[]> {
    const rows = (await queryRows<AuditDbRow>(this.dataSource, `SELECT * FROM audit_log
        WHERE seq > $1 AND ($2::text IS NULL OR account_id = $2) AND ($3::text IS NULL OR entity_type = $3)
        ORDER BY seq LIMIT $4`,
      [query.afterSeq, query.accountId ?? null, query.entityType ?? null, query.limit],
    ));
    return rows.map(toRow);
  }

  /** The whole chain in seq order, a page at a time (keyset paging: rows are only ever appended). */
  async *walk(pageSize = 1000): AsyncGenerator<AuditRow[]> {
    let after = 0;
    for (;;) {
      const rows = (await queryRows<AuditDbRow>(this.dataSource, 'SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [
        after,
        pageSize,
      ]));
      if (rows.length === 0) return;
      const page = rows.map(toRow);
      yield page;
      after = page[page.length - 1]!.seq;
    }
  }
}
