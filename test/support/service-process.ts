// The built service as an operator runs it: `node dist/src/main.js` in a folder of its own (so the
// embedded store and the admin key land in ./.tokenmeter there), on a port the system picks, with its
// JSON log lines collected. Built first when the build is stale, as `npm start` does.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** `node scripts/build.mjs`: builds only when an input changed since the last build. */
export function buildIfStale(): void {
  const run = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the build failed:\n${run.stdout}\n${run.stderr}`);
}

export class ServiceProcess {
  readonly lines: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
  ) {
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const complete = pending.split('\n');
      pending = complete.pop()!;
      for (const line of complete) {
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.stderr.push(line);
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString('utf8')));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /**
   * Starts the service with no configuration but a port of the system's choosing, and waits until it listens;
   * in `dir` when given (a restart on the same embedded store), else in a new folder. `entry`: the built
   * script, `dist/src/worker.js` for `npm run worker` (which listens only with TOKENMETER_WORKER_PORT).
   */
  static async start(
    env: Record<string, string> = {},
    dir = mkdtempSync(join(tmpdir(), 'tokenmeter-service-')),
    entry = 'dist/src/main.js',
  ): Promise<ServiceProcess> {
    const child = spawn(process.execPath, [join(repoRoot, entry)], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service = new ServiceProcess(child, dir);
    const deadline = Date.now() + 120_000;
    while (service.port === null) {
      if (child.exitCode !== null) throw new Error(`the service exited at start: ${service.stderr.join('')}`);
      if (Date.now() > deadline) throw new Error('the service did not listen within 120 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    return service;
  }

  /** The port from Fastify's "Server listening at http://127.0.0.1:<port>" line. */
  get port(): number | null {
    for (const line of this.lines) {
      const match = /^Server listening at http:\/\/127\.0\.0\.1:(\d+)$/.exec(String(line.msg));
      if (match) return Number(match[1]);
    }
    return null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get adminKey(): string {
    return readFileSync(join(this.dir, '.tokenmeter/admin-key'), 'utf8').trim();
  }

  /** Sends the signal and waits for the process to end. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
