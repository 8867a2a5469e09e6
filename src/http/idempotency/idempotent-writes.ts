// Applies the idempotency rules (idempotency.ts) around a write: a request with an `Idempotency-Key` takes
// the key before the write runs; the write's transaction marks the key committed (as durable as the write
// itself, src/database/commit-marks.ts); the write's answer is kept when it succeeds, the key given back when
// it fails; a retry is answered from the kept answer (with `Idempotent-Replayed: true`) or told why not. A
// request without the header costs one header lookup. Routes use it through @Idempotent() (a Nest
// interceptor); a hot route whose every request would pay for Nest's interceptor chain calls `once` itself.
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthenticatedRequest } from '../../auth/access.decorators.js';
import { CLOCK, type Clock } from '../../clock/clock.js';
import { withCommitMark, type CommitMark } from '../../database/commit-marks.js';
import { IDEMPOTENCY_HEADER, idempotencyKeyOf, REPLAYED_HEADER, requestFingerprint, retryError, retryOutcome } from './idempotency.js';
import { IdempotencyRepository, type Claim } from './idempotency.repository.js';

/** Waits between later tries to keep a committed write's answer: all within IN_FLIGHT_MS (60 s), after which a retry would take the key over. */
export const COMPLETE_RETRY_MS = [100, 500, 2_000, 8_000, 20_000];

@Injectable()
export class IdempotentWrites {
  private readonly logger = new Logger('idempotency');

  constructor(
    private readonly keys: IdempotencyRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Whether the request asks for it: its key, or null (a malformed key is a RequestError). */
  keyOf(request: FastifyRequest): string | null {
    return idempotencyKeyOf(request.headers[IDEMPOTENCY_HEADER]);
  }

  /** `write` done once per key: run, or its first success answered again. */
  once<T>(request: FastifyRequest, reply: FastifyReply, write: () => Promise<T>): Promise<T> {
    const key = this.keyOf(request);
    return key === null ? write() : this.withKey(request, reply, key, write);
  }

  async withKey<T>(request: FastifyRequest, reply: FastifyReply, key: string, write: () => Promise<T>): Promise<T> {
    const principal = (request as AuthenticatedRequest).principal;
    if (principal === undefined) throw new Error('an idempotent write on a route that takes no key');
    const fingerprint = requestFingerprint(request.method, request.url, request.body);
    const path = request.url.split('?', 1)[0]!;
    const taken = await this.keys.take(principal.keyId, key, fingerprint, `${request.method} ${path}`, this.clock.now());
    if ('stored' in taken) {
      const retry = retryOutcome(taken.stored, fingerprint, this.clock.now());
      if (retry.kind !== 'replay') throw retryError(retry);
      void reply.status(retry.status).header(REPLAYED_HEADER, 'true');
      return retry.body as T;
    }
    const { claim } = taken;
    // Each transaction the write commits marks the key in it: a process that dies after the commit and before
    // the answer is kept leaves a key no retry takes over (answered 409 idempotency_key_unanswered), never a
    // write done twice.
    const mark: CommitMark = { open: true, write: (tx) => this.keys.markCommitted(tx, claim, this.clock.now()) };
    let value: T;
    try {
      value = await withCommitMark(mark, write);
    } catch (error) {
      mark.open = false;
      // A failed request changed nothing (every write is one transaction): its retry may run again.
      await this.keys.release(claim).catch((e: unknown) => this.logger.error({ err: e }, 'could not give an idempotency key back'));
      throw error;
    }
    mark.open = false;
    // Kept before the answer is sent, so a retry that follows it is a replay.
    const status = reply.statusCode;
    const body = value === undefined ? null : JSON.stringify(value);
    try {
      await this.keys.complete(claim, status, body, this.clock.now());
    } catch (error) {
      // The write has committed: its answer stands, and a 500 now would tell the caller to retry a write that
      // is done. The key stays in progress (a retry meanwhile is told so) while storing it is tried again, so
      // the retry that follows is a replay rather than a second write.
      this.logger.error({ err: error, key: claim.key }, 'could not keep an idempotent answer; trying again');
      void this.keepTrying(claim, status, body);
    }
    return value;
  }

  /** Stores a committed write's answer again until it is kept, within the time a retry is told the key is in progress. */
  private async keepTrying(claim: Claim, status: number, body: string | null): Promise<void> {
    for (const wait of COMPLETE_RETRY_MS) {
      // Unref'd: a shutdown does not wait for these tries (the key then frees itself after the minute, as a died request's does).
      await sleep(wait, undefined, { ref: false });
      try {
        await this.keys.complete(claim, status, body, this.clock.now());
        this.logger.log({ key: claim.key }, 'kept an idempotent answer on a later try');
        return;
      } catch (error) {
        this.logger.warn({ err: error, key: claim.key }, 'could not keep an idempotent answer');
      }
    }
    this.logger.error({ key: claim.key }, 'gave up keeping an idempotent answer: a retry is told the write was done (idempotency_key_unanswered)');
  }
}
