// The typed client for the tokenmeter API: openapi-fetch over the types openapi-typescript generated
// from the service's own document (client/schema.ts), so a route that changes breaks its callers at
// compile time. No Node-only imports: the CLI and the web console both use it.
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export type TokenmeterClient = Client<paths>;
/** The named schemas of the document (`Schemas['Account']`, `Schemas['Error']`, ...). */
export type Schemas = components['schemas'];
/** The one error body every route answers a failure with. */
export type ApiError = components['schemas']['Error'];

export interface TokenmeterClientOptions {
  /** The service's address, e.g. http://127.0.0.1:3000 (routes carry their own /v1 prefix). */
  baseUrl: string;
  /** An API key, sent as `Authorization: Bearer <key>`. */
  key?: string | null;
  fetch?: ClientOptions['fetch'];
  headers?: Record<string, string>;
  /**
   * Send a request again when its answer is lost (the connection dropped after it was sent), when the
   * service is briefly unavailable (503), or while the first of a retried write still runs: after each of
   * these delays in turn (say [250, 1000]). Each write goes with an `Idempotency-Key` of its own, the same
   * on every send, so the service does it once whatever the network did (see resendable). None by default.
   */
  resendAfterMs?: readonly number[];
  /**
   * With resendAfterMs: a write the same as one sent less than this long before (method, URL and body) goes
   * with that one's Idempotency-Key, so a double click makes one grant, not two (the web console: 2000).
   */
  sameWriteWithinMs?: number;
}

export function createTokenmeterClient(options: TokenmeterClientOptions): TokenmeterClient {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  const fetchOnce = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const fetch = options.resendAfterMs?.length ? resending(fetchOnce, options.resendAfterMs, new RecentWrites(options.sameWriteWithinMs ?? 0)) : options.fetch;
  return createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), headers, fetch });
}

/**
 * Whether a request may be sent twice and be done once: reads, PUT and DELETE (they set a state), and
 * POSTs with an Idempotency-Key (every write route takes one) or an id of their own (events). Not the
 * issue of an API key: its secret is never kept, so its answer cannot be given twice.
 */
export function resendable(method: string, path: string): boolean {
  return !(method === 'POST' && /\/v1\/api-keys\/?$/.test(path));
}

/** Whether a write goes with an Idempotency-Key (the service ignores it where a route does not take one). */
function keyed(method: string): boolean {
  return method === 'POST' || method === 'PUT';
}

/**
 * 128 random bits. A page served over plain HTTP from another host than localhost is no secure context, where
 * browsers have no crypto.randomUUID but do have getRandomValues.
 */
function newIdempotencyKey(): string {
  const crypto = globalThis.crypto;
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A fetch that failed after the request may have reached the service: not refused, not aborted nor timed out. */
function answerLost(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'AbortError' || name === 'TimeoutError') return false;
  return (error as { cause?: { code?: string } } | null)?.cause?.code !== 'ECONNREFUSED';
}

async function stillRunning(response: Response): Promise<boolean> {
  if (response.status !== 409) return false;
  const body = (await response.clone().json().catch(() => null)) as ApiError | null;
  return body?.error?.code === 'idempotency_key_in_use';
}

/**
 * The keys of the writes sent lately, by method, URL and body: one sent again while the first is in flight,
 * or within `windowMs` of its answer, takes the same key (nothing is kept with a window of 0).
 */
class RecentWrites {
  private readonly sent = new Map<string, { key: string; until: number }>();

  constructor(private readonly windowMs: number) {}

  /** The write's key, and what to call once it is answered. */
  async keyFor(request: Request): Promise<{ key: string; answered: () => void }> {
    if (this.windowMs <= 0) return { key: newIdempotencyKey(), answered: () => undefined };
    const id = `${request.method} ${request.url}\n${await request.clone().text()}`;
    const now = Date.now();
    for (const [other, entry] of this.sent) if (entry.until < now) this.sent.delete(other);
    let entry = this.sent.get(id);
    if (entry === undefined) this.sent.set(id, (entry = { key: newIdempotencyKey(), until: Infinity }));
    const mine = entry;
    return { key: mine.key, answered: () => void (mine.until = Date.now() + this.windowMs) };
  }
}

function resending(fetchOnce: (request: Request) => Promise<Response>, delaysMs: readonly number[], recent: RecentWrites): (request: Request) => Promise<Response> {
  return async (request) => {
    if (!resendable(request.method, new URL(request.url).pathname)) return fetchOnce(request);
    if (!keyed(request.method) || request.headers.has('idempotency-key')) return sendWithResends(fetchOnce, delaysMs, request);
    const { key, answered } = await recent.keyFor(request);
    request.headers.set('idempotency-key', key);
    try {
      return await sendWithResends(fetchOnce, delaysMs, request);
    } finally {
      answered();
    }
  };
}

async function sendWithResends(fetchOnce: (request: Request) => Promise<Response>, delaysMs: readonly number[], request: Request): Promise<Response> {
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  for (let attempt = 0; ; attempt++) {
    const last = attempt >= delaysMs.length;
    let response: Response;
    try {
      // A body can be read once: every send but the last reads a copy.
      response = await fetchOnce(last ? request : request.clone());
    } catch (error) {
      if (last || !answerLost(error)) throw error;
      await pause(delaysMs[attempt]!);
      continue;
    }
    if (last || (response.status !== 503 && !(await stillRunning(response)))) return response;
    // An answer not read holds its connection until it is collected.
    await response.body?.cancel().catch(() => undefined);
    await pause(delaysMs[attempt]!);
  }
}
