import { DomainError, type ErrorDetails, type ErrorKind } from '../src/http/domain-error.js';

export enum MeteringErrorCode {
  BatchTooLarge = 'batch_too_large',
  EmptyBatch = 'empty_batch',
  NotAnAgentKey = 'ingest_needs_agent_key',
  TaskNotFound = 'task_not_found',
  TaskAlreadyClosed = 'task_already_closed',
  TaskNotYours = 'task_not_yours',
  InvalidRange = 'invalid_range',
  InvalidGroupBy = 'invalid_group_by',
  InvalidCursor = 'invalid_cursor',
}

const KIND: Record<MeteringErrorCode, ErrorKind> = {
  [MeteringErrorCode.BatchTooLarge]: 'too_large',
  [MeteringErrorCode.EmptyBatch]: 'invalid',
  [MeteringErrorCode.NotAnAgentKey]: 'forbidden',
  [MeteringErrorCode.TaskNotFound]: 'not_found',
  [MeteringErrorCode.TaskAlreadyClosed]: 'conflict',
  [MeteringErrorCode.TaskNotYours]: 'forbidden',
  [MeteringErrorCode.InvalidRange]: 'invalid',
  [MeteringErrorCode.InvalidGroupBy]: 'invalid',
  [MeteringErrorCode.InvalidCursor]: 'invalid',
};

export class MeteringError extends DomainError {
  readonly kind: ErrorKind;
  constructor(code: MeteringErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
    this.kind = KIND[code];
  }
}
