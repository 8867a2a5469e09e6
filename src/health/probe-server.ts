// A worker's own small HTTP listener (`npm run worker` with TOKENMETER_WORKER_PORT): what operators point
// at every process, and nothing else. GET /health/live (the process is up), GET /health/ready (the
// database and Redis answer; 503 when one does not) and GET /metrics (the job runs this worker did, the
// shared queue, the process). No API route and no key: it belongs on a port only the cluster reaches, as
// the API's own /metrics does. node:http, not Fastify with Nest: three fixed answers, no body to parse.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplicationContext } from '@nestjs/common';
import type { Logger } from 'pino';
import { HealthChecks } from './health-checks.js';
import { Metrics } from './metrics.js';

const ROUTES = ['/health/live', '/health/ready', '/metrics'] as const;

export interface ProbeServer {
  readonly port: number;
  /** Stops listening and ends its connections (a request being answered finishes first). */
  close(): Promise<void>;
}

function send(response: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers });
  response.end(body);
}

function sendError(response: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: { code, message, request_id: randomUUID() } });
  send(response, status, body, 'application/json; charset=utf-8', headers);
}

async function answer(request: IncomingMessage, response: ServerResponse, checks: HealthChecks, metrics: Metrics): Promise<void> {
  const path = (request.url ?? '/').split('?', 1)[0]!;
  if (!(ROUTES as readonly string[]).includes(path)) {
    sendError(response, 404, 'route_not_found', `Cannot ${request.method} ${path}. A worker answers GET ${ROUTES.join(', ')}.`);
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    sendError(response, 405, 'method_not_allowed', `${path} takes GET.`, { allow: 'GET, HEAD' });
    return;
  }
  if (path === '/health/live') {
    send(response, 200, JSON.stringify({ status: 'ok' }), 'application/json; charset=utf-8');
  } else if (path === '/health/ready') {
    const readiness = await checks.readiness();
    send(response, readiness.status === 'ok' ? 200 : 503, JSON.stringify(readiness), 'application/json; charset=utf-8');
  } else {
    let text: string;
    try {
      text = await metrics.registry.metrics();
    } catch {
      sendError(response, 503, 'metrics_unavailable', 'Metrics could not be collected; try again.');
      return;
    }
    send(response, 200, text, metrics.registry.contentType);
  }
}

/** Listens on `host`:`port` (0: a port the system picks) and logs where, as the API process does. */
export async function listenForProbes(app: INestApplicationContext, logger: Logger, host: string, port: number): Promise<ProbeServer> {
  const checks = app.get(HealthChecks);
  const metrics = app.get(Metrics);
  const server: Server = createServer((request, response) => {
    answer(request, response, checks, metrics).catch((error: unknown) => {
      logger.error({ err: error, url: request.url }, 'probe request failed');
      if (!response.headersSent) sendError(response, 500, 'internal', 'Something went wrong on our side.');
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.info(`Server listening at http://${shown}:${address.port}`);
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
