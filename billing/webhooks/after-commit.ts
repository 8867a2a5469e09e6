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
  /** Work waiting for each transaction's commit, in the order it was first scheduled. */
  private readonly waiting = new WeakMap<QueryRunner, Map<string | symbol, Work>>();

  constructor(private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    this.dataSource.subscribers.push(this);
  }

  /**
   * Runs `work` after `tx` commits (at once when `tx` is in no transaction). Its failure is logged, not
   * thrown. With a `key`, only the last work scheduled under that key for this transaction runs (a counter
   * refreshed once, as of the last change, after a transaction that changed it several times).
   */
  schedule(tx: Tx, work: Work, key?: string): void {
    const runner = tx.queryRunner;
    if (!runner?.isTransactionActive) {
      this.run([work]);
      return;
    }
    let waiting = this.waiting.get(runner);
    if (!waiting) this.waiting.set(runner, (waiting = new Map()));
    waiting.set(key ?? Symbol('work'), work);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    if (event.queryRunner.isTransactionActive) return;
    const waiting = this.waiting.get(event.queryRunner);
    if (!waiting) return;
    this.waiting.delete(event.queryRunner);
    this.run([...waiting.values()]);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    if (!event.queryRunner.isTransactionActive) this.waiting.delete(event.queryRunner);
  }

  private run(work: Work[]): void {
    for (const w of work) void w().catch((error: unknown) => this.logger.warn({ err: error }, 'work after commit failed'));
  }
}
