// Binds metering's TASK_CLASSIFIED port to the `task.classified` webhook. Global so that metering resolves
// the token without importing billing: dependencies keep pointing billing -> metering.
import { Global, Module } from '@nestjs/common';
import { TASK_CLASSIFIED } from '../../metering/classification/task-classified.port.js';
import { TaskClassifiedWebhooks } from './task-classified.js';
import { WebhooksModule } from './webhooks.module.js';

@Global()
@Module({
  imports: [WebhooksModule],
  providers: [TaskClassifiedWebhooks, { provide: TASK_CLASSIFIED, useExisting: TaskClassifiedWebhooks }],
  exports: [TASK_CLASSIFIED],
})
export class TaskClassifiedModule {}
