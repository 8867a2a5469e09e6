// The one place errors become HTTP: a domain error's kind picks the status, its code and sentence go to
// the caller; anything unexpected is a 500 that names only the request id, never internals.
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger, NotFoundException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type ErrorDetails, type ErrorKind } from './domain-error.js';
import { ApiRoutes, type RouteHint } from './route-hints.js';

export const STATUS_BY_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unprocessable: 422,
  too_large: 413,
  unsupported_media_type: 415,
  unavailable: 503,
};

const CODE_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  422: 'unprocessable',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

export interface ErrorBody {
  error: { code: string; message: string; request_id: string } & ErrorDetails;
}

/** Fastify's own errors (body parsing, limits) carry a code we translate to ours. */
function fromFastify(error: { code?: string; statusCode?: number; message?: string }): {
  status: number;
  code: string;
  message: string;
} | null {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'malformed_json', message: 'The request body is not valid JSON.' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'payload_too_large', message: 'The request body is larger than allowed.' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'unsupported_media_type', message: 'Send the body as JSON, with the header content-type: application/json.' };
    default:
      break;
  }
  if (error instanceof SyntaxError) {
    return { status: 400, code: 'malformed_json', message: 'The request body is not valid JSON.' };
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return {
      status: error.statusCode,
      code: CODE_BY_STATUS[error.statusCode] ?? 'bad_request',
      message: error.message ?? 'Bad request.',
    };
  }
  return null;
}

export function errorResponse(
  exception: unknown,
  requestId: string,
  logger: Pick<Logger, 'error'>,
): { status: number; body: ErrorBody } {
  if (exception instanceof DomainError) {
    return {
      status: STATUS_BY_KIND[exception.kind],
      body: { error: { code: exception.code, message: exception.message, ...exception.details, request_id: requestId } },
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    // Nest wraps Fastify's own 4xx errors (bad JSON, body too large) and keeps the original as the cause.
    const cause = exception.cause;
    const translated = cause !== null && typeof cause === 'object' ? fromFastify(cause) : null;
    if (translated) {
      return {
        status: translated.status,
        body: { error: { code: translated.code, message: translated.message, request_id: requestId } },
      };
    }
    if (status < 500) {
      const code = status === 404 ? 'route_not_found' : (CODE_BY_STATUS[status] ?? 'bad_request');
      return { status, body: { error: { code, message: exception.message, request_id: requestId } } };
    }
  }
  const translated = exception !== null && typeof exception === 'object' ? fromFastify(exception) : null;
  if (translated) {
    return {
      status: translated.status,
      body: { error: { code: translated.code, message: translated.message, request_id: requestId } },
    };
  }
  logger.error({ err: exception, request_id: requestId }, 'unhandled error');
  return {
    status: 500,
    body: { error: { code: 'internal', message: 'Something went wrong on our side.', request_id: requestId } },
  };
}

/**
 * The answer to a request no route serves, with what the API's routes suggest (route-hints.ts): a path served
 * under other methods is a 405 naming them (and the Allow header), a path close to a route names it.
 */
export function unroutedResponse(
  method: string,
  url: string,
  hint: RouteHint,
  requestId: string,
): { status: number; body: ErrorBody; headers: Record<string, string> } {
  const path = url.split('?')[0]!;
  if (hint?.kind === 'methods') {
    const allowed = hint.allowed.join(', ');
    return {
      status: 405,
      body: { error: { code: 'method_not_allowed', message: `${path} takes ${allowed}, not ${method}.`, request_id: requestId } },
      headers: { allow: allowed },
    };
  }
  const guess =
    hint?.kind === 'route'
      ? ` Did you mean ${hint.route.method} ${hint.route.path}?`
      : hint?.kind === 'document'
        ? ' The OpenAPI document is at /docs-json (interactive at /docs).'
        : '';
  return { status: 404, body: { error: { code: 'route_not_found', message: `Cannot ${method} ${path}.${guess}`, request_id: requestId } }, headers: {} };
}

@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  constructor(private readonly routes: ApiRoutes) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    // Nest's answer to a request the router matched to no route (a matched route's "not found" is a domain error).
    const unrouted = exception instanceof NotFoundException && request.routeOptions.url === undefined;
    const { status, body, headers } = unrouted
      ? unroutedResponse(request.method, request.url, this.routes.hint(request.method, request.url), String(request.id))
      : { ...errorResponse(exception, String(request.id), this.logger), headers: {} };
    void reply.status(status).headers(headers).header('content-type', 'application/json; charset=utf-8').send(body);
  }
}
