// Where an interrupted `report` resumes: the last line (and byte offset past it) up to which every batch
// was answered, with counts so far. Written atomically (a temporary file renamed over it) after each
// answered batch; removed when the file is done. It names the file it belongs to by path and a digest of
// the file's first bytes, so a checkpoint is never applied to another file.
import { createHash } from 'node:crypto';
import { existsSync, openSync, readFileSync, readSync, closeSync, renameSync, rmSync, writeFileSync } from 'node:fs';

export interface Counts {
  accepted: number;
  /** Sent before (an earlier, interrupted run): the service answered `duplicate` and counted them once. */
  duplicate: number;
  rejected: number;
  conflict: number;
  /** Lines that were not a JSON object, never sent. */
  invalid: number;
}

export interface Checkpoint {
  version: 1;
  file: string;
  head: string;
  line: number;
  offset: number;
  counts: Counts;
}

export const zeroCounts = (): Counts => ({ accepted: 0, duplicate: 0, rejected: 0, conflict: 0, invalid: 0 });

const HEAD_BYTES = 64 * 1024;

/** A digest of the first 64 KiB of a file (all of it when smaller). */
export function headDigest(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(HEAD_BYTES);
    const read = readSync(fd, buffer, 0, HEAD_BYTES, 0);
    return createHash('sha256').update(buffer.subarray(0, read)).digest('hex');
  } finally {
    closeSync(fd);
  }
}

export function loadCheckpoint(path: string): Checkpoint | null {
  if (!existsSync(path)) return null;
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Checkpoint;
  if (parsed.version !== 1 || !Number.isSafeInteger(parsed.line) || !Number.isSafeInteger(parsed.offset)) {
    throw new Error(`${path} is not a tokenmeter report checkpoint`);
  }
  return parsed;
}

export function saveCheckpoint(path: string, checkpoint: Checkpoint): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(checkpoint)}\n`);
  renameSync(temporary, path);
}

export function removeCheckpoint(path: string): void {
  rmSync(path, { force: true });
}
