// POST /v1/authorizations (reserve) and DELETE /v1/authorizations/:id (release). Thin: the body is checked
// by a compiled schema, the service does the rest. A denial is an answer, not an error: 200 with
// `allowed: false`, which is what a caller branches on.
import { Body, Controller, Delete, Param, Post, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import type { Principal } from '../../src/auth/principal.js';
import { RequestError } from '../../src/http/domain-error.js';
import { ApiJsonBody, Fails, Responds } from '../../src/http/openapi.js';
import { SchemaPipe } from '../../src/http/validation.js';
import { AuthorizationSchema, authorizeSchema, ReleaseSchema } from './authorizations.schemas.js';
import { AuthorizationsService, type AuthorizationView, type AuthorizeBody } from './authorizations.service.js';
import { IdempotentInHandler } from '../../src/http/idempotency/idempotent.decorator.js';
import { IdempotentWrites } from '../../src/http/idempotency/idempotent-writes.js';

@ApiTags('authorizations')
@Controller('v1/authorizations')
export class AuthorizationsController {
  constructor(
    private readonly authorizations: AuthorizationsService,
    private readonly writes: IdempotentWrites,
  ) {}

  @Post()
  // The hot path: Idempotency-Key handled here, not by @Idempotent()'s interceptor (see IdempotentInHandler).
  @IdempotentInHandler()
  @Allow('agent', 'member')
  @ApiOperation({
    summary: 'Reserve an estimate against every hard budget on the path, the agent cap and the session cap, in one atomic step',
    description:
      'Answers 200 either way. Allowed: `reservation_id`, `expires_at` (default 10 minutes, `expires_in_seconds` up to a day) and ' +
      'what is left at each level. Denied: `denied_by` names the level that refused, the measure (amount or tokens) and `short_by`, how ' +
      'much more the estimate is than what is left there. An event carrying `reservation_id` commits it; DELETE releases it.',
  })
  @ApiJsonBody(authorizeSchema)
  @Responds(200, AuthorizationSchema)
  @Fails(404, 409)
  authorize(
    @CurrentPrincipal() principal: Principal,
    @Body(new SchemaPipe(authorizeSchema)) body: AuthorizeBody,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AuthorizationView> {
    return this.writes.once(request, reply, () => this.authorizations.authorize(principal, body));
  }

  @Delete(':id')
  @Allow('agent', 'member')
  @ApiOperation({ summary: 'Release a reservation of yours (another agent\'s or account\'s is a 404, as if it did not exist)' })
  @Responds(200, ReleaseSchema)
  @Fails(404, 409)
  release(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    if (!/^res_[A-Za-z0-9_-]{1,64}$/.test(id)) {
      throw new RequestError('invalid_id', 'Path parameter "id" is not a reservation id.', { field: 'id' });
    }
    return this.authorizations.release(principal, id);
  }
}
