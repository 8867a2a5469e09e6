// `@Idempotent()` on a write route: a retry sent with the same `Idempotency-Key` is answered once
// (idempotency.interceptor.ts), and the route's OpenAPI entry documents the header and its errors.
import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { Fails } from '../openapi.js';
import { IdempotencyInterceptor } from './idempotency.interceptor.js';

export const IDEMPOTENCY_HEADER_DESCRIPTION =
  'Optional. Any string of 1 to 255 visible ASCII characters (a UUID, say), new for each new request. A retry ' +
  'with the same key, the same path and the same body within 24 hours gets the first success answered again ' +
  '(with `Idempotent-Replayed: true`) instead of doing it twice; a failed request keeps nothing, so its retry ' +
  'runs again. 409 `idempotency_key_in_use` while the first is still running; 409 `idempotency_key_unanswered` ' +
  'when the first was done (its write committed) but its answer was lost with the process that ran it: it is not ' +
  'done again; 422 `idempotency_key_reused` when the key was used for another request. Keys are per API key.';

/** The header and its errors in the route's OpenAPI entry. */
const documented = () =>
  applyDecorators(
    ApiHeader({ name: 'Idempotency-Key', required: false, description: IDEMPOTENCY_HEADER_DESCRIPTION, schema: { type: 'string', minLength: 1, maxLength: 255 } }),
    Fails(409, 422),
  );

export const Idempotent = (): MethodDecorator => applyDecorators(UseInterceptors(IdempotencyInterceptor), documented());

/**
 * For a hot route that calls IdempotentWrites.once itself (POST /v1/authorizations): documented as
 * @Idempotent() is, without the interceptor, whose chain Nest would build for every request (about 20 us of a
 * request's CPU where the header is rarely sent).
 */
export const IdempotentInHandler = (): MethodDecorator => documented();
