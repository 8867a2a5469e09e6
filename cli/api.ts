// The CLI's side of the typed client: one client per run from the credentials in force, and `call`, which
// turns an answer into its data or a CliError with the exit code its status means.
import { createTokenmeterClient, type ApiError, type TokenmeterClient } from '../client/client.js';
import { CliError, EXIT, exitForStatus } from './exit-codes.js';

export { type TokenmeterClient };

/** A request that waits longer than this fails as unavailable (the live stream has no limit). */
export const REQUEST_TIMEOUT_MS = 60_000;

/**
 * When a request's answer is lost (the connection dropped after it was sent) or the service is briefly
 * unavailable, it is sent again after each of these pauses; writes go with an Idempotency-Key, so the
 * service does them once (client/client.ts, resendable). A live stream is not sent again.
 */
export const RESEND_AFTER_MS = [250, 1000] as const;

export function apiClient(url: string, key: string, options: { timeoutMs?: number | null } = {}): TokenmeterClient {
  const timeoutMs = options.timeoutMs === undefined ? REQUEST_TIMEOUT_MS : options.timeoutMs;
  return createTokenmeterClient({
    baseUrl: url,
    key,
    fetch: timeoutMs === null ? undefined : (request) => fetch(request, { signal: AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)]) }),
    resendAfterMs: timeoutMs === null ? [] : RESEND_AFTER_MS,
  });
}

/** A fetch that never reached an answer, as the one line a person can act on. */
export function unreachable(url: string, error: unknown): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  const why = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  return new CliError(EXIT.unavailable, `cannot reach the service at ${url}: ${why}`);
}

/** The message of an error answer: the service's `{ error: { code, message } }`, else the status. */
export function failure(status: number, body: unknown): CliError {
  const error = (body as ApiError | undefined)?.error;
  const detail = error?.message ? `${error.message} (${error.code}${error.field ? `, field ${error.field}` : ''}, HTTP ${status})` : `HTTP ${status}`;
  return new CliError(exitForStatus(status), detail, body);
}

interface Answer<D> {
  data?: D;
  error?: unknown;
  response: Response;
}

/** A successful answer, its data with the response (for its headers); a CliError as for `call`. */
export async function answered<D>(url: string, request: Promise<Answer<D>>): Promise<{ data: D; response: Response }> {
  let answer: Answer<D>;
  try {
    answer = await request;
  } catch (error) {
    throw unreachable(url, error);
  }
  if (!answer.response.ok) throw failure(answer.response.status, answer.error);
  return { data: answer.data as D, response: answer.response };
}

/** The data of a successful answer; a CliError for an error status or a request that never got one. */
export async function call<D>(url: string, request: Promise<Answer<D>>): Promise<D> {
  return (await answered(url, request)).data;
}

/** A route that may also answer CSV answers JSON unless asked otherwise: the data as its JSON type. */
export function jsonBody<T>(data: T): Exclude<T, string> {
  if (typeof data === 'string') throw new CliError(EXIT.failure, 'the service answered text where JSON was expected');
  return data as Exclude<T, string>;
}
