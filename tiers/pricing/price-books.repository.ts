// Only this file touches the price_books table. Rows are inserted, never updated: each is a version.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows, type Db } from '../../src/database/sql.js';
import type { LongContextRates, RateOverrides, Tier, TokenRates } from './pricing.js';

export interface PriceBookRow {
  version: number;
  effective_from: string;
  currency: string | null;
  tiers: Record<Tier, TokenRates>;
  models: Record<string, RateOverrides>;
  long_context: LongContextRates | null;
  correction: boolean;
  reason: string | null;
  created_at: Date;
  created_by: string | null;
}

const COLUMNS = 'version, effective_from, currency, tiers, models, long_context, correction, reason, created_at, created_by';

@Injectable()
export class PriceBooksRepository {
  constructor(private readonly dataSource: DataSource) {}

  async maxVersion(tx: Tx): Promise<number> {
    const rows = await queryRows<{ v: number | null }>(tx, 'SELECT max(version) AS v FROM price_books');
    return rows[0]?.v ?? 0;
  }

  async insert(tx: Tx, row: PriceBookRow & { effective_at: Date }): Promise<PriceBookRow> {
    const rows = await queryRows<PriceBookRow>(
      tx,
      `INSERT INTO price_books (version, effective_from, effective_at, currency, tiers, models, long_context, correction, reason,
                                created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
      [
        row.version,
        row.effective_from,
        row.effective_at,
        row.currency,
        JSON.stringify(row.tiers),
        JSON.stringify(row.models),
        row.long_context === null ? null : JSON.stringify(row.long_context),
        row.correction,
        row.reason,
        row.created_at,
        row.created_by,
      ],
    );
    return rows[0]!;
  }

  async find(version: number): Promise<PriceBookRow | null> {
    const rows = await queryRows<PriceBookRow>(this.dataSource, `SELECT ${COLUMNS} FROM price_books WHERE version = $1`, [version]);
    return rows[0] ?? null;
  }

  /** Versions after `after`, ascending; `limit` null for all (the pricing cache loads every version). */
  async list(after = 0, limit: number | null = null, db: Db = this.dataSource): Promise<PriceBookRow[]> {
    return queryRows<PriceBookRow>(
      db,
      `SELECT ${COLUMNS} FROM price_books WHERE version > $1 ORDER BY version LIMIT $2`,
      [after, limit],
    );
  }
}
