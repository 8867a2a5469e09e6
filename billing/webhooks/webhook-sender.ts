// The one place a webhook leaves the process: an HTTP(S) POST with Node's own client, no proxy, no
// redirects followed (a 3xx is a failure like any non-2xx), a connect timeout and an overall one, and a
// `lookup` hook that resolves the host and refuses to connect when any address it resolves to is not
// allowed: the check happens on the very addresses the socket connects to, so a name that resolved to a
// public address when the endpoint was created and to a private one now is refused now.
import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AddressPolicy } from './address-policy.js';
import { parseEndpointUrl } from './endpoint-url.js';

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Name to addresses; DNS in production, a fixed table in tests of the connect-time check. */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

export interface SenderTimeouts {
  /** From the start of the attempt to the end of the response. */
  totalMs: number;
  /** From the start of the attempt until the TCP connection is open. */
  connectMs: number;
}

export interface SendOutcome {
  /** The HTTP status, or null when none came back (refused, timed out, not allowed). */
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** The start of the response body, for people reading the delivery log. */
  responseExcerpt: string | null;
}

const EXCERPT_BYTES = 1024;
/** A receiver's answer body is read at most this far; nobody needs more of it. */
const MAX_RESPONSE_BYTES = 64 * 1024;

class AddressNotAllowed extends Error {
  readonly code = 'EWEBHOOKADDRESS';
}

function describeError(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(error);
  switch (e.code) {
    case 'EWEBHOOKADDRESS':
    case 'EWEBHOOKTIMEOUT':
      return message;
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset by the receiver';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    default:
      return (typeof e.code === 'string' ? `${e.code}: ${message}` : message).slice(0, 500);
  }
}

export class WebhookSender {
  constructor(
    private readonly policy: AddressPolicy,
    private readonly timeouts: SenderTimeouts,
    private readonly resolve: Resolver = systemResolver,
  ) {}

  /** Why `host` may not receive webhooks now, or null when it may (each address it resolves to is allowed). */
  async refusal(host: string): Promise<string | null> {
    try {
      await this.allowedAddresses(host);
      return null;
    } catch (error) {
      return describeError(error);
    }
  }

  send(url: string, body: string, headers: Readonly<Record<string, string>>): Promise<SendOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const parsed = parseEndpointUrl(url);
    if (!parsed.ok) return Promise.resolve({ statusCode: null, durationMs: 0, error: `the URL ${parsed.reason}`, responseExcerpt: null });
    const { url: target, host } = parsed;
    if (isIP(host)) {
      // A literal address never goes through `lookup`: check it here.
      const verdict = this.policy.check(host);
      if (!verdict.allowed) return Promise.resolve({ statusCode: null, durationMs: 0, error: verdict.reason, responseExcerpt: null });
    }
    const payload = Buffer.from(body, 'utf8');

    return new Promise<SendOutcome>((resolve) => {
      let statusCode: number | null = null;
      let excerpt = '';
      let settled = false;
      let req: ClientRequest | null = null;
      const timers: NodeJS.Timeout[] = [];
      const settle = (error: string | null) => {
        if (settled) return;
        settled = true;
        for (const timer of timers) clearTimeout(timer);
        req?.destroy();
        resolve({ statusCode, durationMs: elapsed(), error, responseExcerpt: statusCode === null ? null : excerpt });
      };
      const timeout = (onTimeout: () => void, ms: number) => {
        const timer = setTimeout(onTimeout, ms);
        timer.unref();
        timers.push(timer);
        return timer;
      };
      const { totalMs, connectMs } = this.timeouts;
      // Once the status is in, the receiver has answered: a body that never ends does not make it a failure.
      timeout(() => settle(statusCode === null ? `no response within ${totalMs} ms` : null), totalMs);
      const connectTimer = timeout(() => settle(`could not connect within ${connectMs} ms`), connectMs);
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      req = send(
        {
          protocol: target.protocol,
          hostname: host,
          port: target.port === '' ? undefined : Number(target.port),
          path: `${target.pathname}${target.search}`,
          method: 'POST',
          agent: false,
          lookup: this.guardedLookup,
          headers: { ...headers, 'content-length': String(payload.length), connection: 'close' },
        },
        (res: IncomingMessage) => {
          statusCode = res.statusCode ?? null;
          let received = 0;
          res.on('data', (chunk: Buffer) => {
            if (excerpt.length < EXCERPT_BYTES) excerpt = (excerpt + chunk.toString('utf8')).slice(0, EXCERPT_BYTES);
            received += chunk.length;
            if (received > MAX_RESPONSE_BYTES) settle(null);
          });
          res.on('end', () => settle(null));
          res.on('error', (error) => settle(describeError(error)));
          res.on('close', () => settle(null));
        },
      );
      req.on('socket', (socket) => {
        if (!socket.connecting) clearTimeout(connectTimer);
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      req.on('error', (error) => settle(describeError(error)));
      req.end(payload);
    });
  }

  /** Every address `host` resolves to, if all are allowed; throws otherwise. */
  private async allowedAddresses(host: string): Promise<ResolvedAddress[]> {
    const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await this.resolve(host);
    if (addresses.length === 0) throw Object.assign(new Error('host not found'), { code: 'ENOTFOUND' });
    for (const { address } of addresses) {
      const verdict = this.policy.check(address, isIP(host) ? undefined : host);
      if (!verdict.allowed) throw new AddressNotAllowed(verdict.reason);
    }
    return addresses;
  }

  private readonly guardedLookup: LookupFunction = (hostname, options, callback) => {
    this.allowedAddresses(hostname).then(
      (all) => {
        const wanted = options.family === 4 || options.family === 6 ? all.filter((a) => a.family === options.family) : all;
        if (wanted.length === 0) {
          callback(Object.assign(new Error('host not found'), { code: 'ENOTFOUND' }), '', 0);
        } else if (options.all) {
          (callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, wanted);
        } else {
          callback(null, wanted[0]!.address, wanted[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}
