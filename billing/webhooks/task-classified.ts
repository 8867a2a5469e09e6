// Billing's side of metering's TASK_CLASSIFIED port (metering/classification/task-classified.port.ts): a
// resolved task becomes the opt-in `task.classified` webhook event, emitted in the resolving transaction,
// so only endpoints subscribed to that type get it, and only if the resolution commits.
import { Injectable } from '@nestjs/common';
import type { Tx } from '../../src/database/data-source.js';
import type { ClassifiedTask, TaskClassifiedHook } from '../../metering/classification/task-classified.port.js';
import { WebhookEvents } from './webhook-events.js';

/** The body's `data` of a `task.classified` event. */
export function taskClassifiedData(t: ClassifiedTask): object {
  return {
    task_id: t.task_id,
    status: t.status,
    closed_at: t.closed_at.toISOString(),
    closed_by: t.closed_by,
    attempts: t.attempts,
    failed_attempts: t.failed_attempts,
    labels: t.labels,
  };
}

@Injectable()
export class TaskClassifiedWebhooks implements TaskClassifiedHook {
  constructor(private readonly events: WebhookEvents) {}

  listening(account: string): Promise<boolean> {
    return this.events.wanted(account, 'task.classified');
  }

  async classified(tx: Tx, account: string, tasks: readonly ClassifiedTask[]): Promise<void> {
    for (const t of tasks) await this.events.emit(tx, account, 'task.classified', taskClassifiedData(t));
  }
}
