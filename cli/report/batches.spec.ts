import fc from 'fast-check';
import { batchBody, readBatches, type Batch, type Limits } from './batches.js';

async function collect(text: string | Buffer, chunk: number, start = { line: 0, offset: 0 }, limits: Limits = { events: 3, bodyBytes: 1 << 20 }) {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  async function* chunks() {
    for (let i = start.offset; i < bytes.length; i += chunk) yield bytes.subarray(i, Math.min(bytes.length, i + chunk));
  }
  const out: Batch[] = [];
  for await (const batch of readBatches(chunks(), start, limits)) out.push(batch);
  return out;
}

describe('readBatches', () => {
  it('cuts lines (LF or CRLF, last without a newline), skips blanks, reports non-objects with their line numbers', async () => {
    const text = '{"id":"a"}\r\n\n[1]\n{"id":"b"}\n{bad\n{"id":"c"}\n{"id":"d"}';
    const batches = await collect(text, 4);
    expect(batches.map((b) => b.events)).toEqual([['{"id":"a"}', '{"id":"b"}', '{"id":"c"}'], ['{"id":"d"}']]);
    expect(batches.map((b) => b.lines)).toEqual([[1, 4, 6], [7]]);
    expect(batches[0]!.invalid).toEqual([
      { line: 3, message: 'not a JSON object' },
      { line: 5, message: expect.stringMatching(/^not JSON: /) },
    ]);
    expect(batches.map((b) => [b.lastLine, b.endOffset])).toEqual([
      [6, text.indexOf('{"id":"d"}')],
      [7, Buffer.byteLength(text)],
    ]);
    expect(JSON.parse(batchBody(batches[0]!.events))).toEqual({ events: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] });
  });

  it('closes a batch before its body would pass the byte limit, and refuses a line that alone would', async () => {
    const line = JSON.stringify({ id: 'x'.repeat(20) });
    const limits = { events: 100, bodyBytes: 13 + 2 * line.length + 1 };
    const batches = await collect(`${line}\n${line}\n${line}\n${JSON.stringify({ id: 'y'.repeat(200) })}\n`, 7, undefined, limits);
    expect(batches.map((b) => b.events.length)).toEqual([2, 1]);
    expect(batches.every((b) => b.bodyBytes === Buffer.byteLength(batchBody(b.events)))).toBe(true);
    expect(batches[1]!.invalid).toEqual([{ line: 4, message: `longer than ${limits.bodyBytes} bytes` }]);
  });

  it('law: whatever the chunking, resuming after any batch yields exactly the events after it', async () => {
    const lineArb = fc.oneof(
      fc.record({ id: fc.string({ maxLength: 6 }), n: fc.integer(), s: fc.constantFrom('é', '日本', '') }).map((o) => JSON.stringify(o)),
      fc.constantFrom('', 'not json', '[]', '\r'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(lineArb, { maxLength: 30 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), async (lines, chunk, newline) => {
        // A file of no lines has no newline either.
        const trailing = newline && lines.length > 0;
        const text = lines.join('\n') + (trailing ? '\n' : '');
        const all = await collect(text, chunk);
        const events = all.flatMap((b) => b.events);
        expect(events).toEqual(lines.map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '' && !['not json', '[]'].includes(l)));
        for (const [i, b] of all.entries()) {
          expect(b.endOffset).toBe(Buffer.byteLength(lines.slice(0, b.lastLine).map((l, k) => (k < lines.length - 1 || trailing ? `${l}\n` : l)).join('')));
          const rest = await collect(text, chunk, { line: b.lastLine, offset: b.endOffset });
          expect(rest.flatMap((r) => r.events)).toEqual(all.slice(i + 1).flatMap((r) => r.events));
          expect(rest.flatMap((r) => r.lines)).toEqual(all.slice(i + 1).flatMap((r) => r.lines));
        }
      }),
      { numRuns: 200 },
    );
  });
});
