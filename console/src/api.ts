// The console's one way to the API: the typed client generated from the service's OpenAPI document
// (client/), on this page's own origin, with the pasted key. A route that changes breaks this at compile time.
import { createTokenmeterClient, type ApiError, type operations, type Schemas, type TokenmeterClient } from '../../client/client';

export type { Schemas, TokenmeterClient };
export type EventsQuery = NonNullable<operations['ReadingsController_events']['parameters']['query']>;

/**
 * A write whose answer a flaky network loses, or that meets a service restarting (503), is sent again with
 * the same Idempotency-Key, and a form sent twice within two seconds (a double click) goes with the first
 * one's key: a grant, a transfer or a plan version is made once (client/client.ts).
 */
export function apiClient(key: string): TokenmeterClient {
  return createTokenmeterClient({ baseUrl: window.location.origin, key, resendAfterMs: [250, 1000], sameWriteWithinMs: 2000 });
}

/** A failed call, with the API's own code, sentence and offending field. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** The whole error body (a refused budget names its `parent`, `measure` and `over`). */
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The data of a call, or an ApiFailure carrying its error body. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok && data !== undefined) return data;
  const body = (error as ApiError | undefined)?.error;
  throw new ApiFailure(
    response.status,
    body?.code ?? 'http_error',
    body?.message ?? `The service answered ${response.status}.`,
    body?.field,
    (body ?? {}) as Record<string, unknown>,
  );
}

/** A reading asked for as JSON (the routes that also speak CSV are typed as either). */
export function json<T>(value: T | string): T {
  if (typeof value === 'string') throw new ApiFailure(500, 'unexpected_csv', 'The service answered CSV where JSON was asked for.');
  return value;
}

export type Who = Schemas['ApiKey'];
export type Role = Who['role'];

/**
 * For an effect that asks the API: the reply reaches `answer` (or the failure `failed`) only while the effect
 * is current. Once what it asked for has changed (another account, filter, page or plan; the effect cleaned
 * up), a late reply is dropped, so a slow answer to an old question never overwrites the new one. Returns the
 * effect's cleanup.
 */
export function whileCurrent<T>(request: Promise<T>, answer: (value: T) => void, failed?: (reason: unknown) => void): () => void {
  let current = true;
  request.then(
    (value) => {
      if (current) answer(value);
    },
    (reason: unknown) => {
      if (current) failed?.(reason);
    },
  );
  return () => {
    current = false;
  };
}
