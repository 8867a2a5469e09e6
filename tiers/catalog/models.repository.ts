// Only this file touches the models table (the catalog).
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows, type Db } from '../../src/database/sql.js';
import type { Tier } from '../pricing/pricing.js';

export interface Model {
  id: string;
  provider: string;
  tier: Tier;
  aliases: string[];
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, provider, tier, aliases, created_at, updated_at';

@Injectable()
export class ModelsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async list(db: Db = this.dataSource): Promise<Model[]> {
    return queryRows<Model>(db, `SELECT ${COLUMNS} FROM models ORDER BY id`);
  }

  async find(id: string, db: Db = this.dataSource): Promise<Model | null> {
    const rows = await queryRows<Model>(db, `SELECT ${COLUMNS} FROM models WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async upsert(tx: Tx, m: Omit<Model, 'created_at'> & { created_at: Date }): Promise<Model> {
    const rows = await queryRows<Model>(
      tx,
      `INSERT INTO models (id, provider, tier, aliases, created_at, updated_at) VALUES ($1, $2, $3, $4::text[], $5, $6)
       ON CONFLICT (id) DO UPDATE SET provider = EXCLUDED.provider, tier = EXCLUDED.tier, aliases = EXCLUDED.aliases,
         updated_at = EXCLUDED.updated_at
       RETURNING ${COLUMNS}`,
      [m.id, m.provider, m.tier, m.aliases, m.created_at, m.updated_at],
    );
    return rows[0]!;
  }
}
