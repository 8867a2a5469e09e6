// HTTP for plans and their versions. Thin: check the body, call the service, return what it returns.
import { Body, Controller, Get, Param, Post, Put, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import { actorOf, type Principal } from '../../src/auth/principal.js';
import { RequestError } from '../../src/http/domain-error.js';
import { ApiJsonBody, ApiJsonQuery, Fails, Responds } from '../../src/http/openapi.js';
import { parameterNames, parseLimit, SchemaPipe, slugParam } from '../../src/http/validation.js';
import type { PlanSummary, PlanVersion } from './plans.repository.js';
import {
  listPlansQuerySchema,
  PlanListSchema,
  PlanVersionListSchema,
  PlanVersionSchema,
  putPlanSchema,
  rollbackPlanSchema,
  type PutPlanBody,
  type RollbackPlanBody,
} from './plans.schemas.js';
import { PlansService } from './plans.service.js';
import { Idempotent } from '../../src/http/idempotency/idempotent.decorator.js';

const READERS = ['admin', 'sales', 'finance', 'member'] as const;

@ApiTags('plans')
@Controller('v1/plans')
export class PlansController {
  constructor(private readonly plans: PlansService) {}

  @Put(':plan')
  @Idempotent()
  @Allow('admin', 'sales')
  @ApiOperation({ summary: 'Publish a new version of a plan (creates the plan on first use); audited' })
  @ApiJsonBody(putPlanSchema)
  @Responds(200, PlanVersionSchema)
  @Fails(409)
  put(
    @CurrentPrincipal() p: Principal,
    @Param('plan', slugParam('plan')) plan: string,
    @Body(new SchemaPipe(putPlanSchema)) body: PutPlanBody,
  ): Promise<PlanVersion> {
    return this.plans.publish(actorOf(p), plan, body);
  }

  @Get()
  @Allow('admin', 'sales')
  @ApiOperation({ summary: 'Plans by id with their latest version number, keyset-paged with `after`' })
  @ApiJsonQuery(listPlansQuerySchema)
  @Responds(200, PlanListSchema)
  async list(@Query(new SchemaPipe(parameterNames(listPlansQuerySchema))) { after, limit }: { after?: string; limit?: string }): Promise<{ data: PlanSummary[] }> {
    return { data: await this.plans.listPlans(after ?? null, parseLimit(limit, 100, 1000)) };
  }

  @Get(':plan')
  @Allow(...READERS)
  @ApiOperation({ summary: 'The latest version of a plan (customers: only the plan they subscribe to)' })
  @Responds(200, PlanVersionSchema)
  @Fails(404)
  latest(@CurrentPrincipal() p: Principal, @Param('plan', slugParam('plan')) plan: string): Promise<PlanVersion> {
    return this.plans.latest(p, plan);
  }

  @Get(':plan/versions')
  @Allow(...READERS)
  @ApiOperation({ summary: 'Every version of a plan, oldest first' })
  @Responds(200, PlanVersionListSchema)
  @Fails(404)
  async versions(@CurrentPrincipal() p: Principal, @Param('plan', slugParam('plan')) plan: string): Promise<{ data: PlanVersion[] }> {
    return { data: await this.plans.versions(p, plan) };
  }

  @Get(':plan/versions/:version')
  @Allow(...READERS)
  @ApiOperation({ summary: 'One version of a plan' })
  @Responds(200, PlanVersionSchema)
  @Fails(404)
  version(
    @CurrentPrincipal() p: Principal,
    @Param('plan', slugParam('plan')) plan: string,
    @Param('version') version: string,
  ): Promise<PlanVersion> {
    if (!/^\d{1,9}$/.test(version)) {
      throw new RequestError('invalid_value', 'Path parameter "version" must be a whole number.', { field: 'version' });
    }
    return this.plans.version(p, plan, Number(version));
  }

  @Post(':plan/rollback')
  @Idempotent()
  @Allow('admin', 'sales')
  @ApiOperation({ summary: 'Publish an exact copy of an earlier version as the newest; audited' })
  @ApiJsonBody(rollbackPlanSchema)
  @Responds(201, PlanVersionSchema)
  @Fails(404)
  rollback(
    @CurrentPrincipal() p: Principal,
    @Param('plan', slugParam('plan')) plan: string,
    @Body(new SchemaPipe(rollbackPlanSchema)) body: RollbackPlanBody,
  ): Promise<PlanVersion> {
    return this.plans.rollback(actorOf(p), plan, body.version);
  }
}
