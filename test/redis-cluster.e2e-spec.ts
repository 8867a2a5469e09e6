// The service on a Redis Cluster (REDIS_CLUSTER=true, REDIS_URL one node of it): a real three-node cluster
// started here from the machine's redis-server, the counters of accounts spread over its nodes, holds that
// never pass a hard limit, an event's commit, a cluster-wide FLUSH rebuilt from PostgreSQL, jobs on BullMQ
// and the live meter's pub/sub. Runs where the suite runs on PostgreSQL and Redis and redis-server is
// installed (.ci/run's first part).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Injectable, Module } from '@nestjs/common';
import { Cluster } from 'ioredis';
import { COUNTERS_ENGINE, type CountersEngine } from '../billing/authorizations/counters.js';
import { accountKeys } from '../billing/authorizations/redis-scripts.js';
import { MeterStreamService } from '../metering/stream/meter-stream.service.js';
import { ManualClock } from '../src/clock/clock.js';
import { defineJob, JobHandler, JobQueue } from '../src/jobs/jobs.js';
import { JobsService } from '../src/jobs/jobs.service.js';
import { putBudget } from './support/budgets.js';
import { newOrg, startTestApp, type TestApp } from './support/test-app.js';

const NOW = '2026-03-15T12:00:00.000Z';
const hasServer = spawnSync('redis-server', ['--version']).status === 0;
const run = process.env.DATABASE_URL && process.env.REDIS_URL && hasServer ? describe : describe.skip;

const ping = defineJob<{ n: number }>('test.cluster-ping');

@Injectable()
class Pings {
  readonly seen: number[] = [];
  @JobHandler(ping)
  async ping(payload: { n: number }): Promise<void> {
    this.seen.push(payload.n);
  }
}

@Module({ providers: [Pings] })
class PingsModule {}

/** A port free for a node and for its cluster bus (the port + 10000). */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await Promise.all([port, port + 10_000].map((p) => new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(p, '127.0.0.1', () => server.close(() => resolve(true)));
    })));
    if (free.every(Boolean)) return port;
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

run('on a Redis Cluster', () => {
  const nodes: ChildProcess[] = [];
  let dir: string;
  let ports: number[];
  let t: TestApp;
  let clock: ManualClock;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tm-cluster-'));
    ports = [];
    for (let i = 0; i < 3; i++) ports.push(await freePort());
    for (const port of ports) {
      const node = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--dir', dir, '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' },
      );
      nodes.push(node);
    }
    await until(() => ports.every((p) => spawnSync('redis-cli', ['-p', String(p), 'ping']).stdout?.toString().trim() === 'PONG'), 'the nodes to answer');
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    expect(created.status).toBe(0);
    await until(() => ports.every((p) => /cluster_state:ok/.test(spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info']).stdout?.toString() ?? '')), 'the cluster to be ok');
    clock = new ManualClock(NOW);
    t = await startTestApp({ clock, extraModules: [PingsModule], env: { REDIS_URL: `redis://127.0.0.1:${ports[0]}`, REDIS_CLUSTER: 'true' } });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    for (const node of nodes) node.kill('SIGTERM');
    await Promise.all(nodes.map((n) => new Promise((r) => (n.exitCode !== null ? r(null) : n.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds exactly what fits on accounts spread over the nodes, commits an event, and rebuilds after a FLUSH', async () => {
    expect(t.app.get<CountersEngine>(COUNTERS_ENGINE).kind).toBe('redis');
    const cluster = new Cluster([{ host: '127.0.0.1', port: ports[0]! }]);
    try {
      await cluster.ping();
      // Accounts until their counters live on more than one node (each account's keys share one slot).
      const namespace = t.config.queuePrefix.replace(/[{}]/g, '');
      const nodeOf = (account: string) => {
        const slot = Number(spawnSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'keyslot', accountKeys(namespace, account)[0]!]).stdout.toString().trim());
        return cluster.slots[slot]![0]!;
      };
      const orgs = [await newOrg(t)];
      while (new Set(orgs.map((o) => nodeOf(o.account))).size < 2) orgs.push(await newOrg(t));
      for (const o of orgs) await putBudget(t, o.account, `budget/person:${o.person}/month:2026-03-01`, { amount: '5.00' });
      // 200 concurrent holds of 0.10 against each 5.00 budget: exactly 50 each.
      const answers = await Promise.all(orgs.map((o) => Promise.all(Array.from({ length: 200 }, () => t.post('/v1/authorizations', { amount: '0.10' }, o.keys.agent)))));
      for (const list of answers) expect(list.filter((a) => a.body.allowed === true).length).toBe(50);
      // An event commits one of them at its actual cost.
      const o = orgs[0]!;
      const reservation = answers[0]!.find((a) => a.body.allowed)!.body.reservation_id as string;
      await putModelAndBook(t);
      const event = await t.post('/v1/events', { events: [{ id: 'c-1', timestamp: NOW, model: 'cl-model', usage: { input: 1000, output: 0 }, reservation_id: reservation }] }, o.keys.agent);
      expect(event.body.results[0]).toMatchObject({ status: 'accepted', reservation: { id: reservation, outcome: 'committed' } });
      const level = `budget/person:${o.person}/month:2026-03-01`;
      const before = await t.app.get<CountersEngine>(COUNTERS_ENGINE).read(o.account, [level], clock.now());
      // Every node flushed: the counters are rebuilt from PostgreSQL before they answer, to the same figures.
      for (const p of ports) spawnSync('redis-cli', ['-p', String(p), 'flushall']);
      const after = await t.app.get<CountersEngine>(COUNTERS_ENGINE).read(o.account, [level], clock.now());
      expect(after).toEqual(before);
      expect((await t.post('/v1/authorizations', { amount: '0.10' }, o.keys.agent)).body.allowed).toBe(after[0]!.left.amount !== null && Number(after[0]!.left.amount) >= 0.1);
    } finally {
      cluster.disconnect();
    }
  }, 120_000);

  it('runs jobs on BullMQ and carries the live meter over the cluster', async () => {
    expect(t.app.get(JobsService).backendKind).toBe('redis');
    await t.app.get(JobQueue).enqueue(ping, { n: 7 });
    const pings = t.app.get(Pings);
    await until(() => pings.seen.includes(7), 'the job to run');
    const stream = t.app.get(MeterStreamService);
    const got: string[] = [];
    const subscription = stream.subscribe('acct-cluster', { person: null, visible: null }, (e) => got.push(e.id));
    try {
      await subscription.ready;
      stream.publish('acct-cluster', { id: 'op-1' } as never);
      await until(() => got.includes('op-1'), 'the operation to arrive');
    } finally {
      subscription();
    }
  }, 60_000);
});

async function putModelAndBook(t: TestApp): Promise<void> {
  expect((await t.request('PUT', '/v1/models/cl-model', { body: { tier: 'base', provider: 'test' } })).status).toBe(200);
  const book = await t.post('/v1/price-books', {
    effective_from: '2026-01-01T00:00:00Z',
    correction: true,
    reason: 'cluster test',
    tiers: { base: { input: '1.00', output: '2.00' }, specialized: { input: '1.00', output: '2.00' }, premier: { input: '1.00', output: '2.00' } },
  });
  expect([201, 409]).toContain(book.status);
}
