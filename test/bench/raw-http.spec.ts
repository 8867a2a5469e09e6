import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RawConnection, requestBytes } from './raw-http.js';

/** A local server: echoes what it was sent, in one write or split across several, or chunked. */
async function server(): Promise<{ base: URL; seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[]; close: () => Promise<void> }> {
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const s = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const answer = Buffer.from(JSON.stringify({ allowed: true, echo: body, pad: 'x'.repeat(req.url === '/big' ? 200_000 : 10) }));
      if (req.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(answer.subarray(0, 5));
        res.end(answer.subarray(5));
        return;
      }
      res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json', 'content-length': answer.length });
      if (req.url === '/split') {
        res.write(answer.subarray(0, 3));
        setTimeout(() => res.end(answer.subarray(3)), 5);
      } else res.end(answer);
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const base = new URL(`http://127.0.0.1:${(s.address() as AddressInfo).port}`);
  return { base, seen, close: () => new Promise((resolve) => s.close(() => resolve())) };
}

describe('the lean bench client', () => {
  it('sends the same request again and again on one connection and reads each answer whole', async () => {
    const srv = await server();
    const conn = new RawConnection(srv.base);
    try {
      const body = Buffer.from(JSON.stringify({ amount: '0.0125' }));
      const post = requestBytes(srv.base, 'POST', '/v1/authorizations', { key: 'tm_test_k', body });
      for (let i = 0; i < 3; i++) {
        const reply = await conn.request(post);
        expect(reply.status).toBe(200);
        expect(JSON.parse(reply.body.toString('utf8'))).toMatchObject({ allowed: true, echo: '{"amount":"0.0125"}' });
        expect(reply.ms).toBeGreaterThan(0);
      }
      expect(srv.seen).toHaveLength(3);
      expect(srv.seen[0]).toMatchObject({ method: 'POST', url: '/v1/authorizations', body: '{"amount":"0.0125"}' });
      expect(srv.seen[0]!.headers).toMatchObject({ authorization: 'Bearer tm_test_k', 'content-type': 'application/json', 'content-length': String(body.length) });
      // An answer split across writes, a large one over many packets, another status: each read whole.
      const split = await conn.request(requestBytes(srv.base, 'GET', '/split'));
      expect(JSON.parse(split.body.toString('utf8'))).toMatchObject({ allowed: true });
      const big = await conn.request(requestBytes(srv.base, 'GET', '/big'));
      expect((JSON.parse(big.body.toString('utf8')) as { pad: string }).pad).toHaveLength(200_000);
      expect((await conn.request(requestBytes(srv.base, 'GET', '/missing'))).status).toBe(404);
      // Bodies only counted: each answer still read to its last byte (the next one on the connection is whole).
      for (const path of ['/big', '/split', '/missing']) {
        const counted = await conn.request(requestBytes(srv.base, 'GET', path), false);
        expect({ path, status: counted.status, body: counted.body.length }).toEqual({ path, status: path === '/missing' ? 404 : 200, body: 0 });
      }
      const after = await conn.request(requestBytes(srv.base, 'GET', '/big'));
      expect((JSON.parse(after.body.toString('utf8')) as { pad: string }).pad).toHaveLength(200_000);
    } finally {
      conn.close();
      await srv.close();
    }
  });

  it('refuses an answer without content-length rather than guessing where it ends', async () => {
    const srv = await server();
    const conn = new RawConnection(srv.base);
    try {
      await expect(conn.request(requestBytes(srv.base, 'GET', '/chunked'))).rejects.toThrow(/without content-length/);
    } finally {
      conn.close();
      await srv.close();
    }
  });
});
