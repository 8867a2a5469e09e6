// Services open transactions through this, so they never hold the data source itself; repositories take
// the transaction's manager and do the SQL.
import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError } from 'typeorm';
import { openCommitMark } from './commit-marks.js';
import type { Tx } from './data-source.js';

@Injectable()
export class TransactionRunner {
  constructor(private readonly dataSource: DataSource) {}

  /** `work` in one transaction (with the calling request's commit mark, when it has one: commit-marks.ts). */
  run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const mark = openCommitMark();
    if (mark === undefined) return this.dataSource.transaction(work);
    return this.dataSource.transaction(async (tx) => {
      const result = await work(tx);
      if (mark.open) await mark.write(tx);
      return result;
    });
  }

  /**
   * Reads that must agree with each other (a view built from several statements): one read-only transaction
   * that sees a single snapshot throughout, so a write committing meanwhile shows in all of them or in none.
   */
  readSnapshot<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      return work(tx);
    });
  }
}

/** The SQLSTATE of a failed query, when the failure came from PostgreSQL. */
export function sqlState(error: unknown): string | null {
  if (error instanceof QueryFailedError) {
    const code = (error.driverError as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? code : null;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';
