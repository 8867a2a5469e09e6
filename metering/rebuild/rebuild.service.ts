// Recomputes labels and rollups from the raw events alone. Readings after a rebuild must equal the
// readings before it: that is the check that the incremental paths (ingest, relabel, reprice) are right.
// The closed hours and days are written as the hourly compaction leaves them, so readings that answer from
// the compacted hours (the account's reading by hour) are as fast right after a rebuild as before it.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AccountsService } from '../../src/accounts/accounts.service.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { classifyStandalone } from '../classification/classify.js';
import { TaskLabeler } from '../classification/task-labeler.js';
import { RebuildRepository } from './rebuild.repository.js';

export interface RebuildReport {
  accounts: number;
  tasks: number;
  relabelled: number;
}

@Injectable()
export class RebuildService {
  private readonly logger = new Logger('rebuild');

  constructor(
    private readonly repository: RebuildRepository,
    private readonly accounts: AccountsService,
    private readonly labeler: TaskLabeler,
    private readonly transactions: TransactionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** `tasksPerStep`: tasks locked, loaded and classified per round trip. */
  async rebuild(accountId?: string, tasksPerStep = 1000): Promise<RebuildReport> {
    if (accountId !== undefined) await this.accounts.getAccount(accountId); // account_not_found
    const accounts = accountId !== undefined ? [accountId] : await this.repository.accounts();
    const report: RebuildReport = { accounts: accounts.length, tasks: 0, relabelled: 0 };
    for (const account of accounts) {
      await this.transactions.run(async (tx) => {
        await this.repository.lockRollups(tx, account);
        await this.repository.labelStandalone(tx, account, {
          success: classifyStandalone('success'),
          failure: classifyStandalone('failure'),
          none: classifyStandalone(null),
        });
        const tasks = (await this.repository.tasks(tx, account)).map((t) => t.task_id);
        for (let i = 0; i < tasks.length; i += tasksPerStep) {
          // Status unchanged; classify each task again from its stored events.
          const { tasks: done, labels } = await this.labeler.relabelFromScratch(tx, account, tasks.slice(i, i + tasksPerStep));
          await labels.save(tx);
          report.relabelled += labels.relabelled.length;
          report.tasks += done;
        }
        await this.repository.recomputeRollups(tx, account, this.clock.now());
      });
      this.logger.log(`rebuilt ${account}`);
    }
    return report;
  }
}
