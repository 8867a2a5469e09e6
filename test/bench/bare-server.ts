// The machine's own floor for the authorize phase: a Node process that answers the authorize request with
// nothing behind it, so a run shows what this machine allows any HTTP route in one Node process before the
// service does anything (BENCHMARKS.md, stop 26). Two kinds, each run as a child process of the bench and
// driven by the same client, callers and request bytes as POST /v1/authorizations:
// - `node-http`: node:http alone; the body is read and parsed as JSON, a fixed JSON answer is sent;
// - `fastify`: Fastify with its default JSON parser and serializer, one route, no hooks, no logger.
// The child prints its port on stdout once it listens and exits on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

export type BareKind = 'node-http' | 'fastify';
export const BARE_KINDS: readonly BareKind[] = ['node-http', 'fastify'];

/** An answer of the size and shape of an allowed hold's first line: what the bench's client checks. */
const ANSWER = { allowed: true, reservation_id: 'res_bare', expires_at: '2026-01-01T00:00:00.000Z' };

async function listenNodeHttp(): Promise<number> {
  const bytes = Buffer.from(JSON.stringify(ANSWER));
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        if (chunks.length > 0) JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        response.writeHead(400, { 'content-length': 0 }).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': bytes.length });
      response.end(bytes);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function listenFastify(): Promise<number> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  app.post('/v1/authorizations', async () => ANSWER);
  app.get('/health/live', async () => ({ status: 'ok' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as { port: number }).port;
}

/** A bare server as a child process of the bench, and its URL once it listens. */
export async function startBare(kind: BareKind): Promise<{ child: ChildProcess; url: URL; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the bare ${kind} server exited (${code}) before it listened`)));
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString('utf8').trim())));
  });
  child.removeAllListeners('exit');
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return { child, url: new URL(`http://127.0.0.1:${port}`), stop };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const kind = process.argv[2] as BareKind;
  if (!BARE_KINDS.includes(kind)) {
    process.stderr.write(`usage: bare-server.js ${BARE_KINDS.join('|')}\n`);
    process.exit(2);
  }
  process.on('SIGTERM', () => process.exit(0));
  const port = kind === 'fastify' ? await listenFastify() : await listenNodeHttp();
  process.stdout.write(`${port}\n`);
}
