// The maintenance commands (`npm run rebuild`, `npm run compact`, `npm run migration:run`) as an operator
// runs them, built, beside the built service on its embedded store: refused while the service holds the
// store (two processes writing PGlite's files would corrupt them), run once it stopped; a lock left by a
// killed service is taken over at the next start; arguments and accounts checked before any work.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildIfStale, repoRoot, ServiceProcess } from './support/service-process.js';

const REBUILD = join(repoRoot, 'dist/metering/rebuild/rebuild-cli.js');
const COMPACT = join(repoRoot, 'dist/metering/compaction/compact-cli.js');
const MIGRATE = join(repoRoot, 'dist/src/database/migrate.js');

/** Runs a built command in `cwd` with no configuration (the embedded store in ./.tokenmeter there). */
function run(script: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The last line of a command's output that is its JSON report (log lines are JSON too, with a `level`). */
function report(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  return lines.filter((l) => !('level' in l)).at(-1)!;
}

describe('maintenance commands beside the service on the embedded store', () => {
  const services: ServiceProcess[] = [];
  beforeAll(() => buildIfStale(), 300_000);
  afterAll(async () => {
    for (const s of services) {
      await s.stop('SIGKILL');
      s.remove();
    }
  });

  it('are refused while the service holds the store, naming it, and run once it stopped', async () => {
    const service = await ServiceProcess.start();
    services.push(service);
    const pid = service.child.pid!;
    expect(readFileSync(join(service.dir, '.tokenmeter/tokenmeter.lock'), 'utf8').trim()).toBe(String(pid));
    for (const [script, args, component] of [
      [REBUILD, [], 'tokenmeter rebuild'],
      [COMPACT, ['--all'], 'tokenmeter compact'],
      [MIGRATE, [], 'tokenmeter'],
    ] as const) {
      const refused = await run(script, [...args], service.dir);
      const problem = `the embedded store at ${join(service.dir, '.tokenmeter')} is in use by process ${pid} (a running tokenmeter?): ` +
        'it belongs to one process, so stop that one first, or set DATABASE_URL to share a PostgreSQL server';
      expect({ code: refused.code, stderr: refused.stderr.trim() }).toEqual({ code: 1, stderr: `${component}: ${problem}` });
      // The Nest commands' JSON log line of the failure says what it was (not only the error's own fields).
      if (script !== MIGRATE) expect(refused.stdout).toContain(`"msg":${JSON.stringify(problem)}`);
    }
    expect((await fetch(`${service.url}/health/ready`)).status).toBe(200);

    expect(await service.stop()).toEqual({ code: 143, signal: null }); // 143: ended by SIGTERM, after its shutdown
    expect(existsSync(join(service.dir, '.tokenmeter/tokenmeter.lock'))).toBe(false);
    const compacted = await run(COMPACT, ['--all'], service.dir);
    expect(compacted.code).toBe(0);
    expect(report(compacted.stdout)).toMatchObject({ accounts: 0, skipped: 0, moved: 0 });
    const unknown = await run(REBUILD, ['nope'], service.dir);
    expect({ code: unknown.code, stderr: unknown.stderr.trim() }).toEqual({ code: 1, stderr: 'tokenmeter rebuild: Account "nope" was not found. (account_not_found)' });
  }, 240_000);

  it('a lock left by a killed service is taken over at the next start', async () => {
    const first = await ServiceProcess.start();
    services.push(first);
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const lock = join(first.dir, '.tokenmeter/tokenmeter.lock');
    expect(readFileSync(lock, 'utf8').trim()).toBe(String(first.child.pid));
    const second = await ServiceProcess.start({}, first.dir);
    services.push(second);
    expect(readFileSync(lock, 'utf8').trim()).toBe(String(second.child.pid));
    expect((await fetch(`${second.url}/health/ready`)).status).toBe(200);
  }, 240_000);

  it('rebuild checks its arguments before any work', async () => {
    const cwd = repoRoot;
    const help = await run(REBUILD, ['--help'], cwd);
    expect({ code: help.code, stdout: help.stdout.trim() }).toEqual({ code: 0, stdout: 'usage: npm run rebuild [-- <account>]' });
    for (const args of [['a', 'b'], ['--bogus']]) {
      const bad = await run(REBUILD, args, cwd);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('usage: npm run rebuild [-- <account>]');
    }
  }, 60_000);
});
