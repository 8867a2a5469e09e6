// A leaner load generator for closed loops of one small request after another on a keep-alive socket
// (the authorize phase and its floor): each caller owns one TCP connection and one request, serialised
// to bytes once (request line, headers and body); an answer is read by its status line and its
// Content-Length, nothing else. Node's http.Agent and IncomingMessage cost ~40 us of CPU per request on
// the two CPUs the service shares with the load (BENCHMARKS.md); this costs a fraction of that, so a
// bench measures more of the service and less of its client. Latency is taken as in http.ts: from
// writing the request to the last byte of the answer. An answer without Content-Length (chunked) is an
// error: the routes measured this way always send one.
import net from 'node:net';
import type { HttpReply } from './http.js';

const HEADER_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

/** The bytes of one HTTP/1.1 request, ready to be written again and again. */
export function requestBytes(base: URL, method: string, path: string, options: { key?: string; body?: Buffer } = {}): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${base.host}`, 'accept: application/json', 'connection: keep-alive'];
  if (options.key) lines.push(`authorization: Bearer ${options.key}`);
  if (options.body) lines.push('content-type: application/json', `content-length: ${options.body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return options.body ? Buffer.concat([head, options.body]) : head;
}

/** One keep-alive connection carrying one request at a time. */
export class RawConnection {
  private readonly socket: net.Socket;
  private readonly ready: Promise<void>;
  private chunks: Buffer[] = [];
  private received = 0;
  /** Header length (through the blank line) and the answer's full length, once the head has arrived. */
  private head = -1;
  private total = -1;
  private status = 0;
  private waiting: { started: number; resolve: (r: HttpReply) => void; reject: (e: Error) => void } | null = null;
  /** Whether the answer's body is kept (or only counted: no Buffer per answer, see request). */
  private keep = true;

  constructor(base: URL) {
    this.socket = net.connect({ host: base.hostname, port: Number(base.port), noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('the connection closed')));
  }

  /**
   * `keepBody` false: the answer's bytes are counted, not kept (its body is empty). Joining a 170 KB answer
   * into one Buffer per reading is memory outside V8's heap, and it made this process run a mark-compact
   * every ~100 ms, each a pause inside the latency being measured (BENCHMARKS.md, stop 22).
   */
  async request(bytes: Buffer, keepBody = true): Promise<HttpReply> {
    await this.ready;
    if (this.waiting) throw new Error('one request at a time on a RawConnection');
    this.keep = keepBody;
    return new Promise((resolve, reject) => {
      this.waiting = { started: performance.now(), resolve, reject };
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.keep || this.head < 0) this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.head < 0) {
      const all = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
      this.chunks = [all];
      const end = all.indexOf(HEADER_END);
      if (end < 0) return;
      this.head = end + 4;
      const headText = all.toString('latin1', 0, end);
      this.status = Number(headText.slice(9, 12));
      const length = CONTENT_LENGTH.exec(headText);
      if (!length) {
        this.fail(new Error(`an answer without content-length: ${headText.slice(0, 200)}`));
        return;
      }
      this.total = this.head + Number(length[1]);
      if (!this.keep) this.chunks = [];
    }
    if (this.received < this.total) return;
    if (this.received > this.total) {
      this.fail(new Error('more bytes than one answer: a closed loop sends one request at a time'));
      return;
    }
    const body = !this.keep ? EMPTY : (this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)).subarray(this.head);
    const waiting = this.waiting;
    const reply: HttpReply = { status: this.status, body, ms: waiting ? performance.now() - waiting.started : 0 };
    this.chunks = [];
    this.received = 0;
    this.head = -1;
    this.total = -1;
    this.waiting = null;
    waiting?.resolve(reply);
  }

  private fail(error: Error): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.reject(error);
  }
}

/** HttpClient's request() over one RawConnection: a closed loop of one request after another (the readings). */
export class RawClient {
  private readonly connection: RawConnection;

  constructor(private readonly base: URL) {
    this.connection = new RawConnection(base);
  }

  request(method: string, path: string, options: { key?: string; body?: Buffer; keepBody?: boolean } = {}): Promise<HttpReply> {
    return this.connection.request(requestBytes(this.base, method, path, options), options.keepBody ?? true);
  }

  close(): void {
    this.connection.close();
  }
}
