// Work to do once a caller's transaction has committed, and never if it rolls back: queueing on Redis,
// which cannot join a PostgreSQL transaction. Hooked into TypeORM's transaction events for the one data
// source; a savepoint's release is not the commit, so work waits for the outermost transaction.
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource, type EntitySubscriberInterface, type QueryRunner, type TransactionCommitEvent, type TransactionRollbackEvent } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';

type Work = () => Promise<unknown>;

@Injectable()
export class AfterCommit implements EntitySubscriberInterface, OnModuleInit {
  private readonly logger = new Logger('after-commit');
  private readonly waiting = new WeakMap<QueryRunner, Work[]>();

  constructor(private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    this.dataSource.subscribers.push(this);
  }

  /** Runs `work` after `tx` commits (at once when `tx` is in no transaction). Its failure is logged, not thrown. */
  schedule(tx: Tx, work: Work): void {
    const runner = tx.queryRunner;
    if (!runner?.isTransactionActive) {
      this.run([work]);
      return;
    }
    const list = this.waiting.get(runner);
    if (list) list.push(work);
    else this.waiting.set(runner, [work]);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    if (event.queryRunner.isTransactionActive) return;
    const work = this.waiting.get(event.queryRunner);
    if (!work) return;
    this.waiting.delete(event.queryRunner);
    this.run(work);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    if (!event.queryRunner.isTransactionActive) this.waiting.delete(event.queryRunner);
  }

  private run(work: Work[]): void {
    for (const w of work) void w().catch((error: unknown) => this.logger.warn({ err: error }, 'work after commit failed'));
  }
}
