// The base of every domain's error type. A domain names its codes and says which kind of failure each
// is; only the HTTP exception filter turns a kind into a status, so domains never speak HTTP.
import type { ErrorDetails } from './openapi.js';

export type { ErrorDetails };

export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unprocessable'
  | 'too_large'
  | 'unsupported_media_type'
  | 'unavailable';

export abstract class DomainError extends Error {
  abstract readonly kind: ErrorKind;
  constructor(
    readonly code: string,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad request input found before any domain logic ran (schema, NUL bytes, bad paths). */
export class RequestError extends DomainError {
  readonly kind: ErrorKind;
  constructor(code: string, message: string, details: ErrorDetails = {}, kind: ErrorKind = 'invalid') {
    super(code, message, details);
    this.kind = kind;
  }
}
