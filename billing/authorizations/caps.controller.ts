// The account's caps on authorizations: per agent (for a period) and per session context. Finance of the
// account or an admin sets them; members of the account may read them.
import { Body, Controller, Delete, Get, Param, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import type { Principal } from '../../src/auth/principal.js';
import { RequestError } from '../../src/http/domain-error.js';
import { ApiJsonBody, NoContent, Responds } from '../../src/http/openapi.js';
import { SchemaPipe, slugParam } from '../../src/http/validation.js';
import { CapListSchema, CapSchema, capSchema, TierCapListSchema } from './authorizations.schemas.js';
import { CapsService, type CapBody, type CapView, type TierCapView } from './caps.service.js';
import type { SessionContext } from './counters.js';

function context(raw: string): SessionContext {
  if (raw !== 'internal' && raw !== 'external') {
    throw new RequestError('invalid_id', 'Path parameter "context" must be internal or external.', { field: 'context' });
  }
  return raw;
}

@ApiTags('authorizations')
@Controller('v1/accounts/:account/caps')
export class CapsController {
  constructor(private readonly caps: CapsService) {}

  @Get()
  @Allow('admin', 'finance', 'member')
  @ApiOperation({ summary: 'The caps on authorizations: per agent and per session context' })
  @Responds(200, CapListSchema)
  async list(@Param('account', slugParam('account')) account: string): Promise<{ data: CapView[] }> {
    return { data: await this.caps.list(account) };
  }

  @Get('tiers')
  @Allow('admin', 'sales', 'finance', 'member', 'agent')
  @ApiOperation({
    summary: "The plan's per-tier token caps in the current billing period, with what is spent, held and left",
    description:
      'The tiers the subscription (its plan, or an override) caps, each with the account\'s tokens of models of that tier ' +
      'this billing period: what an authorization of such a model is held against. Empty without a subscription or caps.',
  })
  @Responds(200, TierCapListSchema)
  async tiers(@Param('account', slugParam('account')) account: string): Promise<{ data: TierCapView[] }> {
    return { data: await this.caps.tiers(account) };
  }

  @Put('agents/:agent')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: "Set an agent's own cap for a period (month by default); it applies to its next authorization" })
  @ApiJsonBody(capSchema)
  @Responds(200, CapSchema)
  putAgent(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Param('agent', slugParam('agent')) agent: string,
    @Body(new SchemaPipe(capSchema)) body: CapBody,
  ): Promise<CapView> {
    return this.caps.putAgentCap(principal, account, agent, body);
  }

  @Put('sessions/:context')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Set the cap of each session of a context (internal or external)' })
  @ApiJsonBody(capSchema)
  @Responds(200, CapSchema)
  putSession(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Param('context') raw: string,
    @Body(new SchemaPipe(capSchema)) body: CapBody,
  ): Promise<CapView> {
    return this.caps.putSessionCap(principal, account, context(raw), body);
  }

  @Delete('agents/:agent')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: "Remove an agent's own cap" })
  @NoContent()
  async deleteAgent(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Param('agent', slugParam('agent')) agent: string,
  ): Promise<void> {
    await this.caps.remove(principal, account, 'agent', agent);
  }

  @Delete('sessions/:context')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Remove the session cap of a context' })
  @NoContent()
  async deleteSession(@CurrentPrincipal() principal: Principal, @Param('account', slugParam('account')) account: string, @Param('context') raw: string): Promise<void> {
    await this.caps.remove(principal, account, 'session', context(raw));
  }
}
