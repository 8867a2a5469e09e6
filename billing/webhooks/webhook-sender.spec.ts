// The sender against real HTTP servers on loopback addresses. Names are resolved by a fixed table (DNS
// is outside the machine), which is what lets a name "change" from an allowed address to a refused one.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AddressPolicy } from './address-policy.js';
import { WebhookSender, type Resolver } from './webhook-sender.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

async function receiver(host: string, respond: (res: ServerResponse) => void = (res) => res.end('ok')): Promise<{ server: Server; port: number; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      respond(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as AddressInfo).port, got };
}

const table: Record<string, { address: string; family: number }[]> = {
  'hooks.test': [{ address: '127.0.0.1', family: 4 }],
  'rebound.test': [{ address: '127.0.0.2', family: 4 }],
  'mixed.test': [
    { address: '127.0.0.1', family: 4 },
    { address: '10.1.2.3', family: 4 },
  ],
};
const resolver: Resolver = async (host) => table[host] ?? [];

describe('webhook sender', () => {
  const servers: Server[] = [];
  const policy = new AddressPolicy(['127.0.0.1/32']);
  const sender = new WebhookSender(policy, { totalMs: 300, connectMs: 300 }, resolver);

  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  async function start(host: string, respond?: (res: ServerResponse) => void) {
    const r = await receiver(host, respond);
    servers.push(r.server);
    return r;
  }

  it('posts the body and headers, and reads the status and the start of the answer', async () => {
    const r = await start('127.0.0.1', (res) => res.writeHead(202).end('thanks'));
    const outcome = await sender.send(`http://127.0.0.1:${r.port}/hook?x=1`, '{"a":1}', { 'content-type': 'application/json', 'tokenmeter-event-id': 'evt_1' });
    expect(outcome).toMatchObject({ statusCode: 202, error: null, responseExcerpt: 'thanks' });
    expect(r.got).toHaveLength(1);
    expect(r.got[0]).toMatchObject({ body: '{"a":1}', headers: { 'content-type': 'application/json', 'tokenmeter-event-id': 'evt_1' } });
  });

  it('connects to the address its own lookup allowed', async () => {
    const r = await start('127.0.0.1');
    const outcome = await sender.send(`http://hooks.test:${r.port}/`, 'x', {});
    expect(outcome).toMatchObject({ statusCode: 200, error: null });
    expect(r.got).toHaveLength(1);
  });

  it('refuses, without connecting, a literal address the policy does not allow', async () => {
    const other = await start('127.0.0.2');
    const outcome = await sender.send(`http://127.0.0.2:${other.port}/`, 'x', {});
    expect(outcome.statusCode).toBeNull();
    expect(outcome.error).toMatch(/address 127\.0\.0\.2 is loopback, not a public address/);
    expect(other.got).toHaveLength(0);
  });

  it('refuses a name that now resolves to a refused address, and one with any refused address among its answers', async () => {
    const other = await start('127.0.0.2');
    const rebound = await sender.send(`http://rebound.test:${other.port}/`, 'x', {});
    expect(rebound).toMatchObject({ statusCode: null, error: expect.stringMatching(/^rebound\.test resolves to 127\.0\.0\.2, which is loopback, not a public address/) });
    const mine = await start('127.0.0.1');
    const mixed = await sender.send(`http://mixed.test:${mine.port}/`, 'x', {});
    expect(mixed).toMatchObject({ statusCode: null, error: expect.stringMatching(/^mixed\.test resolves to 10\.1\.2\.3, which is private/) });
    expect(other.got).toHaveLength(0);
    expect(mine.got).toHaveLength(0);
    expect(await sender.refusal('rebound.test')).toMatch(/loopback/);
    expect(await sender.refusal('hooks.test')).toBeNull();
    expect(await sender.refusal('nowhere.test')).toBe('host not found');
  });

  it('does not follow a redirect', async () => {
    const target = await start('127.0.0.1');
    const r = await start('127.0.0.1', (res) => res.writeHead(307, { location: `http://127.0.0.1:${target.port}/` }).end());
    const outcome = await sender.send(`http://127.0.0.1:${r.port}/`, 'x', {});
    expect(outcome.statusCode).toBe(307);
    expect(target.got).toHaveLength(0);
  });

  it('gives up on a receiver that never answers', async () => {
    const r = await start('127.0.0.1', () => undefined);
    const outcome = await sender.send(`http://127.0.0.1:${r.port}/`, 'x', {});
    expect(outcome).toMatchObject({ statusCode: null, error: 'no response within 300 ms' });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(290);
    expect(r.got).toHaveLength(1);
  });

  it('says when nobody listens', async () => {
    const r = await start('127.0.0.1');
    const port = r.port;
    await new Promise((done) => r.server.close(done));
    const outcome = await sender.send(`http://127.0.0.1:${port}/`, 'x', {});
    expect(outcome).toMatchObject({ statusCode: null, error: 'connection refused' });
  });
});
