// The embedded default: PGlite (PostgreSQL compiled to WebAssembly) on local disk, served on a loopback
// socket so the app talks to it through the same `pg` driver as to a real server. One connection.
//
// PGlite belongs to one process: two processes on the same folder (a running service and
// `npm run rebuild`, or two services) would each write its files and corrupt them. So the folder is locked
// while a store is open: `tokenmeter.lock` names the process holding it, and a second opener is refused
// with that process id. A lock left by a process that died (a crash, a kill -9) is taken over at once;
// stale-by-age locks (proper-lockfile's way) would instead refuse a restart for the stale period.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedStore {
  readonly url: string;
  /** A copy of the store's files as one uncompressed tarball, from which `template` starts another store. */
  dump(): Promise<Blob>;
  stop(): Promise<void>;
}

/** The folder's store is open in another process (or already in this one). */
export class EmbeddedStoreInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      pid === process.pid
        ? `the embedded store at ${dataDir} is already open in this process`
        : `the embedded store at ${dataDir} is in use by ${pid > 0 ? `process ${pid} (a running tokenmeter?)` : 'another process'}: ` +
            'it belongs to one process, so stop that one first, or set DATABASE_URL to share a PostgreSQL server',
    );
    this.name = 'EmbeddedStoreInUseError';
  }
}

/**
 * `dataDir` is a folder on disk, or `memory://` for a throwaway store (tests). A `memory://` store starts
 * from `template` when given, a file written from `dump()`: a copy of a store the tests migrated once,
 * which spares each new store PostgreSQL's initdb and every migration (seconds each; test/support/test-app.ts).
 */
export async function startEmbeddedStore(dataDir: string, template: string | null = null): Promise<EmbeddedStore> {
  let unlock = (): void => {};
  if (!dataDir.startsWith('memory://')) {
    mkdirSync(dataDir, { recursive: true });
    unlock = lockFolder(dataDir);
  }
  let db: PGlite | undefined;
  try {
    const fromTemplate = template !== null && dataDir.startsWith('memory://');
    db = await PGlite.create(dataDir, fromTemplate ? { loadDataDir: new Blob([readFileSync(template)]) } : {});
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0 });
    await server.start();
    const address = (server as unknown as { server?: { address(): AddressInfo | string | null } }).server?.address();
    const port = typeof address === 'object' && address !== null ? address.port : Number(server.getServerConn().split(':')[1]);
    const opened = db;
    return {
      url: `postgresql://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
      dump: () => opened.dumpDataDir('none'),
      async stop() {
        try {
          await server.stop();
          await opened.close();
        } finally {
          unlock();
        }
      },
    };
  } catch (error) {
    await db?.close().catch(() => undefined);
    unlock();
    throw error;
  }
}

/** Folders this process holds (a second open in one process is refused too). */
const held = new Set<string>();

/** Takes the folder's lock or throws EmbeddedStoreInUseError; returns its release. */
export function lockFolder(dataDir: string): () => void {
  const file = join(dataDir, 'tokenmeter.lock');
  if (held.has(file)) throw new EmbeddedStoreInUseError(dataDir, process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      held.add(file);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        held.delete(file);
        rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = holderOf(file);
    if (holder !== null && holder !== process.pid && isAlive(holder)) throw new EmbeddedStoreInUseError(dataDir, holder);
    // Taken again by someone else between our look and our take: they hold it now.
    if (attempt > 0) throw new EmbeddedStoreInUseError(dataDir, holder ?? 0);
    // Left by a process that is gone (or by an earlier life of this pid, as in a container restarted as
    // pid 1), or unreadable: take it over. (Two openers finding the same dead lock in the same instant could
    // both take it; that needs two starts within microseconds after a crash, and is not guarded.)
    rmSync(file, { force: true });
  }
}

function holderOf(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
