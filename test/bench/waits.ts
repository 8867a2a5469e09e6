// What the service's database connections were doing during a phase, sampled from pg_stat_activity:
// running, waiting on a lock or on WAL, or idle in a transaction while the service works between statements.
import pg from 'pg';

export interface WaitSampler {
  /** Stops counting samples until resume() (between the slices of a phase). */
  pause(): void;
  resume(): void;
  stop(): Promise<Record<string, number>>;
}

/** Samples every `everyMs` the non-idle backends of `database` (other than the sampler); shares of samples. */
export function sampleWaits(adminUrl: string, database: string, everyMs = 100, paused = false): WaitSampler {
  const client = new pg.Client({ connectionString: adminUrl });
  const counts = new Map<string, number>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    await client.connect();
    while (running) {
      if (paused) {
        await new Promise((r) => setTimeout(r, everyMs));
        continue;
      }
      const { rows } = await client.query<{ what: string; n: number }>(
        `SELECT CASE WHEN state = 'active' AND wait_event IS NULL THEN 'active: on CPU'
                     WHEN state = 'active' THEN 'active: ' || wait_event_type || '/' || wait_event
                     WHEN state LIKE 'idle in transaction%' THEN 'idle in transaction (waiting for the service)'
                     ELSE state END AS what, count(*)::int AS n
           FROM pg_stat_activity
          WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'
          GROUP BY 1`,
        [database],
      );
      samples++;
      for (const r of rows) counts.set(r.what, (counts.get(r.what) ?? 0) + r.n);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
    },
    async stop() {
      running = false;
      await loop.catch(() => undefined);
      await client.end().catch(() => undefined);
      // Average number of connections in each state per sample.
      return Object.fromEntries(
        [...counts.entries()]
          .map(([k, v]) => [k, Math.round((v / Math.max(1, samples)) * 100) / 100] as const)
          .filter(([, v]) => v >= 0.01)
          .sort((a, b) => b[1] - a[1]),
      );
    },
  };
}
