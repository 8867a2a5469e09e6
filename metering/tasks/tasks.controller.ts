import { Body, Controller, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import type { Principal } from '../../src/auth/principal.js';
import { RequestError } from '../../src/http/domain-error.js';
import { ApiJsonBody, Fails, Responds } from '../../src/http/openapi.js';
import { SchemaPipe } from '../../src/http/validation.js';
import { closeTaskSchema, TaskResolutionSchema, type CloseTaskBody } from './tasks.schemas.js';
import { TasksService, type TaskResolution } from './tasks.service.js';
import { Idempotent } from '../../src/http/idempotency/idempotent.decorator.js';

@ApiTags('metering')
@Controller('v1/tasks')
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Post(':task/close')
  @Idempotent()
  @Allow('agent', 'member', 'finance')
  @ApiOperation({
    summary: "Resolve a task of the key's account; its events are relabelled",
    description:
      "An agent key closes tasks its agent reported events of, a member key tasks of its own agents, finance any task of the account (`403 task_not_yours`). A task closed already with the same status is answered as it is (`relabelled_events: 0`); with another status it is refused (`409 task_already_closed`, naming its status and when it closed) and nothing is relabelled.",
  })
  @ApiJsonBody(closeTaskSchema)
  @Responds(200, TaskResolutionSchema)
  @Fails(404)
  close(
    @CurrentPrincipal() principal: Principal,
    @Param('task') task: string,
    @Body(new SchemaPipe(closeTaskSchema)) body: CloseTaskBody,
  ): Promise<TaskResolution> {
    if (task.length > 255 || task.includes('\u0000')) {
      throw new RequestError('invalid_id', 'Path parameter "task" must be at most 255 characters.', { field: 'task' });
    }
    return this.tasks.close(principal, task, body.status);
  }
}
