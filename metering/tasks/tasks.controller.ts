import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import type { Principal } from '../../src/auth/principal.js';
import { RequestError } from '../../src/http/domain-error.js';
import { ApiJsonBody, SchemaPipe } from '../../src/http/validation.js';
import { TasksService, type TaskResolution } from './tasks.service.js';

const closeTaskSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: { status: { type: 'string', enum: ['succeeded', 'failed', 'abandoned'] } },
} as const;

@ApiTags('metering')
@ApiBearerAuth()
@Controller('v1/tasks')
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Post(':task/close')
  @HttpCode(200)
  @Allow('agent', 'member', 'finance')
  @ApiOperation({ summary: "Resolve a task of the key's account; its events are relabelled" })
  @ApiJsonBody(closeTaskSchema)
  close(
    @CurrentPrincipal() principal: Principal,
    @Param('task') task: string,
    @Body(new SchemaPipe(closeTaskSchema)) body: { status: 'succeeded' | 'failed' | 'abandoned' },
  ): Promise<TaskResolution> {
    if (task.length > 255 || task.includes('\u0000')) {
      throw new RequestError('invalid_id', 'Path parameter "task" must be at most 255 characters.', { field: 'task' });
    }
    return this.tasks.close(principal, task, body.status);
  }
}
