// Task resolution outside ingest: the close API and the inactivity timeout (a repeatable job). Either
// relabels the task's events, moves their tokens and cost between labels in the rollups, and announces the
// resolution through the TASK_CLASSIFIED port, all in one transaction.
import { Inject, Injectable, Logger, Optional, type OnModuleInit } from '@nestjs/common';
import type { Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { defineJob, JobHandler } from '../../src/jobs/jobs.js';
import { JobsService } from '../../src/jobs/jobs.service.js';
import { NO_TASK_CLASSIFIED, TASK_CLASSIFIED, type TaskClassifiedHook } from '../classification/task-classified.port.js';
import { TaskLabeler } from '../classification/task-labeler.js';
import { EventsRepository } from '../ingest/events.repository.js';
import { TasksRepository } from './tasks.repository.js';
import { decideClose } from './task-close.js';
import { MeteringError, MeteringErrorCode } from '../metering.errors.js';

export const abandonIdleTasks = defineJob<{ period: string }>('metering.abandon-idle-tasks');

export interface TaskResolution {
  task_id: string;
  status: 'succeeded' | 'failed' | 'abandoned';
  relabelled_events: number;
}

@Injectable()
export class TasksService implements OnModuleInit {
  private readonly logger = new Logger('tasks');
  private readonly announcer: TaskClassifiedHook;

  constructor(
    private readonly labeler: TaskLabeler,
    private readonly events: EventsRepository,
    private readonly tasks: TasksRepository,
    private readonly transactions: TransactionRunner,
    private readonly jobs: JobsService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() @Inject(TASK_CLASSIFIED) announcer: TaskClassifiedHook | null,
  ) {
    this.announcer = announcer ?? NO_TASK_CLASSIFIED;
  }

  onModuleInit(): void {
    this.jobs.repeat(abandonIdleTasks, 'minute');
  }

  /**
   * The close API: an agent key closes tasks of its agent, a member key tasks of its agents, finance any
   * of the account (task-close.ts). A task closed already with this status is answered as it is (nothing
   * relabelled); with another status it is refused, so a closed task's spend is never relabelled by a
   * second close.
   */
  close(principal: Principal, taskId: string, status: 'succeeded' | 'failed' | 'abandoned'): Promise<TaskResolution> {
    return this.resolve(principal.accountId!, taskId, status, principal.keyId, (task, events) => {
      const decision = decideClose(principal, task, events, status);
      switch (decision.kind) {
        case 'close':
          return true;
        case 'already':
          return false;
        case 'not_yours':
          throw new MeteringError(
            MeteringErrorCode.TaskNotYours,
            principal.role === 'agent' ? `Task "${taskId}" is not a task of this key's agent.` : `Task "${taskId}" is not a task of this person's agents.`,
            { field: 'task' },
          );
        case 'conflict': {
          const when = decision.closedAt ? ` at ${decision.closedAt.toISOString()}` : '';
          throw new MeteringError(MeteringErrorCode.TaskAlreadyClosed, `Task "${taskId}" was already closed as ${decision.status}${when}; it is not closed again as ${status}.`, {
            field: 'task',
            task_status: decision.status,
            ...(decision.closedAt ? { closed_at: decision.closedAt.toISOString() } : {}),
          });
        }
      }
    });
  }

  private resolve(
    accountId: string,
    taskId: string,
    status: 'succeeded' | 'failed' | 'abandoned',
    by: string,
    admit?: Parameters<TaskLabeler['resolve']>[6],
  ): Promise<TaskResolution> {
    return this.transactions.run(async (tx) => {
      const labels = await this.labeler.resolve(tx, accountId, taskId, status, this.clock.now(), by, admit);
      if (!labels) throw new MeteringError(MeteringErrorCode.TaskNotFound, `Task "${taskId}" was not found.`);
      const { before, after } = labels.moves();
      await this.events.moveInRollups(tx, before, after);
      await labels.save(tx);
      if (labels.classified.length > 0) await this.announcer.classified(tx, accountId, labels.classified);
      return { task_id: taskId, status, relabelled_events: labels.relabelled.length };
    });
  }

  /** Closes, as abandoned, every open task idle longer than its account's inactivity timeout. */
  @JobHandler(abandonIdleTasks)
  async abandonIdle(_: { period: string }): Promise<number> {
    let closed = 0;
    for (;;) {
      const idle = await this.tasks.idleTasks(this.clock.now(), 200);
      if (idle.length === 0) return closed;
      for (const task of idle) {
        // Closed meanwhile (an event, the close API): left as it is.
        await this.resolve(task.account_id, task.task_id, 'abandoned', 'inactivity-timeout', (locked) => locked.status === 'open');
        closed++;
      }
      this.logger.log(`abandoned ${idle.length} idle tasks`);
    }
  }
}
