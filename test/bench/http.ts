// A lean keep-alive HTTP client for the load: Node's http.Agent with one socket per concurrent caller,
// bodies sent as ready Buffers, latency taken around the whole request with the high-resolution clock.
import http from 'node:http';

export interface HttpReply {
  status: number;
  body: Buffer;
  /** Milliseconds from writing the request to the last byte of the answer. */
  ms: number;
}

export class HttpClient {
  readonly agent: http.Agent;

  constructor(
    private readonly base: URL,
    sockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'fifo' });
  }

  request(method: string, path: string, options: { key?: string; body?: Buffer | string } = {}): Promise<HttpReply> {
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (options.key) headers.authorization = `Bearer ${options.key}`;
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      payload = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = http.request(
        { host: this.base.hostname, port: this.base.port, method, path, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - started }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A JSON request for set-up: fails loudly on an unexpected status. */
  async json<T = any>(method: string, path: string, key: string, body?: unknown, ok: number[] = [200, 201]): Promise<T> {
    const reply = await this.request(method, path, { key, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = reply.body.toString('utf8');
    if (!ok.includes(reply.status)) throw new Error(`${method} ${path}: HTTP ${reply.status} ${text.slice(0, 500)}`);
    return (text === '' ? null : JSON.parse(text)) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

const STATUS = /"status":"([a-z_]+)"/g;

/** Counts each result's status in an ingest answer without parsing it (the load generator stays cheap). */
export function countStatuses(body: string, into: Map<string, number>): number {
  let n = 0;
  STATUS.lastIndex = 0;
  for (let m = STATUS.exec(body); m !== null; m = STATUS.exec(body)) {
    into.set(m[1]!, (into.get(m[1]!) ?? 0) + 1);
    n++;
  }
  return n;
}
