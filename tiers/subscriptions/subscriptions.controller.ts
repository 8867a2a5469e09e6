// HTTP for an account's subscription. The `:account` parameter scopes customer keys to their own account.
import { Body, Controller, Delete, Get, Param, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import { actorOf, type Principal } from '../../src/auth/principal.js';
import { ApiJsonBody, Fails, Responds } from '../../src/http/openapi.js';
import { SchemaPipe, slugParam } from '../../src/http/validation.js';
import { putSubscriptionSchema, SubscriptionSchema, type PutSubscriptionBody } from './subscriptions.schemas.js';
import { SubscriptionsService, type Subscription } from './subscriptions.service.js';

/** A cancellation has no options: it ends the subscription at the end of the current billing period. */
const noCancelOptions = { type: 'object', additionalProperties: false, properties: {} } as const;

@ApiTags('subscriptions')
@Controller('v1/accounts')
export class SubscriptionsController {
  constructor(private readonly subscriptions: SubscriptionsService) {}

  @Put(':account/subscription')
  @Allow('admin', 'sales')
  @ApiOperation({ summary: 'Subscribe an account to a plan (pinned version or latest), with per-account overrides; audited' })
  @ApiJsonBody(putSubscriptionSchema)
  @Responds(200, SubscriptionSchema)
  @Fails(409)
  put(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(putSubscriptionSchema)) body: PutSubscriptionBody,
  ): Promise<Subscription> {
    return this.subscriptions.put(actorOf(p), account, body);
  }

  @Delete(':account/subscription')
  @Allow('admin', 'sales')
  @ApiOperation({
    summary: 'Cancel the subscription at the end of the current billing period (`ends_at`): that period is billed, no later one; cancelling again changes nothing, a PUT subscribes again; audited',
  })
  @Responds(200, SubscriptionSchema)
  @Fails(404)
  cancel(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    // It takes no body; one with fields (say `"at": "now"`) is refused rather than ignored.
    @Body(new SchemaPipe(noCancelOptions)) _body: Record<string, never>,
  ): Promise<Subscription> {
    return this.subscriptions.cancel(actorOf(p), account);
  }

  @Get(':account/subscription')
  @Allow('admin', 'sales', 'finance', 'member')
  @ApiOperation({ summary: 'The account’s subscription, the plan version in force and the effective terms' })
  @Responds(200, SubscriptionSchema)
  @Fails(404)
  get(@Param('account', slugParam('account')) account: string): Promise<Subscription> {
    return this.subscriptions.get(account);
  }
}
