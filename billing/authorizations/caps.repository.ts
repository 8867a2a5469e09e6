// Only this file touches authorization_caps: the account's caps per agent (for a period) and per session
// by its context.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows, type Db } from '../../src/database/sql.js';
import type { PeriodKind } from './counters.js';

export type CapScope = 'agent' | 'session';

export interface CapRow {
  scope: CapScope;
  subject: string;
  period_kind: PeriodKind | null;
  amount_limit: string | null;
  token_limit: string | null;
  updated_at: Date;
  updated_by: string | null;
}

const COLUMNS = 'scope, subject, period_kind, amount_limit::text AS amount_limit, token_limit::text AS token_limit, updated_at, updated_by';

@Injectable()
export class CapsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async list(account: string, db: Db = this.dataSource): Promise<CapRow[]> {
    return queryRows<CapRow>(db, `SELECT ${COLUMNS} FROM authorization_caps WHERE account_id = $1 ORDER BY scope, subject`, [account]);
  }

  async find(db: Db, account: string, scope: CapScope, subject: string, forUpdate = false): Promise<CapRow | null> {
    const rows = await queryRows<CapRow>(
      db,
      `SELECT ${COLUMNS} FROM authorization_caps WHERE account_id = $1 AND scope = $2 AND subject = $3${forUpdate ? ' FOR UPDATE' : ''}`,
      [account, scope, subject],
    );
    return rows[0] ?? null;
  }

  async findMany(db: Db, account: string, scope: CapScope, subjects: readonly string[]): Promise<CapRow[]> {
    return queryRows<CapRow>(db, `SELECT ${COLUMNS} FROM authorization_caps WHERE account_id = $1 AND scope = $2 AND subject = ANY($3::text[])`, [
      account,
      scope,
      subjects,
    ]);
  }

  async upsert(tx: Tx, account: string, cap: CapRow): Promise<CapRow> {
    const rows = await queryRows<CapRow>(
      tx,
      `INSERT INTO authorization_caps (account_id, scope, subject, period_kind, amount_limit, token_limit, updated_at, updated_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (account_id, scope, subject) DO UPDATE SET period_kind = EXCLUDED.period_kind, amount_limit = EXCLUDED.amount_limit,
         token_limit = EXCLUDED.token_limit, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
       RETURNING ${COLUMNS}`,
      [account, cap.scope, cap.subject, cap.period_kind, cap.amount_limit, cap.token_limit, cap.updated_at, cap.updated_by],
    );
    return rows[0]!;
  }

  async delete(tx: Tx, account: string, scope: CapScope, subject: string): Promise<CapRow | null> {
    const rows = await queryRows<CapRow>(tx, `DELETE FROM authorization_caps WHERE account_id = $1 AND scope = $2 AND subject = $3 RETURNING ${COLUMNS}`, [
      account,
      scope,
      subject,
    ]);
    return rows[0] ?? null;
  }
}
