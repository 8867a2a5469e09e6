// How a route says who may call it. Every /v1 route names its roles; the guard denies a route that
// names none. A route with an `:account` path parameter is scoped to that account automatically.
import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Fails } from '../http/openapi.js';
import { ROLES, type Principal, type Role } from './principal.js';

export const ALLOW_ROLES = 'tokenmeter:allow-roles';
export const PUBLIC_ROUTE = 'tokenmeter:public';
export const DENIED_HINT = 'tokenmeter:denied-hint';

/** Also documents the route: the bearer key, `x-roles`, 401, and 403 unless every role may call it. */
export const Allow = (...roles: Role[]) =>
  applyDecorators(
    SetMetadata(ALLOW_ROLES, roles),
    ApiBearerAuth(),
    ApiExtension('x-roles', roles),
    Fails(401, ...(ROLES.every((r) => roles.includes(r)) ? [] : [403])),
  );
/** What a key of another role is told, when "this takes an agent key" says too little. */
export const DeniedHint = (sentence: string) => SetMetadata(DENIED_HINT, sentence);
/** No key needed: health, metrics, docs, signed webhooks. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

export interface AuthenticatedRequest extends FastifyRequest {
  principal?: Principal;
}

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a public route');
  return principal;
});
