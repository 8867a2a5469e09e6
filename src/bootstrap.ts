// Builds the HTTP application (used by main.ts and by the tests): Fastify with pino logs and request
// ids, the request guards, the error format, metrics hooks, OpenAPI at /docs and /docs-json, the web
// console's static files at /console, and what a graceful shutdown waits for.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger, type RawBodyRequest } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import { AppModule, type AppOptions } from './app.module.js';
import { RequestError } from './http/domain-error.js';
import { errorResponse } from './http/http-exception.filter.js';
import { completeDocument } from './http/openapi.js';
import { ApiRoutes } from './http/route-hints.js';
import { Metrics } from './health/metrics.js';
import { ShutdownReport } from './lifecycle/shutdown-report.js';
import {
  checkParams,
  checkQuery,
  clientErrorResponse,
  jsonBodyText,
  MAX_PARAM_LENGTH,
  routerError,
} from './http/request-guards.js';
import type { Logger as Pino } from 'pino';
import { createPino, PinoNestLogger } from './logging.js';

/** The largest request body accepted (a full event batch fits with room to spare). */
export const BODY_LIMIT_BYTES = 4 * 1024 * 1024;

/**
 * The built web console (scripts/build.mjs writes it to dist/console, beside dist/src), or null when
 * there is none: run from the sources (tests), this is console/, which holds only its sources.
 */
export function consoleDir(): string | null {
  const dir = fileURLToPath(new URL('../console/', import.meta.url));
  return existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'assets')) ? dir : null;
}

/** The app's pino logger: Fastify logs through the one createApp gave it. */
export function appLogger(app: NestFastifyApplication): Pino {
  return app.getHttpAdapter().getInstance().log as unknown as Pino;
}

export async function createApp(options: AppOptions): Promise<NestFastifyApplication> {
  const pino = createPino(options.config.logLevel);
  const adapter = new FastifyAdapter({
    loggerInstance: pino,
    bodyLimit: BODY_LIMIT_BYTES,
    // genReqId reads the header itself, so a caller's id is used only when it is safe to log.
    requestIdHeader: false,
    genReqId: (request: { headers: Record<string, string | string[] | undefined> }) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(given) ? given : randomUUID();
    },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (error: { code?: string }, request: FastifyRequest, reply: FastifyReply) => {
      const { status, code, message } = routerError(error);
      void reply.status(status).send({ error: { code, message, request_id: String(request.id) } });
    },
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => {
      const response = socket.writable ? clientErrorResponse(error, randomUUID()) : null;
      if (response === null) socket.destroy(error);
      else socket.end(response);
    },
    // A request that arrives while closing is refused by our own hook below, in the one error format.
    return503OnClosing: false,
    // Close idle keep-alive sockets on shutdown; requests in flight still finish.
    forceCloseConnections: 'idle',
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(options), adapter, {
    logger: new PinoNestLogger(pino.child({ component: 'nest' })),
    abortOnError: false,
    // Bodies are JSON only, parsed below; Nest's own parsers would also take form bodies.
    bodyParser: false,
  });
  const fastify = app.getHttpAdapter().getInstance();

  // Request guards, before any route: a body is UTF-8 JSON of bounded depth (any other content type is a
  // 415), and query and path values are text PostgreSQL can store, each query parameter given once.
  fastify.removeAllContentTypeParsers();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    // The bytes stay on the request as Nest's `rawBody`: a signed webhook (POST /v1/stripe/webhook) is
    // verified over exactly what was sent.
    (request as RawBodyRequest<FastifyRequest>).rawBody = body as Buffer;
    let text: string | undefined;
    try {
      text = jsonBodyText(body as Buffer, request.headers['content-type']);
    } catch (error) {
      done(error as Error, undefined);
      return;
    }
    if (text === undefined) done(null, undefined);
    else parseJson(request, text, done);
  });
  // The per-request hooks take Fastify's `done` instead of being async: the same steps without a promise
  // and a microtask each, on every request (a thrown error goes to the error handler the same way).
  const apiRoutes = app.get(ApiRoutes);
  fastify.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    checkParams(request.params);
    checkQuery(request.query);
    // A query string sent to a route that reads none is refused, not ignored (src/http/unread-query.ts).
    const unread = apiRoutes.unreadQuery(request.method, request.routeOptions.url, request.query);
    if (unread !== null) throw unread;
    done();
  });
  const metrics = app.get(Metrics);
  const shutdown = app.get(ShutdownReport);
  const shutdownLogger = new Logger('http');

  // Once shutdown starts, answers close their connection: a keep-alive socket that turns idle after
  // the close began would otherwise hold the shutdown open until the client lets go.
  // What a shutdown waits for first: the requests being answered (live streams end before this).
  let closing = false;
  let closeStarted = 0;
  let inFlightAtClose = 0;
  fastify.addHook('preClose', async () => {
    closing = true;
    closeStarted = performance.now();
    inFlightAtClose = shutdown.requestsInFlight;
  });
  fastify.addHook('onClose', async () => {
    shutdown.record('http', { requests_in_flight: inFlightAtClose }, performance.now() - closeStarted);
  });
  const leftInFlight = () => shutdown.requestsInFlight--;
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    shutdown.requestsInFlight++;
    reply.raw.once('close', leftInFlight);
    if (!closing) {
      done();
      return;
    }
    // Answered here, so `done` is not called: the rest of the chain does not run.
    const refused = new RequestError('shutting_down', 'The service is shutting down; retry on another instance.', {}, 'unavailable');
    const { status, body } = errorResponse(refused, String(request.id), shutdownLogger);
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  });
  fastify.addHook('onSend', (request: FastifyRequest, reply: FastifyReply, _payload: unknown, done: (error?: Error | null) => void) => {
    void reply.header('x-request-id', request.id);
    if (closing) void reply.header('connection', 'close');
    done();
  });
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    if (reply.statusCode >= 500) metrics.httpErrors.inc({ route });
    done();
  });
  const document = completeDocument(
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setOpenAPIVersion('3.1.0')
        .setTitle('tokenmeter')
        .setDescription('Token metering and billing for AI agent work. JSON fields are snake_case; ids are slugs.')
        .setVersion('0.1.0')
        // Our own key format, not a JWT (Nest's default bearerFormat).
        .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'tm_<env>_<id>_<secret>', description: 'An API key' })
        .build(),
    ),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  // An unknown route's answer names the methods its path takes, or the route it is close to.
  apiRoutes.use(document);

  // The console is static files calling this same API from the browser with the key pasted into it.
  const web = consoleDir();
  if (web !== null) {
    app.useStaticAssets({ root: web, prefix: '/console/', index: 'index.html' });
    fastify.get('/console', (_request, reply) => reply.redirect('/console/', 301));
  }

  // Signals are main.ts's to handle (src/lifecycle/shutdown.ts); tests close the app themselves.
  try {
    await app.init();
  } catch (error) {
    // A refused start (job wiring, migrations) must not leave the database or queues open.
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}
