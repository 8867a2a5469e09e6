// A write whose answer the network loses, through the built `tokenmeter` CLI: a proxy between the CLI and
// the service passes each request on and drops the connection as the answer starts, so the service has
// done the write and the CLI never hears of it. The CLI sends it again with the same Idempotency-Key
// (client/client.ts, resending) and the service does it once: one hold, not two. The issue of a key is
// not sent again (its secret is never kept), so it fails as unreachable.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ManualClock } from '../src/clock/clock.js';
import { putBudget } from './support/budgets.js';
import { setupPricing } from './support/metering.js';
import { runCli } from './support/cli.js';
import { buildIfStale } from './support/service-process.js';
import { newOrg, startListeningAppWithoutJobs, type TestApp } from './support/test-app.js';

/** A proxy to `port` that loses the answer of the next `lose` connections (each carries one request here). */
async function lossyProxy(port: number): Promise<{ url: string; lose: (n: number) => void; lost: () => number; close: () => Promise<void> }> {
  let toLose = 0;
  let lost = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    const drop = toLose > 0;
    if (drop) toLose--;
    client.on('error', () => undefined);
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    if (drop) {
      upstream.once('data', () => {
        lost++;
        client.destroy();
        upstream.destroy();
      });
    } else {
      upstream.pipe(client);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    lose: (n) => void (toLose = n),
    lost: () => lost,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('the CLI when the network loses an answer', () => {
  let t: TestApp;
  let proxy: Awaited<ReturnType<typeof lossyProxy>>;
  let dir: string;
  const clock = new ManualClock('2026-03-15T12:00:00.000Z');

  beforeAll(async () => {
    buildIfStale();
    const started = await startListeningAppWithoutJobs(clock);
    t = started.t;
    proxy = await lossyProxy(Number(new URL(started.url).port));
    dir = mkdtempSync(join(tmpdir(), 'tokenmeter-cli-resend-'));
  }, 300_000);
  afterAll(async () => {
    await proxy?.close();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const env = (key: string) => ({ PATH: process.env.PATH!, HOME: dir, TOKENMETER_CONFIG: join(dir, 'config.json'), TOKENMETER_URL: proxy.url, TOKENMETER_KEY: key });

  it('sends an authorization again with its key: the service holds it once', async () => {
    const o = await newOrg(t);
    await setupPricing(t, o.account);
    await putBudget(t, o.account, `budget/person:${o.person}/month:2026-03-01`, { amount: '1.00' });
    proxy.lose(1);
    const run = await runCli(['authorize', '--amount', '0.60', '--json'], env(o.keys.agent));
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect(proxy.lost()).toBe(1);
    const answer = JSON.parse(run.stdout) as { allowed: boolean; reservation_id: string };
    expect(answer.allowed).toBe(true);
    // The first send held 0.60 and its answer was lost; the second got that answer again. Held twice,
    // 0.40 would be left, and the second send itself would have been denied.
    const next = await t.post('/v1/authorizations', { amount: '0.40' }, o.keys.agent);
    expect(next.body.allowed).toBe(true);
    expect((await t.post('/v1/authorizations', { amount: '0.01' }, o.keys.agent)).body).toMatchObject({ allowed: false });
    const rows = (await t.app.get(DataSource).query('SELECT status FROM idempotency_keys WHERE request = $1', ['POST /v1/authorizations'])) as { status: number }[];
    expect(rows.map((r) => r.status)).toContain(200);
  });

  it('sends a promotional grant and a unit again with their keys: each is made once', async () => {
    const o = await newOrg(t);
    proxy.lose(1);
    const lostBefore = proxy.lost();
    const grant = await runCli(['credits', 'grant', '--account', o.account, '--amount', '5.00', '--reason', 'lost once', '--json'], env(t.adminKey));
    expect([grant.code, grant.stderr]).toEqual([0, '']);
    expect(proxy.lost()).toBe(lostBefore + 1);
    const credits = (await t.request('GET', `/v1/accounts/${o.account}/credits`)).body as { grants: { id: string; kind: string }[] };
    expect(credits.grants.filter((g) => g.kind === 'promotional').map((g) => g.id)).toEqual([JSON.parse(grant.stdout).id]);

    proxy.lose(1);
    const unit = await runCli(['units', 'create', 'lost-once', '--account', o.account, '--name', 'Lost once', '--kind', 'team'], env(t.adminKey));
    expect([unit.code, unit.stderr]).toEqual([0, '']);
    expect(proxy.lost()).toBe(lostBefore + 2);
    const units = (await t.request('GET', `/v1/accounts/${o.account}/units`)).body as { data: { id: string }[] };
    expect(units.data.filter((u) => u.id === 'lost-once')).toHaveLength(1);
  });

  it('does not send a key issue again: its answer holds a secret the service never keeps', async () => {
    const o = await newOrg(t);
    proxy.lose(1);
    const lostBefore = proxy.lost();
    const run = await runCli(['keys', 'create', '--role', 'finance', '--account', o.account, '--name', 'lost'], env(t.adminKey));
    expect(run.code).toBe(7);
    expect(run.stderr).toMatch(/cannot reach the service/);
    expect(proxy.lost()).toBe(lostBefore + 1);
  });
});
