// The authorize phase (BENCH_PHASES=authorize): `POST /v1/authorizations` over HTTP, closed loop, at 1, 10
// and 50 concurrent callers, on each counters engine: Redis with PostgreSQL (when REDIS_URL is set),
// PostgreSQL alone, and the embedded store. Each engine gets its own database and service process. Every
// hold goes against two levels (the agent's cap and its external session's cap; budgets add theirs once
// that module lands), with caps far above what the load holds, so every answer is `allowed`.
import { startBare } from './bare-server.js';
import { cpuBetween, cpuSnapshot, describeCpu, type CpuUse } from './cpu.js';
import { HttpClient, type HttpReply } from './http.js';
import { RawConnection, requestBytes } from './raw-http.js';
import { createDatabase, dropDatabase, Service, setUp } from './service.js';
import { ratePerSecond, Samples, type Summary } from './stats.js';
import { makeOrg } from './workload.js';

/**
 * redis: Redis as the service is configured by default (answered once Redis holds it, the row written
 * behind); redis-row: answered after the reservation row is written (TOKENMETER_AUTHORIZE_ANSWER_AFTER=row);
 * redis-early: TOKENMETER_AUTHORIZE_ANSWER_AFTER=redis (the default since write-behind; for older builds);
 * redis-unleased: redis without budget leases (TOKENMETER_AUTHORIZE_LEASE_HOLDS=0), every hold through Redis.
 */
export type AuthorizeStore = 'redis' | 'redis-unleased' | 'redis-row' | 'redis-early' | 'postgres' | 'embedded';
export const AUTHORIZE_STORES: readonly AuthorizeStore[] = ['redis', 'redis-unleased', 'redis-row', 'redis-early', 'postgres', 'embedded'];

const STORE_ENV: Record<AuthorizeStore, Record<string, string>> = {
  redis: {},
  'redis-unleased': { TOKENMETER_AUTHORIZE_LEASE_HOLDS: '0' },
  'redis-row': { TOKENMETER_AUTHORIZE_ANSWER_AFTER: 'row' },
  'redis-early': { TOKENMETER_AUTHORIZE_ANSWER_AFTER: 'redis' },
  postgres: {},
  embedded: {},
};

export type AuthorizeRoute = 'authorize' | 'floor' | 'bare-node' | 'bare-fastify';

/** How a route is named in the log and the report. */
export const ROUTE_TITLES: Record<AuthorizeRoute, string> = {
  authorize: 'POST /v1/authorizations',
  floor: 'GET /health/live (floor)',
  'bare-node': 'bare node:http, same request',
  'bare-fastify': 'bare Fastify, same request',
};

export interface AuthorizeRun {
  store: AuthorizeStore;
  /**
   * `authorize`: POST /v1/authorizations; `floor`: GET /health/live on the same service with the same client and
   * callers (what any route of the service costs here); `bare-node` / `bare-fastify`: the authorize request's
   * bytes to a Node process answering it with nothing behind it, node:http alone or Fastify alone
   * (bare-server.ts): what this machine allows any HTTP route in one Node process.
   */
  route: AuthorizeRoute;
  callers: number;
  requests: number;
  ms: number;
  rate: number;
  latency: Summary;
  statuses: Record<string, number>;
  cpu: CpuUse | null;
  /** Reservation rows per database write (group commit), from the service's /metrics, Redis engine only. */
  rowsPerWrite: number | null;
  /** Holds per tmHold script call (the engine's batches), from the service's /metrics, Redis engine only. */
  holdsPerCall: number | null;
  /** The share of holds answered from budget leases (Redis engines). */
  leased: number | null;
}

export interface AuthorizeOptions {
  databaseUrl: string;
  redisUrl: string | null;
  run: string;
  stores: AuthorizeStore[];
  callers: number[];
  seconds: number;
  warmupSeconds: number;
  serviceArgs: string[];
  /**
   * The load's client: `raw` (default) one net.Socket per caller writing ready request bytes and reading
   * the answer by its Content-Length (test/bench/raw-http.ts); `node` Node's http.Agent (http.ts), the
   * client of runs before 1 December 2026 (BENCH_AUTHORIZE_CLIENT).
   */
  client: 'raw' | 'node';
}

const ALLOWED = Buffer.from('"allowed":true');
const DENIED = Buffer.from('"allowed":false');

/** One caller's way to send its request again: through Node's http.Agent, or its own raw connection. */
type Send = () => Promise<HttpReply>;

function senders(
  client: AuthorizeOptions['client'],
  api: HttpClient,
  base: URL,
  bodies: { key: string; body: Buffer }[],
  callers: number,
  route: AuthorizeRoute,
): { sends: Send[]; close: () => void } {
  if (client === 'node') {
    const sends = Array.from({ length: callers }, (_, c): Send => {
      const { key, body } = bodies[c % bodies.length]!;
      return route === 'floor' ? () => api.request('GET', '/health/live') : () => api.request('POST', '/v1/authorizations', { key, body });
    });
    return { sends, close: () => undefined };
  }
  const connections = Array.from({ length: callers }, () => new RawConnection(base));
  const sends = connections.map((connection, c): Send => {
    const { key, body } = bodies[c % bodies.length]!;
    const bytes = route === 'floor' ? requestBytes(base, 'GET', '/health/live') : requestBytes(base, 'POST', '/v1/authorizations', { key, body });
    return () => connection.request(bytes);
  });
  return { sends, close: () => connections.forEach((c) => c.close()) };
}

async function closedLoop(
  sends: Send[],
  ms: number,
  samples: Samples | null,
  statuses: Map<string, number>,
  route: AuthorizeRoute = 'authorize',
): Promise<{ requests: number; ms: number }> {
  const started = performance.now();
  const until = started + ms;
  let requests = 0;
  await Promise.all(
    sends.map(async (send) => {
      while (performance.now() < until) {
        const reply = await send();
        requests++;
        samples?.add(reply.ms);
        const status =
          reply.status !== 200
            ? `http_${reply.status}`
            : route === 'floor'
              ? 'ok'
              : reply.body.indexOf(ALLOWED) >= 0
                ? 'allowed'
                : reply.body.indexOf(DENIED) >= 0
                  ? 'denied'
                  : 'http_200_unreadable';
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return { requests, ms: performance.now() - started };
}

async function histogramOf(api: HttpClient, name: string): Promise<{ sum: number; count: number } | null> {
  const text = (await api.request('GET', '/metrics')).body.toString('utf8');
  const sum = new RegExp(`^${name}_sum (\\S+)$`, 'm').exec(text);
  const count = new RegExp(`^${name}_count (\\S+)$`, 'm').exec(text);
  return sum && count ? { sum: Number(sum[1]), count: Number(count[1]) } : null;
}

async function counterOf(api: HttpClient, name: string, labels: string): Promise<number> {
  const text = (await api.request('GET', '/metrics')).body.toString('utf8');
  const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

const meanBetween = (a: { sum: number; count: number } | null, b: { sum: number; count: number } | null) =>
  a && b && b.count > a.count ? (b.sum - a.sum) / (b.count - a.count) : null;

/** Where a route's load goes: its address, the process whose CPU is counted as the service's, and a client for it. */
interface Target {
  url: URL;
  pid: number | undefined;
  api: HttpClient;
}

/** One route at one caller count: warm-up, then the measured closed loop, with the service's own counters around it. */
async function measure(
  opts: AuthorizeOptions,
  store: AuthorizeStore,
  route: AuthorizeRoute,
  callers: number,
  target: Target,
  service: HttpClient,
  bodies: { key: string; body: Buffer }[],
): Promise<AuthorizeRun> {
  const statuses = new Map<string, number>();
  const load = senders(opts.client, target.api, target.url, bodies, callers, route);
  await closedLoop(load.sends, opts.warmupSeconds * 1000, null, new Map(), route);
  const counted = route === 'authorize';
  const rowsBefore = counted ? await histogramOf(service, 'tokenmeter_authorization_group_rows') : null;
  const batchesBefore = counted ? await histogramOf(service, 'tokenmeter_authorization_hold_batch') : null;
  const leasedBefore = counted ? await counterOf(service, 'tokenmeter_authorization_leases_total', 'outcome="answered"') : 0;
  const samples = new Samples(1 << 16);
  const start = cpuSnapshot(target.pid);
  const result = await closedLoop(load.sends, opts.seconds * 1000, samples, statuses, route);
  const cpu = cpuBetween(start, cpuSnapshot(target.pid));
  load.close();
  const rowsPerWrite = meanBetween(rowsBefore, counted ? await histogramOf(service, 'tokenmeter_authorization_group_rows') : null);
  const holdsPerCall = meanBetween(batchesBefore, counted ? await histogramOf(service, 'tokenmeter_authorization_hold_batch') : null);
  const leased =
    counted && store.startsWith('redis')
      ? ((await counterOf(service, 'tokenmeter_authorization_leases_total', 'outcome="answered"')) - leasedBefore) / Math.max(1, result.requests)
      : null;
  return {
    store,
    route,
    callers,
    requests: result.requests,
    ms: result.ms,
    rate: ratePerSecond(result.requests, result.ms),
    latency: samples.summary(),
    statuses: Object.fromEntries(statuses),
    cpu,
    rowsPerWrite,
    holdsPerCall,
    leased,
  };
}

export async function runAuthorize(opts: AuthorizeOptions, log: (line: string) => void): Promise<AuthorizeRun[]> {
  const out: AuthorizeRun[] = [];
  for (const store of opts.stores) {
    const dbName = `tokenmeter_bench_${opts.run}_authz_${store}`;
    const dbUrl = store === 'embedded' ? null : await createDatabase(opts.databaseUrl, dbName);
    let service: Service | null = null;
    let api: HttpClient | null = null;
    try {
      service = await Service.start({
        databaseUrl: dbUrl,
        redisUrl: store.startsWith('redis') ? opts.redisUrl : null,
        env: STORE_ENV[store],
        queuePrefix: `{tmbench_${opts.run}_${store}}`,
        nodeArgs: opts.serviceArgs,
      });
      api = new HttpClient(service.url, Math.max(...opts.callers));
      const org = makeOrg('bench-authz');
      const monthStart = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1));
      const keys = await setUp(api, service.adminKey, org, monthStart);
      const caps = `/v1/accounts/${org.account}/caps`;
      await api.json('PUT', `${caps}/sessions/external`, service.adminKey, { amount_limit: '1000000000' });
      for (const a of org.agents) await api.json('PUT', `${caps}/agents/${a.id}`, service.adminKey, { amount_limit: '1000000000' });
      // One body per caller: its agent's key, its own external session; held 30 s, then expired lazily.
      const bodies = Array.from({ length: Math.max(...opts.callers) }, (_, c) => ({
        key: keys.agents[c % keys.agents.length]!,
        body: Buffer.from(JSON.stringify({ amount: '0.0125', session_id: `bench-session-${c}`, session_context: 'external', expires_in_seconds: 30 })),
      }));
      log(`authorize on ${store}: service up (pid ${service.child.pid}); 2 levels per hold (agent cap, external session cap); client ${opts.client}`);
      // The floors, measured once, on the first engine, before its authorizations, with the same client and
      // callers: the authorize request's bytes to a bare node:http and a bare Fastify process (what this machine
      // allows any route in one Node process), then this service answering GET /health/live (no key, no store).
      const routes: AuthorizeRoute[] = store === opts.stores[0] ? ['bare-node', 'bare-fastify', 'floor', 'authorize'] : ['authorize'];
      for (const route of routes) {
        const bare = route === 'bare-node' ? await startBare('node-http') : route === 'bare-fastify' ? await startBare('fastify') : null;
        const target: Target = bare
          ? { url: bare.url, pid: bare.child.pid, api: new HttpClient(bare.url, Math.max(...opts.callers)) }
          : { url: service.url, pid: service.child.pid, api };
        try {
          for (const callers of opts.callers) {
            const run = await measure(opts, store, route, callers, target, api, bodies);
            out.push(run);
            log(
              `${route === 'authorize' ? 'authorize' : ROUTE_TITLES[route]} ${store}, ${callers} callers: ${Math.round(run.rate).toLocaleString('en')}/s, p50 ${run.latency.p50.toFixed(2)} ms, ` +
                `p99 ${run.latency.p99.toFixed(2)} ms, ${JSON.stringify(run.statuses)}${run.rowsPerWrite ? `, ${run.rowsPerWrite.toFixed(1)} rows per write` : ''}${run.holdsPerCall ? `, ${run.holdsPerCall.toFixed(1)} holds per Redis call` : ''}${run.leased !== null ? `, ${(run.leased * 100).toFixed(1)}% from leases` : ''}; CPU: ${describeCpu(run.cpu)}`,
            );
            if (!service.alive) throw new Error('the service died during the load');
          }
        } finally {
          if (bare) {
            target.api.close();
            await bare.stop();
          }
        }
      }
    } finally {
      api?.close();
      await service?.stop();
      if (dbUrl) await dropDatabase(opts.databaseUrl, dbName).catch((e: unknown) => log(`could not drop ${dbName}: ${(e as Error).message}`));
    }
  }
  return out;
}
