// What every request passes before any route sees it: the body is UTF-8 JSON of bounded depth sent as
// application/json, and no query or path value can reach PostgreSQL as text it refuses (NUL, lone surrogates).
import { STATUS_CODES } from 'node:http';
import { TextDecoder } from 'node:util';
import { RequestError } from './domain-error.js';

/** Deeper than any body the API takes (an event's metadata included); far from the stack's limit. */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether JSON text nests objects and arrays deeper than `max`. One pass over the characters, skipping
 * strings; run before parsing, so nothing recursive (validation, scans, logging) ever meets a deep value.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Jump to the closing quote (native indexOf: strings are most of a body); one preceded by an odd
      // run of backslashes is escaped and does not close.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i === -1) return false;
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The charset a content type names, lower-cased, or null when it names none. */
function charsetOf(contentType: string | undefined): string | null {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return match ? match[1]!.toLowerCase() : null;
}

/**
 * The text of a JSON body: `undefined` for an empty one (a request without a body, as some clients send
 * `content-type: application/json` on every call), else checked to be UTF-8 and not nested too deep.
 */
export function jsonBodyText(body: Buffer, contentType: string | undefined): string | undefined {
  const charset = charsetOf(contentType);
  if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
    throw new RequestError('unsupported_media_type', `Send the body as UTF-8 JSON (content-type: application/json), not ${charset}.`, {}, 'unsupported_media_type');
  }
  if (body.length === 0) return undefined;
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new RequestError('invalid_utf8', 'The request body is not valid UTF-8.');
  }
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    throw new RequestError('too_deep', `The request body nests objects or arrays deeper than ${MAX_JSON_DEPTH} levels.`);
  }
  return text;
}

// ES2024's String#isWellFormed (Node 20+); the project's `lib` is ES2023.
type WellFormed = string & { isWellFormed(): boolean };

/** Why a string cannot be stored as PostgreSQL text, or null when it can. */
export function textProblem(value: string): 'nul_byte' | 'invalid_text' | null {
  if (value.includes('\u0000')) return 'nul_byte';
  // A lone UTF-16 surrogate (from a `\ud800` escape or bad percent-encoding) is not a character at all.
  if (!(value as WellFormed).isWellFormed()) return 'invalid_text';
  return null;
}

export function textError(problem: 'nul_byte' | 'invalid_text', field: string, where: string): RequestError {
  return problem === 'nul_byte'
    ? new RequestError('nul_byte', `${where} "${field}" contains a NUL byte.`, { field })
    : new RequestError('invalid_text', `${where} "${field}" is not valid Unicode text (a lone surrogate).`, { field });
}

/**
 * Query parameters arrive as strings, or as an array when a name repeats (`?limit=1&limit=2`); no route
 * takes a list that way, so a repeat is refused rather than left for a route to misread.
 */
export function checkQuery(query: unknown): void {
  if (query === null || typeof query !== 'object') return;
  for (const [name, value] of Object.entries(query as Record<string, unknown>)) {
    const nameProblem = textProblem(name);
    if (nameProblem !== null) throw textError(nameProblem, JSON.stringify(name).slice(1, -1), 'Query parameter name');
    if (Array.isArray(value)) {
      throw new RequestError('repeated_parameter', `Query parameter "${name}" is given more than once; give it once.`, { field: name });
    }
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem !== null) throw textError(problem, name, 'Query parameter');
    }
  }
}

/** Path parameters: the same text rules (a route then checks their form). */
export function checkParams(params: unknown): void {
  if (params === null || typeof params !== 'object') return;
  for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
    if (typeof value !== 'string') continue;
    const problem = textProblem(value);
    if (problem !== null) throw textError(problem, name, 'Path parameter');
  }
}

/** Fastify's router refuses a path before any route runs; answered in the API's error shape. */
export function routerError(error: { code?: string }): { status: number; code: string; message: string } {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return { status: 414, code: 'uri_too_long', message: `A path parameter is longer than ${MAX_PARAM_LENGTH} characters.` };
  }
  return { status: 400, code: 'invalid_url', message: 'The path is not valid percent-encoded UTF-8.' };
}

/** Longer than any id a path carries (a task id is at most 255 characters, percent-encoded at most thrice that). */
export const MAX_PARAM_LENGTH = 1024;

/**
 * Node refuses some requests before Fastify sees them (headers or URL over 16 KB, a malformed request
 * line); the answer is written on the socket, in the API's error shape.
 */
export function clientErrorResponse(error: { code?: string }, requestId: string): string | null {
  if (error.code === 'ECONNRESET') return null;
  const [status, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'The request line and headers are larger than the server accepts (16 KB).']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'The request took too long to arrive.']
        : [400, 'bad_request', 'The request is not valid HTTP.'];
  const body = JSON.stringify({ error: { code, message, request_id: requestId } });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\n\r\n${body}`
  );
}
