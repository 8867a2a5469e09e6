// Only this file touches tiers_config_version: the counter every catalog or price-book change bumps
// in its own transaction, and that pricing caches poll to know when to reload.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows } from '../../src/database/sql.js';

@Injectable()
export class TiersConfigRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Bumps the counter and, by locking its row until commit, serialises every catalog and price-book
   * writer: call it first in the transaction, before reading what the change is checked against.
   */
  async bump(tx: Tx): Promise<number> {
    const rows = await queryRows<{ version: string }>(
      tx,
      'UPDATE tiers_config_version SET version = version + 1 WHERE id = 1 RETURNING version',
    );
    return Number(rows[0]!.version);
  }

  async current(): Promise<number> {
    const rows = await queryRows<{ version: string }>(this.dataSource, 'SELECT version FROM tiers_config_version WHERE id = 1');
    return Number(rows[0]?.version ?? 0);
  }
}
