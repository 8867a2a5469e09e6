// The built `tokenmeter` CLI as tests run it: a child process with exactly the environment given, and the
// built service it talks to, started fresh (on a new database of DATABASE_URL when set, the embedded
// store otherwise; with REDIS_URL, on a queue prefix of its own).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, ServiceProcess } from './service-process.js';
import { createTestDatabase, testRunId } from './test-app.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const CLI = join(repoRoot, 'dist/cli/main.js');

/** Runs the built CLI as a child process with exactly this environment and this stdin. */
export function runCli(args: string[], env: Record<string, string>, stdin = ''): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(stdin);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The built service for CLI tests, with `admin` as its operator key and `env` besides. */
export async function startCliService(admin: string, name: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  // LOG_LEVEL stays info: ServiceProcess finds the port in the "Server listening" line.
  const serviceEnv: Record<string, string> = { TOKENMETER_ADMIN_KEY: admin, ...env };
  if (process.env.DATABASE_URL) serviceEnv.DATABASE_URL = await createTestDatabase();
  if (process.env.REDIS_URL) {
    serviceEnv.REDIS_URL = process.env.REDIS_URL;
    serviceEnv.TOKENMETER_QUEUE_PREFIX = `{${testRunId()}_${name}_${process.pid}}`;
  }
  return ServiceProcess.start(serviceEnv);
}
