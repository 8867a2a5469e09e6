// Request and response bodies of POST /v1/tasks/:task/close, as JSON schemas (validation, OpenAPI and types alike).
import { named, type Body } from '../../src/http/openapi.js';

const closing = { type: 'string', enum: ['succeeded', 'failed', 'abandoned'] } as const;

export const closeTaskSchema = named('CloseTask', {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: { status: closing },
} as const);

export type CloseTaskBody = Body<typeof closeTaskSchema>;

export const TaskResolutionSchema = named('TaskResolution', {
  type: 'object',
  additionalProperties: false,
  required: ['task_id', 'status', 'relabelled_events'],
  properties: {
    task_id: { type: 'string' },
    status: closing,
    relabelled_events: { type: 'integer', minimum: 0, description: 'Events whose label changed; their tokens and cost moved in every reading' },
  },
} as const);
