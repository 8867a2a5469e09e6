// A local fake of the few Stripe API endpoints tokenmeter uses, for the real SDK to talk to through
// STRIPE_API_BASE: a real HTTP server on 127.0.0.1 (random port) that speaks Stripe's wire format
// (form-encoded bodies with bracketed keys, JSON answers, Stripe's error shape), honours Idempotency-Key
// (the same key gets the first answer again, for 24 hours at Stripe: `forgetIdempotencyKeys` plays that
// out), can be told to fail (503, a dropped connection before or after doing the work, no answer at
// all), and records every call. Not a Stripe emulator: objects have the fields we read and little more.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Failure = 503 | 'drop' | 'lose-answer' | 'hang';

export interface Call {
  method: string;
  path: string;
  /** The decoded form body (or query, for GET). */
  params: Record<string, any>;
  idempotencyKey: string | null;
  /** 'replayed' when an idempotency key was seen before and its first answer was sent again. */
  outcome: number | Failure | 'replayed';
}

interface Stored {
  status: number;
  body: string;
}

type Json = Record<string, any>;

/**
 * Stripe's form encoding back to objects: `metadata[a]=1&lines[0][amount]=5` becomes
 * `{ metadata: { a: '1' }, lines: [{ amount: '5' }] }` (values stay strings, as on the wire).
 */
export function decodeForm(text: string): Json {
  const out: Json = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const parts = rawKey.split(/[[\]]+/).filter((p) => p !== '');
    let node: any = out;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(parts[i + 1]!);
      if (last) node[part] = value;
      else node = node[part] ??= nextIsIndex ? [] : {};
    });
  }
  return out;
}

function id(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

export class FakeStripe {
  readonly calls: Call[] = [];
  readonly customers = new Map<string, Json>();
  readonly invoices = new Map<string, Json>();
  readonly items = new Map<string, Json>();
  private readonly idempotent = new Map<string, Stored>();
  private readonly failures: { match: (method: string, path: string, params: Json) => boolean; failure: Failure; sticky: boolean }[] = [];
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => this.handle(req, res, body));
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** The next `times` calls to exactly `method` and `path` (or a RegExp), with params `when` accepts, fail this way. */
  fail(failure: Failure, method: string, path: string | RegExp, times = 1, when: (params: Json) => boolean = () => true): void {
    const match = (m: string, p: string, params: Json) => m === method && (typeof path === 'string' ? p === path : path.test(p)) && when(params);
    for (let i = 0; i < times; i++) this.failures.push({ match, failure, sticky: false });
  }

  /** Every call fails this way until `recover` (Stripe is down). */
  down(failure: Failure = 503): void {
    this.failures.push({ match: () => true, failure, sticky: true });
  }

  recover(): void {
    this.failures.length = 0;
  }

  /** Stripe keeps an idempotency key for 24 hours; after that the same key makes a new object. */
  forgetIdempotencyKeys(): void {
    this.idempotent.clear();
  }

  callsTo(method: string, path: string | RegExp): Call[] {
    return this.calls.filter((c) => c.method === method && (typeof path === 'string' ? c.path === path : path.test(c.path)));
  }

  /** What a customer paying would do: the invoice is paid (as `POST /v1/invoices/:id/pay` does). */
  pay(invoiceId: string): Json {
    return this.payInvoice(this.invoices.get(invoiceId)!);
  }

  /** A Stripe event about an invoice, with its state now as the snapshot (what Stripe would send). */
  event(type: string, invoice: Json, overrides: Json = {}): Json {
    return {
      id: id('evt'),
      object: 'event',
      api_version: '2026-10-28.endive',
      created: Math.floor(Date.now() / 1000),
      type,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      data: { object: structuredClone(invoice) },
      ...overrides,
    };
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const params = method === 'GET' ? decodeForm(url.search.slice(1)) : decodeForm(body);
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
    const call: Call = { method, path, params, idempotencyKey: key, outcome: 0 };
    this.calls.push(call);

    const index = this.failures.findIndex((f) => f.match(method, path, params));
    const failure = index === -1 ? null : this.failures[index]!;
    if (failure && !failure.sticky) this.failures.splice(index, 1);
    if (failure?.failure === 'hang') {
      call.outcome = 'hang';
      return;
    }
    if (failure?.failure === 'drop') {
      call.outcome = 'drop';
      req.socket.destroy();
      return;
    }
    if (failure?.failure === 503) {
      call.outcome = 503;
      this.send(res, { status: 503, body: JSON.stringify({ error: { type: 'api_error', message: 'Stripe is having trouble (fake).' } }) });
      return;
    }

    const stored = method === 'POST' && key !== null ? this.idempotent.get(key) : undefined;
    let answer: Stored;
    if (stored) {
      answer = stored;
      call.outcome = 'replayed';
    } else {
      answer = this.route(method, path, params);
      if (method === 'POST' && key !== null && answer.status < 500) this.idempotent.set(key, answer);
      call.outcome = answer.status;
    }
    if (failure?.failure === 'lose-answer') {
      // The work is done (and remembered under its key); the answer never arrives.
      call.outcome = 'lose-answer';
      req.socket.destroy();
      return;
    }
    this.send(res, answer);
  }

  private send(res: ServerResponse, answer: Stored): void {
    res.writeHead(answer.status, { 'content-type': 'application/json', 'request-id': id('req') }).end(answer.body);
  }

  private route(method: string, path: string, params: Json): Stored {
    const ok = (object: Json) => ({ status: 200, body: JSON.stringify(object) });
    const list = (data: Json[]) => ok({ object: 'list', data, has_more: false, url: path });
    const missing = (what: string) => ({
      status: 404,
      body: JSON.stringify({ error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${what}` } }),
    });
    const invalid = (message: string) => ({ status: 400, body: JSON.stringify({ error: { type: 'invalid_request_error', message } }) });
    const newestFirst = (objects: Iterable<Json>) => [...objects].reverse();

    let m: RegExpExecArray | null;
    if (method === 'POST' && path === '/v1/customers') {
      const customer = { id: id('cus'), object: 'customer', created: Math.floor(Date.now() / 1000), name: params.name ?? null, metadata: params.metadata ?? {} };
      this.customers.set(customer.id, customer);
      return ok(customer);
    }
    if (method === 'GET' && path === '/v1/customers') return list(newestFirst(this.customers.values()).slice(0, Number(params.limit ?? 10)));
    if (method === 'POST' && path === '/v1/invoices') {
      if (!this.customers.has(params.customer)) return missing(`customer: '${params.customer}'`);
      const invoice = {
        id: id('in'),
        object: 'invoice',
        customer: params.customer,
        currency: params.currency,
        description: params.description ?? null,
        collection_method: params.collection_method ?? 'charge_automatically',
        days_until_due: params.days_until_due === undefined ? null : Number(params.days_until_due),
        auto_advance: params.auto_advance === 'true',
        metadata: params.metadata ?? {},
        status: 'draft',
        total: 0,
        amount_due: 0,
        amount_paid: 0,
        attempt_count: 0,
        hosted_invoice_url: null,
        status_transitions: { finalized_at: null, paid_at: null, voided_at: null, marked_uncollectible_at: null },
        created: Math.floor(Date.now() / 1000),
      };
      this.invoices.set(invoice.id, invoice);
      return ok(invoice);
    }
    if (method === 'GET' && path === '/v1/invoices') {
      const all = newestFirst(this.invoices.values()).filter((i) => params.customer === undefined || i.customer === params.customer);
      return list(all.slice(0, Number(params.limit ?? 10)));
    }
    if ((m = /^\/v1\/invoices\/([^/]+)$/.exec(path)) && method === 'GET') {
      const invoice = this.invoices.get(m[1]!);
      return invoice ? ok(invoice) : missing(`invoice: '${m[1]}'`);
    }
    if ((m = /^\/v1\/invoices\/([^/]+)\/(finalize|pay|void)$/.exec(path)) && method === 'POST') {
      const invoice = this.invoices.get(m[1]!);
      if (!invoice) return missing(`invoice: '${m[1]}'`);
      const now = Math.floor(Date.now() / 1000);
      if (m[2] === 'finalize') {
        if (invoice.status !== 'draft') return invalid(`This invoice is already finalized.`);
        invoice.status = 'open';
        invoice.total = invoice.amount_due = this.itemsOf(invoice.id).reduce((s, i) => s + i.amount, 0);
        invoice.status_transitions.finalized_at = now;
        invoice.hosted_invoice_url = `https://invoice.stripe.test/${invoice.id}`;
        if (params.auto_advance !== undefined) invoice.auto_advance = params.auto_advance === 'true';
        // Stripe marks an invoice with nothing to collect paid at once.
        if (invoice.amount_due <= 0) this.payInvoice(invoice);
        return ok(invoice);
      }
      if (m[2] === 'pay') {
        if (invoice.status !== 'open') return invalid(`Invoice is ${invoice.status}; only an open invoice can be paid.`);
        return ok(this.payInvoice(invoice));
      }
      if (invoice.status !== 'open' && invoice.status !== 'uncollectible') return invalid(`You can only void an open or uncollectible invoice.`);
      invoice.status = 'void';
      invoice.status_transitions.voided_at = now;
      return ok(invoice);
    }
    if (method === 'POST' && path === '/v1/invoiceitems') {
      const invoice = this.invoices.get(params.invoice);
      if (!invoice) return missing(`invoice: '${params.invoice}'`);
      if (invoice.status !== 'draft') return invalid('Invoice items can only be added to a draft invoice.');
      if (!/^-?\d+$/.test(String(params.amount))) return invalid(`Invalid integer: ${params.amount}`);
      const item = {
        id: id('ii'),
        object: 'invoiceitem',
        customer: params.customer,
        invoice: params.invoice,
        amount: Number(params.amount),
        currency: params.currency,
        description: params.description ?? null,
        metadata: params.metadata ?? {},
      };
      this.items.set(item.id, item);
      return ok(item);
    }
    if (method === 'GET' && path === '/v1/invoiceitems') return list(newestFirst(this.itemsOf(params.invoice)));
    return { status: 404, body: JSON.stringify({ error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path})` } }) };
  }

  private itemsOf(invoiceId: string): Json[] {
    return [...this.items.values()].filter((i) => i.invoice === invoiceId);
  }

  private payInvoice(invoice: Json): Json {
    invoice.status = 'paid';
    invoice.amount_paid = invoice.amount_due;
    invoice.attempt_count += 1;
    invoice.status_transitions.paid_at = Math.floor(Date.now() / 1000);
    return invoice;
  }
}
