// `report` reads JSON Lines as batches for POST /v1/events without holding the file: lines are cut from the
// byte stream as it arrives (so each batch knows the byte offset just past its last line, where a resume
// starts reading), each line is checked to be one JSON object, and a batch closes at a count of events or
// a size of request body, whichever comes first.
export interface InvalidLine {
  line: number;
  message: string;
}

export interface Batch {
  /** 0, 1, 2 ... in file order. */
  seq: number;
  /** Each event's JSON text, as it was in the file. */
  events: string[];
  /** The line number (1-based) of each event. */
  lines: number[];
  /** Lines that are not a JSON object; they are reported, never sent. */
  invalid: InvalidLine[];
  /** The last line this batch consumed (blank and invalid lines included). */
  lastLine: number;
  /** The byte offset just past `lastLine` (and its newline). */
  endOffset: number;
  /** The request body's size in bytes. */
  bodyBytes: number;
}

export interface Position {
  /** Lines already consumed. */
  line: number;
  /** Bytes already consumed. */
  offset: number;
}

export interface Limits {
  events: number;
  bodyBytes: number;
}

/** The request body for a batch: the events' own text, so a line is sent exactly as written. */
export function batchBody(events: readonly string[]): string {
  return `{"events":[${events.join(',')}]}`;
}

const ENVELOPE_BYTES = batchBody([]).length;

/** Why a line cannot be an event, or null when it can. */
export function lineProblem(text: string): string | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  return null;
}

/**
 * Batches from `source`, which starts at `start` (a resume seeks there first). A line's newline may be
 * `\n` or `\r\n`; blank lines are skipped; the last line needs no newline.
 */
export async function* readBatches(source: AsyncIterable<Buffer | string>, start: Position, limits: Limits): AsyncGenerator<Batch> {
  let seq = 0;
  let line = start.line;
  let offset = start.offset;
  let current = newBatch();
  let pending: Buffer = Buffer.alloc(0);

  function newBatch(): Batch {
    return { seq: seq++, events: [], lines: [], invalid: [], lastLine: line, endOffset: offset, bodyBytes: ENVELOPE_BYTES };
  }

  /** Adds one line; answers a full batch to yield first when the line does not fit the current one. */
  function take(raw: Buffer, consumed: number): Batch | null {
    let full: Batch | null = null;
    line += 1;
    offset += consumed;
    const text = raw.toString('utf8').replace(/\r$/, '');
    if (text.trim() === '') {
      current.lastLine = line;
      current.endOffset = offset;
      return null;
    }
    const problem = Buffer.byteLength(text) + ENVELOPE_BYTES > limits.bodyBytes ? `longer than ${limits.bodyBytes} bytes` : lineProblem(text);
    if (problem !== null) {
      current.invalid.push({ line, message: problem });
    } else {
      const size = Buffer.byteLength(text) + (current.events.length > 0 ? 1 : 0);
      if (current.events.length >= limits.events || current.bodyBytes + size > limits.bodyBytes) {
        full = current;
        current = newBatch();
      }
      current.bodyBytes += Buffer.byteLength(text) + (current.events.length > 0 ? 1 : 0);
      current.events.push(text);
      current.lines.push(line);
    }
    current.lastLine = line;
    current.endOffset = offset;
    return full;
  }

  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const data = pending.length > 0 ? Buffer.concat([pending, bytes]) : bytes;
    let from = 0;
    for (let nl = data.indexOf(10, from); nl !== -1; nl = data.indexOf(10, from)) {
      const full = take(data.subarray(from, nl), nl - from + 1);
      if (full !== null) yield full;
      from = nl + 1;
    }
    // Copy the tail, so the chunk it came from is not kept alive by a view into it.
    pending = Buffer.from(data.subarray(from));
  }
  if (pending.length > 0) {
    const full = take(pending, pending.length);
    if (full !== null) yield full;
  }
  if (current.events.length > 0 || current.invalid.length > 0 || current.lastLine > start.line) yield current;
}
