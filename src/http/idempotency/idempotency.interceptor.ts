// @Idempotent()'s interceptor: the route's write done once per Idempotency-Key (idempotent-writes.ts).
import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { IdempotentWrites } from './idempotent-writes.js';

@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly writes: IdempotentWrites) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const key = this.writes.keyOf(request);
    if (key === null) return next.handle();
    return from(this.writes.withKey(request, http.getResponse<FastifyReply>(), key, () => lastValueFrom(next.handle(), { defaultValue: undefined })));
  }
}
