// Every Redis connection of the service is made here, from REDIS_URL: one server, or, with REDIS_CLUSTER,
// a Redis Cluster that the URL names one node of (the client finds the others and follows the slots as
// they move). Everything the service keeps in Redis is laid out for a cluster already: the counters of an
// account share one hash tag (billing/authorizations/redis-scripts.ts, accountKeys), the job queue's keys
// the queue prefix's (TOKENMETER_QUEUE_PREFIX, `{tokenmeter}`), and pub/sub channels are cluster-wide.
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface RedisTarget {
  url: string;
  cluster: boolean;
}

/** The connection options a URL carries (credentials, TLS for `rediss:`, the database of a single server). */
export function urlOptions(url: string): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: u.port === '' ? 6379 : Number(u.port),
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

export function redisClient(target: RedisTarget, options: RedisOptions = {}): RedisClient {
  if (!target.cluster) return new Redis(target.url, options);
  const { host, port, ...credentials } = urlOptions(target.url);
  const { enableAutoPipelining, ...perNode } = options;
  return new Cluster([{ host: host!, port: port! }], {
    redisOptions: { ...credentials, ...perNode },
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
  });
}
