// The embedded default: PGlite (PostgreSQL compiled to WebAssembly) on local disk, served on a loopback
// socket so the app talks to it through the same `pg` driver as to a real server. One connection.
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedStore {
  readonly url: string;
  stop(): Promise<void>;
}

/** `dataDir` is a folder on disk, or `memory://` for a throwaway store (tests). */
export async function startEmbeddedStore(dataDir: string): Promise<EmbeddedStore> {
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0 });
  await server.start();
  const address = (server as unknown as { server?: { address(): AddressInfo | string | null } }).server?.address();
  const port = typeof address === 'object' && address !== null ? address.port : Number(server.getServerConn().split(':')[1]);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
