// HTTP for the credit ledger: read an account's credits (finance, admin, sales), a promotional grant
// (sales, admin), a top-up purchase (finance, admin). Thin: check the input, call the service.
import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import type { Principal } from '../../src/auth/principal.js';
import { ApiJsonBody, ApiJsonQuery, Fails, Responds } from '../../src/http/openapi.js';
import { parameterNames, parseLimit, SchemaPipe, slugParam } from '../../src/http/validation.js';
import { RequestError } from '../../src/http/domain-error.js';
import { creditsQuerySchema, CreditGrantSchema, CreditsSchema, CreditTopupSchema, promotionalGrantSchema, topupSchema } from './credits.schemas.js';
import { CreditsService, type CreditsView, type GrantView, type PromotionalGrantBody, type TopupBody, type TopupView } from './credits.service.js';
import { Idempotent } from '../../src/http/idempotency/idempotent.decorator.js';

@ApiTags('credits')
@Controller('v1/accounts/:account/credits')
export class CreditsController {
  constructor(private readonly credits: CreditsService) {}

  @Get()
  @Allow('admin', 'sales', 'finance')
  @ApiOperation({
    summary: 'The credit balance, the grants that have not expired (in burn order) and the ledger’s movements, newest first, paged with `before`',
    description: 'Every movement is two entries that sum to zero; `ledger` gives each ledger account’s balance. Usage is booked against grants every minute.',
  })
  @ApiJsonQuery(creditsQuerySchema)
  @Responds(200, CreditsSchema)
  view(
    @Param('account', slugParam('account')) account: string,
    // The names only (a misspelt one is refused by name); each value is checked below, with its own message.
    @Query(new SchemaPipe(parameterNames(creditsQuerySchema))) { limit, before }: { limit?: string; before?: string },
  ): Promise<CreditsView> {
    if (before !== undefined && !/^[0-9]{1,18}$/.test(before)) {
      throw new RequestError('invalid_value', 'Query parameter "before" must be a movement id (`next_before` of a page).', { field: 'before' });
    }
    return this.credits.view(account, parseLimit(limit, 50, 500), before ?? null);
  }

  @Post('grants')
  @Idempotent()
  @Allow('admin', 'sales')
  @ApiOperation({
    summary: 'A promotional grant of credits',
    description: 'Errors: 400 `invalid_credit_amount` (not a positive decimal string), `invalid_grant` (an expiry in the past, or both expiry fields).',
  })
  @ApiJsonBody(promotionalGrantSchema)
  @Responds(201, CreditGrantSchema)
  @Fails(400)
  grant(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(promotionalGrantSchema)) body: PromotionalGrantBody,
  ): Promise<GrantView> {
    return this.credits.grantPromotional(principal, account, body);
  }

  @Post('topups')
  @Idempotent()
  @Allow('admin', 'finance')
  @ApiOperation({
    summary: 'Buy a top-up pack of the plan',
    description:
      'Without Stripe the credit is granted at once; with Stripe the pack is sold through a Stripe invoice and granted when it is paid ' +
      '(`status: pending` until then). The same `id` again answers 200 with the first purchase. Errors: 400 `topup_pack_unknown`; ' +
      '409 `no_subscription`, `topup_conflict` (the id was used for another pack).',
  })
  @ApiJsonBody(topupSchema)
  @Responds(201, CreditTopupSchema)
  @Responds(200, CreditTopupSchema, { description: 'The purchase with this id already exists' })
  @Fails(400, 409)
  async topup(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(topupSchema)) body: TopupBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TopupView> {
    const { created, topup } = await this.credits.buyTopup(principal, account, body);
    void reply.status(created ? 201 : 200);
    return topup;
  }
}
