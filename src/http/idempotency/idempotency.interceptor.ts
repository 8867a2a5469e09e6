// Applies the idempotency rules (idempotency.ts) around a write: a request with an `Idempotency-Key` takes
// the key before the handler runs; the handler's answer is kept when it succeeds, the key given back when
// it fails; a retry is answered from the kept answer (with `Idempotent-Replayed: true`) or told why not.
// A request without the header costs one header lookup.
import { Inject, Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { catchError, mergeMap, of, type Observable } from 'rxjs';
import type { AuthenticatedRequest } from '../../auth/access.decorators.js';
import { CLOCK, type Clock } from '../../clock/clock.js';
import { IDEMPOTENCY_HEADER, idempotencyKeyOf, REPLAYED_HEADER, requestFingerprint, retryError, retryOutcome } from './idempotency.js';
import { IdempotencyRepository } from './idempotency.repository.js';

@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly logger = new Logger('idempotency');

  constructor(
    private readonly keys: IdempotencyRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> | Promise<Observable<unknown>> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const key = idempotencyKeyOf(request.headers[IDEMPOTENCY_HEADER]);
    if (key === null) return next.handle();
    return this.once(request, context.switchToHttp().getResponse<FastifyReply>(), key, next);
  }

  private async once(request: AuthenticatedRequest, reply: FastifyReply, key: string, next: CallHandler): Promise<Observable<unknown>> {
    const principal = request.principal;
    if (principal === undefined) throw new Error('@Idempotent() on a route that takes no key');
    const fingerprint = requestFingerprint(request.method, request.url, request.body);
    const path = request.url.split('?', 1)[0]!;
    const taken = await this.keys.take(principal.keyId, key, fingerprint, `${request.method} ${path}`, this.clock.now());
    if ('stored' in taken) {
      const retry = retryOutcome(taken.stored, fingerprint);
      if (retry.kind !== 'replay') throw retryError(retry);
      void reply.status(retry.status).header(REPLAYED_HEADER, 'true');
      return of(retry.body);
    }
    const { claim } = taken;
    return next.handle().pipe(
      // A failed request changed nothing (every write is one transaction): its retry may run again.
      catchError(async (error: unknown) => {
        await this.keys.release(claim).catch((e: unknown) => this.logger.error({ err: e }, 'could not give an idempotency key back'));
        throw error;
      }),
      // Kept before the answer is sent, so a retry that follows it is a replay.
      mergeMap(async (value: unknown) => {
        await this.keys.complete(claim, reply.statusCode, value === undefined ? null : JSON.stringify(value), this.clock.now());
        return value;
      }),
    );
  }
}
