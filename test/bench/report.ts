// The `report` phase: `tokenmeter report FILE` (the built CLI, dist/cli/main.js, as a customer runs it) sends
// a JSON Lines file of the workload's events for one agent to the service; the rate is the CLI's own
// (events answered per second from its first request) and the wall time includes its start. Peak memory
// is the CLI process's VmHWM from /proc, sampled while it runs, to show it stays flat with the file's size.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentOf, batchEvents, type Workload } from './workload.js';

export interface ReportRun {
  events: number;
  fileMiB: number;
  /** The CLI's own rate: events answered per second. */
  rate: number;
  seconds: number;
  wallSeconds: number;
  accepted: number;
  peakRssMiB: number | null;
  /** The CLI's own CPU time, user and system. */
  cpuSeconds: number;
}

const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** Writes `events` events of the workload's first agent as JSON Lines (ids of their own: run + 'r'). */
async function writeFile(path: string, w: Workload, events: number): Promise<void> {
  const out = createWriteStream(path);
  const own: Workload = { ...w, run: `${w.run}r` };
  const agents = w.org.agents.length;
  let written = 0;
  // Batch indices that are multiples of the agent count are the first agent's.
  for (let k = 0; written < events; k++) {
    const batch = batchEvents(own, k * agents);
    if (agentOf(own, k * agents) !== w.org.agents[0]) throw new Error('report bench: batch of another agent');
    const lines = batch.slice(0, events - written).map((e) => JSON.stringify(e));
    written += lines.length;
    if (!out.write(`${lines.join('\n')}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

function vmHwmMiB(pid: number): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export async function runReport(opts: { url: string; agentKey: string; w: Workload; events: number }, log: (line: string) => void): Promise<ReportRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenmeter-report-bench-'));
  try {
    const file = join(dir, 'events.jsonl');
    await writeFile(file, opts.w, opts.events);
    const fileMiB = statSync(file).size / 1024 / 1024;
    log(`report: ${opts.events.toLocaleString('en')} events in ${fileMiB.toFixed(1)} MiB of JSON Lines; tokenmeter report ...`);
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, 'report', file, '--json', '--no-progress'], {
      env: { PATH: process.env.PATH, HOME: dir, TOKENMETER_URL: opts.url, TOKENMETER_KEY: opts.agentKey, TOKENMETER_CONFIG: join(dir, 'none.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let peak: number | null = null;
    const sampler = setInterval(() => {
      const now = vmHwmMiB(child.pid!);
      if (now !== null) peak = Math.max(peak ?? 0, now);
    }, 100);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearInterval(sampler);
    const wallSeconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`tokenmeter report exited ${code}: ${stderr.slice(0, 2000)}`);
    const summary = JSON.parse(stdout.trim().split('\n').pop()!) as {
      accepted: number;
      sent: number;
      seconds: number;
      events_per_second: number;
      cpu_seconds: number;
    };
    return { events: summary.sent, fileMiB, rate: summary.events_per_second, seconds: summary.seconds, wallSeconds, accepted: summary.accepted, peakRssMiB: peak, cpuSeconds: summary.cpu_seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
