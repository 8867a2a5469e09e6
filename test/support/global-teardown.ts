// Drops what this run created: its databases and its queue keys on the shared servers, its embedded store copy.
import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const run = process.env.TOKENMETER_TEST_RUN;
  if (!run) return;
  // The migrated embedded store the run's apps started from (test-app.ts).
  if (process.env.TOKENMETER_TEST_TEMPLATE) rmSync(process.env.TOKENMETER_TEST_TEMPLATE, { force: true });
  if (process.env.DATABASE_URL) {
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [
        `${run}%`,
      ]);
      for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  }
  if (process.env.REDIS_URL) {
    const { Redis } = await import('ioredis');
    const redis = new Redis(process.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `{${run}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  }
}
