// Where the CPU went during a phase (Linux /proc): the service process, PostgreSQL's processes, Redis and
// the load generator itself, so a rate can be read against what was saturated. Elsewhere: nothing.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface CpuSnapshot {
  at: number;
  service: number;
  postgres: number;
  redis: number;
  bench: number;
}

export interface CpuUse {
  /** Wall seconds, and CPU seconds per party (2 CPUs busy for 10 s = 20). */
  wall: number;
  service: number;
  postgres: number;
  redis: number;
  bench: number;
  cpus: number;
}

function processCpu(stat: string): { comm: string; ppid: number; seconds: number } | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const fields = stat.slice(close + 2).split(' ');
  // After "(comm) ": state is field 3 of the full line, ppid 4, utime 14 and stime 15 (1-based).
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return { comm, ppid: Number(fields[1]), seconds: (utime + stime) / TICKS_PER_SECOND };
}

export function cpuSnapshot(servicePid: number | undefined): CpuSnapshot | null {
  if (process.platform !== 'linux') return null;
  let service = 0;
  let postgres = 0;
  let redis = 0;
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // gone
      }
      const p = processCpu(stat);
      if (!p) continue;
      // The service, and its workers when it runs several (TOKENMETER_WORKERS).
      if (Number(entry) === servicePid || (servicePid !== undefined && p.ppid === servicePid)) service += p.seconds;
      else if (p.comm === 'postgres' || p.comm.startsWith('postgres:')) postgres += p.seconds;
      else if (p.comm.startsWith('redis-server')) redis += p.seconds;
    }
  } catch {
    return null;
  }
  const own = process.cpuUsage();
  return { at: performance.now(), service, postgres, redis, bench: (own.user + own.system) / 1e6 };
}

export function cpuBetween(a: CpuSnapshot | null, b: CpuSnapshot | null): CpuUse | null {
  if (!a || !b) return null;
  return {
    wall: (b.at - a.at) / 1000,
    service: b.service - a.service,
    // Connections that ended within the phase take their CPU with them; the phases keep theirs open.
    postgres: Math.max(0, b.postgres - a.postgres),
    redis: b.redis - a.redis,
    bench: b.bench - a.bench,
    cpus: os.availableParallelism(),
  };
}

/** The CPU use of two spans of time (e.g. the slices of one phase) as one. */
export function addCpu(a: CpuUse | null, b: CpuUse | null): CpuUse | null {
  if (!a) return b;
  if (!b) return a;
  return {
    wall: a.wall + b.wall,
    service: a.service + b.service,
    postgres: a.postgres + b.postgres,
    redis: a.redis + b.redis,
    bench: a.bench + b.bench,
    cpus: a.cpus,
  };
}

/** "service 45%, postgres 40%, redis 1%, load 8% of 2 CPUs" */
export function describeCpu(u: CpuUse | null): string {
  if (!u || u.wall <= 0) return 'n/a';
  const pct = (s: number) => `${Math.round((100 * s) / (u.wall * u.cpus))}%`;
  return `service ${pct(u.service)}, postgres ${pct(u.postgres)}, redis ${pct(u.redis)}, load generator ${pct(u.bench)} of ${u.cpus} CPUs`;
}
