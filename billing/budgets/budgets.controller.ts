// People-plus-tokens budgets of an account: set, remove and transfer (finance of the account, admin),
// and read with their burn and forecast (finance: all; a member: their person and their units), as JSON
// or CSV; and the alerts they fired.
import { Body, Controller, Delete, Get, Headers, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { wantsCsv } from '../../metering/readings/csv.js';
import { CsvSchema } from '../../metering/readings/readings.schemas.js';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import type { Principal } from '../../src/auth/principal.js';
import { RequestError } from '../../src/http/domain-error.js';
import { ApiJsonBody, ApiJsonQuery, Fails, NoContent, Responds } from '../../src/http/openapi.js';
import { parseLimit, SchemaPipe, slugParam } from '../../src/http/validation.js';
import type { PeriodKind } from '../authorizations/counters.js';
import { BudgetBurnService, type AlertView, type BudgetListing } from './budget-burn.service.js';
import { budgetsCsv } from './budgets-csv.js';
import {
  alertsQuerySchema,
  BudgetAlertListSchema,
  BudgetBurnListSchema,
  BudgetSchema,
  deleteBudgetQuerySchema,
  listBudgetsQuerySchema,
  putBudgetSchema,
  transferSchema,
  TransferResultSchema,
} from './budgets.schemas.js';
import { BudgetsService, type BudgetBody, type BudgetView, type TransferBody, type TransferView } from './budgets.service.js';
import { Idempotent } from '../../src/http/idempotency/idempotent.decorator.js';

@ApiTags('budgets')
@Controller('v1/accounts/:account/budgets')
export class BudgetsController {
  constructor(
    private readonly budgets: BudgetsService,
    private readonly burn: BudgetBurnService,
  ) {}

  @Get()
  @Allow('admin', 'finance', 'member')
  @ApiOperation({
    summary: 'Budgets in force now (or of one period), with headcount, spend, holds, what is left, per head, and the forecast',
    description:
      'Spend rolls up the org tree by the unit each person was in when they spent. The forecast projects the burn ' +
      'of the last 7 days (from the start of the current hour; less early in a period) to the period end and dates ' +
      'the limit. Finance sees every node; a member their own person and the units above them. Reading also fires ' +
      'alerts that are due. `Accept: text/csv` (or `format=csv`) answers CSV. With `period` and `period_start`: the ' +
      'budgets of that one period; one that has ended shows what was spent in it (its forecast is its end, with no ' +
      '`limit_reached_at`), one to come nothing spent; neither holds anything. The JSON names the period listed ' +
      '(with `period`) and `as_of`, the service’s time it was read at, against which the period is in force, ended ' +
      'or to come. Errors: 400 `missing_field` ' +
      '(`period_start` without `period`), 400 `invalid_budget_period` (not a first day of the fiscal calendar).',
  })
  @ApiJsonQuery(listBudgetsQuerySchema)
  @Responds(200, BudgetBurnListSchema, { alternatives: { 'text/csv': CsvSchema } })
  @Fails(400, 404)
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Query(new SchemaPipe(listBudgetsQuerySchema)) query: { period?: PeriodKind; period_start?: string; format?: 'json' | 'csv' },
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BudgetListing | string> {
    requireKindWithStart(query);
    const listing =
      query.period !== undefined && query.period_start !== undefined
        ? await this.burn.listPeriod(principal, account, query.period, query.period_start)
        : await this.burn.list(principal, account, query.period);
    if (query.format === 'csv' || (query.format === undefined && wantsCsv(accept))) {
      void reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="budgets-${account}.csv"`);
      return budgetsCsv(listing.data);
    }
    return listing;
  }

  @Get('alerts')
  @Allow('admin', 'finance', 'member')
  @ApiOperation({
    summary: 'Budget alerts that fired, newest first',
    description:
      'Each threshold fires once per node and period, and the forecast alert once, when the forecast first reaches the ' +
      'limit before the period ends. They are also sent as `budget.threshold_crossed` and `budget.forecast_exceeded` webhooks. ' +
      'With `period`: only the alerts of the period of that kind in force now, or with `period_start` of the one starting ' +
      'that day (ended, in force or to come), as the budgets listing reads them. Errors: 400 `missing_field` ' +
      '(`period_start` without `period`), 400 `invalid_budget_period` (not a first day of the fiscal calendar).',
  })
  @ApiJsonQuery(alertsQuerySchema)
  @Responds(200, BudgetAlertListSchema)
  @Fails(400, 404)
  async alerts(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Query(new SchemaPipe(alertsQuerySchema)) query: { limit?: string; period?: PeriodKind; period_start?: string },
  ): Promise<{ data: AlertView[] }> {
    const limit = parseLimit(query.limit, 100, 1000);
    requireKindWithStart(query);
    const period = query.period !== undefined ? { kind: query.period, start: query.period_start } : undefined;
    return { data: await this.burn.alerts(principal, account, limit, period) };
  }

  @Post('transfers')
  @Idempotent()
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Move unused allocation to a sibling or back to the parent, mid-period; audited' })
  @ApiJsonBody(transferSchema)
  @Responds(200, TransferResultSchema)
  @Fails(404, 409)
  transfer(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(transferSchema)) body: TransferBody,
  ): Promise<TransferView> {
    return this.budgets.transfer(principal, account, body);
  }

  @Put(':node')
  @Allow('admin', 'finance')
  @ApiOperation({
    summary: 'Set the budget of the account, a unit or a person for a period',
    description:
      '`:node` is `account`, `unit:<id>` or `person:<id>`. Children’s allocations may not exceed their parent’s ' +
      '(409 `budget_over_allocated` names the parent and how much is over); a hard limit may not go below what is ' +
      'spent and held (409 `budget_below_usage`).',
  })
  @ApiJsonBody(putBudgetSchema)
  @Responds(200, BudgetSchema)
  @Fails(404, 409)
  put(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Param('node') node: string,
    @Body(new SchemaPipe(putBudgetSchema)) body: BudgetBody,
  ): Promise<BudgetView> {
    return this.budgets.put(principal, account, node, body);
  }

  @Delete(':node')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Remove the budget of a node for a period (its children then count against the next budget up)' })
  @ApiJsonQuery(deleteBudgetQuerySchema)
  @NoContent()
  @Fails(404, 409)
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Param('node') node: string,
    @Query(new SchemaPipe(deleteBudgetQuerySchema)) query: { period: PeriodKind; period_start?: string },
  ): Promise<void> {
    await this.budgets.remove(principal, account, node, query.period, query.period_start);
  }
}

/** `period_start` names a period only with its kind: 400 missing_field otherwise. */
function requireKindWithStart(query: { period?: PeriodKind; period_start?: string }): void {
  if (query.period_start !== undefined && query.period === undefined) {
    throw new RequestError('missing_field', 'Query parameter "period" is required with "period_start" (year, quarter or month).', { field: 'period' });
  }
}
