// `tokenmeter report FILE|-`: sends JSON Lines events in batches to POST /v1/events, several batches in
// flight, with a progress bar (events/s, ETA). The file is streamed, so memory stays flat however long it
// is. After each answered batch a checkpoint records the last line up to which every batch was answered;
// run again after an interruption and it resumes there. Batches in flight when it stopped are sent again,
// which is harmless: the service answers an event id it already has as `duplicate` and counts it once.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { components } from '../../client/client.js';
import { failure, unreachable } from '../api.js';
import type { Context } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import { count } from '../output.js';
import { batchBody, readBatches, type Batch, type Position } from '../report/batches.js';
import { headDigest, loadCheckpoint, removeCheckpoint, saveCheckpoint, zeroCounts, type Checkpoint, type Counts } from '../report/checkpoint.js';
import { positiveInteger } from './options.js';

type EventResult = components['schemas']['EventResult'];

/** The ingest route takes at most this many events in one batch. */
export const MAX_BATCH = 1000;
/** Below the service's 4 MiB body limit, with room to spare. */
const MAX_BODY_BYTES = 3 * 1024 * 1024;
const RETRIES = 6;

interface ReportOptions {
  batchSize: number;
  concurrency: number;
  checkpoint?: string;
  restart?: boolean;
  progress: boolean;
  json?: boolean;
}

/** A rejection as one line: where in the file, and why. */
export function rejectionLine(line: number, result: EventResult): string | null {
  if (result.status === 'rejected') {
    const field = result.field?.replace(/^events\[\d+\]\.?/, '');
    return `line ${line}: rejected: ${result.code}: ${result.message}${field ? ` (field ${field})` : ''}`;
  }
  if (result.status === 'conflict') return `line ${line}: conflict: ${result.message} (differs in ${result.fields.join(', ')})`;
  return null;
}

export function registerReport(program: Command, ctx: Context, setExit: (code: number) => void): void {
  program
    .command('report <file>')
    .description('send events from a JSON Lines file (- for stdin) in batches, resuming after an interruption (agent key)')
    .option('--batch-size <n>', `events per request, at most ${MAX_BATCH}`, positiveInteger, MAX_BATCH)
    .option('--concurrency <n>', 'requests in flight', positiveInteger, 4)
    .option('--checkpoint <path>', 'where progress is kept (default: FILE.tokenmeter-checkpoint; none for stdin unless given)')
    .option('--restart', 'ignore a checkpoint and send from the first line')
    .option('--no-progress', 'no progress bar (there is none when stderr is not a terminal)')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nEach line is one event (PRODUCT.md section 4). Rejected events are printed to stderr with their line\n' +
        'numbers and the exit code is 8; the others are counted. Ctrl-C stops after the batches in flight are\n' +
        'answered (exit 130); the same command then resumes after the last answered line.',
    )
    .action(async (file: string, o: ReportOptions) => {
      if (o.batchSize > MAX_BATCH) throw new CliError(EXIT.usage, `--batch-size is at most ${MAX_BATCH}`);
      setExit(await report(ctx, file, o));
    });
}

async function report(ctx: Context, file: string, o: ReportOptions): Promise<number> {
  const stdin = file === '-';
  const path = stdin ? null : resolve(file);
  if (path !== null && !existsSync(path)) throw new CliError(EXIT.usage, `no such file: ${file}`);
  const checkpointPath = o.checkpoint ?? (path === null ? null : `${path}.tokenmeter-checkpoint`);
  const head = path === null ? 'stdin' : headDigest(path);
  const size = path === null ? null : statSync(path).size;

  let checkpoint: Checkpoint = { version: 1, file: path ?? '-', head, line: 0, offset: 0, counts: zeroCounts() };
  if (checkpointPath !== null && !o.restart) {
    const found = loadCheckpoint(checkpointPath);
    if (found !== null) {
      if (found.file !== checkpoint.file || found.head !== head || (size !== null && found.offset > size)) {
        throw new CliError(EXIT.usage, `${checkpointPath} belongs to another file; give --restart to send ${file} from its first line`);
      }
      checkpoint = found;
      ctx.err(`resuming after line ${found.line} (checkpoint ${checkpointPath})`);
    }
  }
  const start: Position = { line: checkpoint.line, offset: checkpoint.offset };
  const source = path === null ? skipBytes(ctx.io.stdin, start.offset) : createReadStream(path, { start: start.offset, highWaterMark: 256 * 1024 });

  const api = ctx.api;
  const url = ctx.credentials.url;
  const counts: Counts = { ...checkpoint.counts };
  const began = performance.now();
  let sentNow = 0;
  const bar = o.progress && ctx.io.stderr.isTTY ? progressBar(ctx, size) : null;
  bar?.start(size ?? 0, start.offset, { events: '0', rate: '0' });

  // Batches answered out of order wait here until every earlier one is answered too.
  const answered = new Map<number, { batch: Batch; results: EventResult[] }>();
  let nextSeq = 0;
  let lastSave = 0;
  const commit = (force = false) => {
    while (answered.has(nextSeq)) {
      const { batch, results } = answered.get(nextSeq)!;
      answered.delete(nextSeq++);
      const problems: [number, string][] = batch.invalid.map((bad) => [bad.line, `line ${bad.line}: invalid: ${bad.message}`]);
      counts.invalid += batch.invalid.length;
      results.forEach((result, i) => {
        if (result.status === 'accepted') counts.accepted++;
        else if (result.status === 'duplicate') counts.duplicate++;
        else if (result.status === 'conflict') counts.conflict++;
        else counts.rejected++;
        const line = rejectionLine(batch.lines[i]!, result);
        if (line !== null) problems.push([batch.lines[i]!, line]);
      });
      sentNow += results.length;
      for (const [, text] of problems.sort((a, b) => a[0] - b[0])) {
        if (bar) bar.stop();
        ctx.err(text);
        if (bar) bar.start(size ?? 0, batch.endOffset);
      }
      checkpoint = { ...checkpoint, line: batch.lastLine, offset: batch.endOffset, counts: { ...counts } };
      const seconds = (performance.now() - began) / 1000;
      bar?.update(batch.endOffset, { events: count(sentNow), rate: count(Math.round(sentNow / Math.max(seconds, 0.001))) });
    }
    // At most every 100 ms: a kill loses at most that much, and resending it is harmless.
    if (checkpointPath !== null && (force || performance.now() - lastSave >= 100)) {
      saveCheckpoint(checkpointPath, checkpoint);
      lastSave = performance.now();
    }
  };

  async function send(batch: Batch): Promise<EventResult[]> {
    if (batch.events.length === 0) return [];
    const body = batchBody(batch.events);
    for (let attempt = 1; ; attempt++) {
      let problem: CliError;
      try {
        const answer = await api.POST('/v1/events', {
          body: { events: [] },
          bodySerializer: () => body,
        });
        if (answer.response.ok) return answer.data!.results;
        problem = failure(answer.response.status, answer.error);
        // Only an unavailable service is worth another try; anything else would be refused again.
        if (answer.response.status < 500 && answer.response.status !== 429) throw problem;
      } catch (error) {
        if (error instanceof CliError) throw error;
        problem = unreachable(url, error);
      }
      if (attempt >= RETRIES || ctx.io.interrupt.aborted) throw problem;
      await sleep(250 * 2 ** attempt);
    }
  }

  const inFlight = new Set<Promise<void>>();
  let fatal: unknown = null;
  try {
    for await (const batch of readBatches(source, start, { events: o.batchSize, bodyBytes: MAX_BODY_BYTES })) {
      const sending = send(batch).then(
        (results) => {
          answered.set(batch.seq, { batch, results });
          commit();
        },
        (error: unknown) => {
          fatal ??= error;
        },
      );
      inFlight.add(sending);
      void sending.finally(() => inFlight.delete(sending));
      while (inFlight.size >= o.concurrency && fatal === null) await Promise.race(inFlight);
      if (fatal !== null || ctx.io.interrupt.aborted) break;
    }
  } finally {
    await Promise.all(inFlight);
    commit(true);
    bar?.stop();
  }

  const seconds = (performance.now() - began) / 1000;
  const rate = Math.round(sentNow / Math.max(seconds, 0.001));
  const cpu = process.cpuUsage();
  const summary = {
    ...counts,
    lines: checkpoint.line,
    sent: sentNow,
    seconds: Math.round(seconds * 1000) / 1000,
    events_per_second: rate,
    // This process's own CPU time: what the CLI costs, apart from the service's speed.
    cpu_seconds: Math.round((cpu.user + cpu.system) / 1000) / 1000,
  };
  const stopped = fatal !== null || ctx.io.interrupt.aborted;
  if (!stopped && checkpointPath !== null) removeCheckpoint(checkpointPath);
  const line =
    `${count(counts.accepted)} accepted, ${count(counts.duplicate)} already recorded, ${count(counts.rejected)} rejected, ` +
    `${count(counts.conflict)} conflicts, ${count(counts.invalid)} invalid lines; ${count(sentNow)} events sent in ${seconds.toFixed(1)} s (${count(rate)} events/s)`;
  if (o.json) ctx.out(JSON.stringify({ ...summary, complete: !stopped }));
  else ctx.out(line);
  if (fatal !== null) {
    if (checkpointPath !== null) {
      // Only an unreachable or failing service goes away by itself; a refused key or batch is refused again.
      const transient = fatal instanceof CliError && fatal.exitCode === EXIT.unavailable;
      ctx.err(
        transient
          ? `stopped after line ${checkpoint.line}; run the same command again to resume`
          : `stopped after line ${checkpoint.line}: the service refused a batch (below); fix that, then run the same command again to resume`,
      );
    }
    throw fatal;
  }
  if (ctx.io.interrupt.aborted) {
    ctx.err(
      checkpointPath === null
        ? `interrupted after line ${checkpoint.line} (no checkpoint for stdin: give --checkpoint PATH to resume)`
        : `interrupted after line ${checkpoint.line}; run the same command again to resume`,
    );
    return EXIT.interrupted;
  }
  return counts.rejected + counts.conflict + counts.invalid > 0 ? EXIT.rejected : EXIT.ok;
}

/** stdin from byte `offset` on: a resume of a piped file skips what was sent before. */
async function* skipBytes(stream: NodeJS.ReadableStream, offset: number): AsyncGenerator<Buffer> {
  let skip = offset;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    if (skip >= bytes.length) {
      skip -= bytes.length;
      continue;
    }
    yield skip > 0 ? bytes.subarray(skip) : bytes;
    skip = 0;
  }
}

function progressBar(ctx: Context, size: number | null): SingleBar {
  const format =
    size === null
      ? 'report | {events} events | {rate} events/s | {duration_formatted}'
      : 'report [{bar}] {percentage}% | {events} events | {rate} events/s | ETA {eta_formatted}';
  return new SingleBar({ format, stream: ctx.io.stderr as NodeJS.WritableStream & { isTTY: boolean }, hideCursor: true, etaBuffer: 50, fps: 5 } as never);
}
