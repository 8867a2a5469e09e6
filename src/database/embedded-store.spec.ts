import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStoreInUseError, lockFolder, startEmbeddedStore } from './embedded-store.js';

describe('the embedded store folder lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tokenmeter-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const lockFile = () => join(dir, 'tokenmeter.lock');

  it('names this process in its file, refuses a second open here, and is free again once released', () => {
    const release = lockFolder(dir);
    expect(readFileSync(lockFile(), 'utf8').trim()).toBe(String(process.pid));
    expect(() => lockFolder(dir)).toThrow(new EmbeddedStoreInUseError(dir, process.pid));
    release();
    expect(existsSync(lockFile())).toBe(false);
    lockFolder(dir)();
  });

  it('refuses while another live process holds it, naming that process', async () => {
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      writeFileSync(lockFile(), `${other.pid}\n`);
      expect(() => lockFolder(dir)).toThrow(new EmbeddedStoreInUseError(dir, other.pid!));
      expect(new EmbeddedStoreInUseError(dir, other.pid!).message).toContain(`in use by process ${other.pid}`);
      expect(readFileSync(lockFile(), 'utf8').trim()).toBe(String(other.pid));
    } finally {
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
    }
  });

  it('takes over a lock left by a process that is gone, or one it cannot read', () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    for (const content of [`${gone}\n`, 'not a pid\n', '']) {
      writeFileSync(lockFile(), content);
      const release = lockFolder(dir);
      expect(readFileSync(lockFile(), 'utf8').trim()).toBe(String(process.pid));
      release();
    }
  });
});

describe('an embedded store started from a template', () => {
  it('has what the dumped store had, and is a store of its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenmeter-template-'));
    const template = join(dir, 'template.tar');
    const pg = (await import('pg')).default;
    const query = async (url: string, sql: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sql)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    };
    const first = await startEmbeddedStore('memory://');
    try {
      await query(first.url, "CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)");
      writeFileSync(template, Buffer.from(await (await first.dump()).arrayBuffer()));
    } finally {
      await first.stop();
    }
    const [a, b] = [await startEmbeddedStore('memory://', template), await startEmbeddedStore('memory://', template)];
    try {
      expect(await query(a.url, 'SELECT sum(n)::int AS sum FROM t')).toEqual([{ sum: 3 }]);
      await query(a.url, 'INSERT INTO t VALUES (10)');
      expect(await query(a.url, 'SELECT sum(n)::int AS sum FROM t')).toEqual([{ sum: 13 }]);
      expect(await query(b.url, 'SELECT sum(n)::int AS sum FROM t')).toEqual([{ sum: 3 }]);
    } finally {
      await a.stop();
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
