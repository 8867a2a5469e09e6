// Idempotent retries of writes: a POST sent with an `Idempotency-Key` header is done once per key and
// calling key; the same request sent again with that key gets the first answer back, replayed, instead of
// doing it again (a second grant, a second transfer, a second secret rotation). The rules, as plain
// functions: what a valid key is, what makes two requests the same, and what a retry is answered.
// The interceptor (idempotency.interceptor.ts) applies them; the repository keeps the keys.
import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import { RequestError } from '../domain-error.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** The response header on an answer given again for a retry. */
export const REPLAYED_HEADER = 'idempotent-replayed';
/** How long a key is remembered: a retry within it is answered from the first request. */
export const KEY_TTL_MS = 24 * 3_600_000;
/**
 * How long a request may hold its key before a retry may take it over: a retry meanwhile is told the
 * request is still in progress. Longer than any write takes; shorter than a client's patience for a
 * request whose process died.
 */
export const IN_FLIGHT_MS = 60_000;
const MAX_KEY_LENGTH = 255;

/**
 * The key a request sends, or null when it sends none. A key is 1 to 255 visible ASCII characters (a
 * UUID, say), sent once.
 */
export function idempotencyKeyOf(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (Array.isArray(header)) {
    throw new RequestError('invalid_idempotency_key', 'Send the Idempotency-Key header once.', { field: 'Idempotency-Key' });
  }
  if (header.length === 0 || header.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(header)) {
    throw new RequestError(
      'invalid_idempotency_key',
      `The Idempotency-Key header must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters (a UUID, say); it was ${header.length === 0 ? 'empty' : `${header.length} characters${/^[\x21-\x7e]*$/.test(header) ? '' : ' with spaces or other characters'}`}.`,
      { field: 'Idempotency-Key' },
    );
  }
  return header;
}

/**
 * What makes a retry the same request: its method, its path and query as sent, and its JSON body by
 * value (the order of an object's fields does not matter; their values and the order of arrays do).
 */
export function requestFingerprint(method: string, url: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method.toUpperCase()} ${url}\n${body === undefined ? '' : stringify(body)}`)
    .digest('hex');
}

/** A key as it is kept: the request that took it and, once that request succeeded, its answer. */
export interface StoredKey {
  fingerprint: string;
  /** `POST /v1/...`, for the error that names it. */
  request: string;
  /** The answer's status and JSON text; null while the request runs. */
  status: number | null;
  body: string | null;
  /** When the request took the key. */
  createdAt: Date;
  /** When its write committed (marked in the write's own transaction); null before, or for a write that wrote nothing. */
  committedAt: Date | null;
}

export type Retry =
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'in_progress' }
  | { kind: 'reused'; request: string }
  | { kind: 'unanswered'; request: string; committedAt: Date };

/**
 * What a request is answered at `now` when its key was taken already (and has neither expired nor been
 * abandoned: the repository gives those to the new request). Only a succeeded request's answer is kept:
 * a request that failed changed nothing and gave its key back, so its retry runs again. A request whose
 * write committed but whose answer was never kept (its process died in between) is in progress for the
 * minute it may still keep it, then unanswered: done, and never done again under this key.
 */
export function retryOutcome(stored: StoredKey, fingerprint: string, now: Date): Retry {
  if (stored.fingerprint !== fingerprint) return { kind: 'reused', request: stored.request };
  if (stored.status === null) {
    if (stored.committedAt !== null && now.getTime() - stored.createdAt.getTime() > IN_FLIGHT_MS) {
      return { kind: 'unanswered', request: stored.request, committedAt: stored.committedAt };
    }
    return { kind: 'in_progress' };
  }
  return { kind: 'replay', status: stored.status, body: stored.body === null ? undefined : (JSON.parse(stored.body) as unknown) };
}

/** The error a retry that cannot be answered gets. */
export function retryError(retry: Exclude<Retry, { kind: 'replay' }>): RequestError {
  if (retry.kind === 'in_progress') {
    return new RequestError(
      'idempotency_key_in_use',
      'A request with this Idempotency-Key is still in progress. Retry once it has been answered.',
      { field: 'Idempotency-Key' },
      'conflict',
    );
  }
  if (retry.kind === 'unanswered') {
    return new RequestError(
      'idempotency_key_unanswered',
      `The request with this Idempotency-Key (${retry.request}) was done: its write committed at ${retry.committedAt.toISOString()}, but the service stopped before it kept the answer. It is not done again: read what it wrote (its GET), or send a new key to do it once more.`,
      { field: 'Idempotency-Key' },
      'conflict',
    );
  }
  return new RequestError(
    'idempotency_key_reused',
    `This Idempotency-Key was used for another request (${retry.request}, or the same route with another body). Use a new key for a new request.`,
    { field: 'Idempotency-Key' },
    'unprocessable',
  );
}
