// The system under test: a fresh database on the configured server, the built service started as a child
// process on it, and the organisation the load reports for, set up through the public API only.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { HttpClient } from './http.js';
import { MODELS, PRICES, type Org } from './workload.js';

export function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function adminQuery(base: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createDatabase(base: string, name: string): Promise<string> {
  const url = databaseUrl(base, name);
  await adminQuery(base, `CREATE DATABASE "${name}"`);
  return url;
}

export async function dropDatabase(base: string, name: string): Promise<void> {
  await adminQuery(base, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The node flags `npm start` runs the service with (its `start` script, before the entry point), so the bench
 * measures the service as operators run it (a V8 flag such as `--max-semi-space-size` changes readings' tails
 * and ingest's CPU alike: BENCHMARKS.md).
 */
export function startFlags(startScript: string): string[] {
  const words = startScript.trim().split(/\s+/);
  if (words[0] !== 'node') throw new Error(`the start script does not run node: "${startScript}"`);
  const main = words.indexOf('dist/src/main.js');
  if (main < 0) throw new Error(`the start script does not run dist/src/main.js: "${startScript}"`);
  return words.slice(1, main);
}

/** From the package.json above this file: dist/test/bench when built, test/bench in the sources. */
function npmStartFlags(): string[] {
  for (const up of ['../../../package.json', '../../package.json']) {
    const file = fileURLToPath(new URL(up, import.meta.url));
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; scripts?: { start?: string } };
    if (pkg.name === 'tokenmeter' && pkg.scripts?.start) return startFlags(pkg.scripts.start);
  }
  throw new Error('no package.json with a start script above the bench');
}


export class Service {
  private exited: { code: number | null; signal: string | null } | null = null;
  private stopping = false;

  private constructor(
    readonly child: ChildProcess,
    readonly url: URL,
    readonly adminKey: string,
    private readonly dataDir: string,
    /** Where its counters and jobs live (its keys are removed when it stops), or null. */
    private readonly redis: { url: string; prefix: string } | null,
  ) {
    child.once('exit', (code, signal) => {
      this.exited = { code, signal };
      if (!this.stopping) console.error(`bench: the service exited unexpectedly (code ${code}, signal ${signal})`);
    });
  }

  /** Starts dist/src/main.js (built next to this file's dist/test/bench) and waits for /health/ready. */
  /** `databaseUrl` null: the embedded store, in the service's own temporary data folder. */
  static async start(options: { databaseUrl: string | null; redisUrl: string | null; queuePrefix: string; nodeArgs?: string[]; env?: Record<string, string> }): Promise<Service> {
    const main = fileURLToPath(new URL('../../src/main.js', import.meta.url));
    const port = await freePort();
    const adminKey = randomBytes(30).toString('base64url').slice(0, 40);
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tokenmeter-bench-'));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      TOKENMETER_ADMIN_KEY: adminKey,
      TOKENMETER_DATA_DIR: dataDir,
      TOKENMETER_QUEUE_PREFIX: options.queuePrefix,
      LOG_LEVEL: 'warn',
    };
    // The service's own settings given to the bench (TOKENMETER_KEY_CACHE_MS=0, say) reach every service it starts.
    for (const [name, value] of Object.entries(process.env)) {
      if (name.startsWith('TOKENMETER_') && !(name in env) && value !== undefined) env[name] = value;
    }
    if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
    Object.assign(env, options.env);
    if (options.redisUrl) env.REDIS_URL = options.redisUrl;
    const child = spawn(process.execPath, [...npmStartFlags(), ...(options.nodeArgs ?? []), main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const prefix = (chunk: Buffer) => process.stderr.write(chunk.toString('utf8').replace(/^(?=.)/gm, '[service] '));
    child.stdout!.on('data', prefix);
    child.stderr!.on('data', prefix);
    const service = new Service(child, new URL(`http://127.0.0.1:${port}`), adminKey, dataDir, options.redisUrl ? { url: options.redisUrl, prefix: options.queuePrefix } : null);
    const client = new HttpClient(service.url, 1);
    try {
      const deadline = Date.now() + 180_000;
      for (;;) {
        if (service.exited) throw new Error(`the service exited during start (code ${service.exited.code})`);
        try {
          const reply = await client.request('GET', '/health/ready');
          if (reply.status === 200) break;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error('the service was not ready within 180 s');
        await sleep(200);
      }
    } catch (error) {
      await service.stop();
      throw error;
    } finally {
      client.close();
    }
    return service;
  }

  get alive(): boolean {
    return this.exited === null;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.exited === null) {
      const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
    if (this.redis) await removeKeys(this.redis.url, this.redis.prefix);
  }
}

/**
 * Removes a stopped service's keys from Redis, as its database is dropped: its jobs (`{ns}:...`) and its
 * counters (`{ns:acct:...}...`), where `ns` is its queue prefix without braces. Without this every
 * authorize run left ~190,000 reservation entries behind (the Redis of a day of runs grew past 750 MB).
 */
export async function removeKeys(redisUrl: string, queuePrefix: string): Promise<number> {
  const ns = queuePrefix.replace(/[{}]/g, '');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let removed = 0;
  try {
    await redis.connect();
    for (const match of [`{${ns}}*`, `{${ns}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) removed += await redis.unlink(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
  return removed;
}

/** `node dist/metering/rebuild/rebuild-cli.js <account>` (what `npm run rebuild` runs) on the bench database. */
export async function runRebuild(databaseUrl: string, account: string): Promise<string> {
  const cli = fileURLToPath(new URL('../../metering/rebuild/rebuild-cli.js', import.meta.url));
  const child = spawn(process.execPath, [cli, account], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', TOKENMETER_API_RUNS_JOBS: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  if (code !== 0) throw new Error(`rebuild exited with ${code}: ${err.slice(-1000)}`);
  return out.trim();
}

export interface Keys {
  finance: string;
  /** A member's key (the first person): sees their own usage and their unit's. */
  member: string;
  /** One agent key per agent of the org, in org.agents order. */
  agents: string[];
}

/** Catalog, price book, plan, account, subscription, org tree and keys, through the public API. */
export async function setUp(client: HttpClient, admin: string, org: Org, monthStart: Date): Promise<Keys> {
  for (const m of MODELS) {
    await client.json('PUT', `/v1/models/${m.id}`, admin, { tier: m.tier, provider: m.provider, aliases: m.aliases });
  }
  const previousMonth = new Date(Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() - 1, 1));
  await client.json('POST', '/v1/price-books', admin, {
    effective_from: previousMonth.toISOString(),
    correction: true,
    reason: 'benchmark prices from before the events',
    tiers: PRICES,
  });
  await client.json('PUT', '/v1/plans/bench', admin, {
    name: 'Benchmark',
    currency: 'EUR',
    base_fee: '100.00',
    included_allowance: '1000000.00',
    overage_policy: 'bill',
  });
  await client.json('POST', '/v1/accounts', admin, { id: org.account, name: 'Benchmark account', currency: 'EUR', paid_enterprise: false });
  await client.json('PUT', `/v1/accounts/${org.account}/subscription`, admin, {
    plan_id: 'bench',
    start_date: monthStart.toISOString().slice(0, 10),
    billing_anchor_day: 1,
  });
  for (const unit of org.units) {
    await client.json('POST', `/v1/accounts/${org.account}/units`, admin, { id: unit, name: unit, kind: 'team' });
  }
  for (const p of org.people) {
    await client.json('POST', `/v1/accounts/${org.account}/people`, admin, { id: p.id, name: p.id, unit_id: p.unit });
  }
  const agents: string[] = [];
  for (const a of org.agents) {
    await client.json('POST', `/v1/accounts/${org.account}/agents`, admin, { id: a.id, name: a.id, owner_person_id: a.person });
    const key = await client.json<{ secret: string }>('POST', '/v1/api-keys', admin, { role: 'agent', account: org.account, agent_id: a.id, name: `bench ${a.id}` });
    agents.push(key.secret);
  }
  const finance = await client.json<{ secret: string }>('POST', '/v1/api-keys', admin, { role: 'finance', account: org.account, name: 'bench finance' });
  const member = await client.json<{ secret: string }>('POST', '/v1/api-keys', admin, {
    role: 'member',
    account: org.account,
    person_id: org.people[0]!.id,
    name: 'bench member',
  });
  return { finance: finance.secret, member: member.secret, agents };
}

/** New keys for the org of a database an earlier run set up (BENCH_DATABASE): the admin key is new with each service. */
export async function newKeys(client: HttpClient, admin: string, org: Org): Promise<Keys> {
  const key = async (body: Record<string, string>) => (await client.json<{ secret: string }>('POST', '/v1/api-keys', admin, { account: org.account, ...body })).secret;
  const agents: string[] = [];
  for (const a of org.agents) agents.push(await key({ role: 'agent', agent_id: a.id, name: `bench ${a.id}` }));
  return {
    finance: await key({ role: 'finance', name: 'bench finance' }),
    member: await key({ role: 'member', person_id: org.people[0]!.id, name: 'bench member' }),
    agents,
  };
}
