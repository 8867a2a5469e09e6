// HTTP for accounts and the org tree. Thin: check the body, call the service, return what it returns.
import { Body, Controller, Delete, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal } from '../auth/access.decorators.js';
import { actorOf, type Principal } from '../auth/principal.js';
import { ApiJsonBody, ApiJsonQuery, Fails, Responds } from '../http/openapi.js';
import { parameterNames, parseLimit, SchemaPipe, slugParam } from '../http/validation.js';
import type { Account, Agent, Person, Unit, UnitMembership } from './accounts.repository.js';
import {
  AccountListSchema,
  AccountSchema,
  AgentListSchema,
  AgentSchema,
  createAccountSchema,
  createAgentSchema,
  createPersonSchema,
  createUnitSchema,
  listAccountsQuerySchema,
  listAgentsQuerySchema,
  listPeopleQuerySchema,
  PersonListSchema,
  PersonSchema,
  PersonWithUnitsSchema,
  UnitListSchema,
  UnitSchema,
  updateAccountSchema,
  updatePersonSchema,
  type CreateAccountBody,
  type CreateAgentBody,
  type CreatePersonBody,
  type CreateUnitBody,
  type UpdateAccountBody,
  type UpdatePersonBody,
} from './accounts.schemas.js';
import { AccountsService } from './accounts.service.js';
import { Idempotent } from '../http/idempotency/idempotent.decorator.js';

const EVERYONE_IN_ACCOUNT = ['admin', 'sales', 'finance', 'member', 'agent'] as const;

@ApiTags('accounts')
@Controller('v1/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  @Idempotent()
  @Allow('admin', 'sales')
  @ApiOperation({ summary: 'Create a customer account' })
  @ApiJsonBody(createAccountSchema)
  @Responds(201, AccountSchema)
  @Fails(409)
  create(@CurrentPrincipal() p: Principal, @Body(new SchemaPipe(createAccountSchema)) body: CreateAccountBody): Promise<Account> {
    return this.accounts.createAccount(actorOf(p), body);
  }

  @Get()
  @Allow('admin', 'sales')
  @ApiOperation({ summary: 'List accounts, by id, keyset-paged with `after`' })
  @ApiJsonQuery(listAccountsQuerySchema)
  @Responds(200, AccountListSchema)
  async list(@Query(new SchemaPipe(parameterNames(listAccountsQuerySchema))) { after, limit }: { after?: string; limit?: string }): Promise<{ data: Account[] }> {
    return { data: await this.accounts.listAccounts(after ?? null, parseLimit(limit, 100, 1000)) };
  }

  @Get(':account')
  @Allow(...EVERYONE_IN_ACCOUNT)
  @ApiOperation({ summary: 'Read an account' })
  @Responds(200, AccountSchema)
  get(@Param('account', slugParam('account')) account: string): Promise<Account> {
    return this.accounts.getAccount(account);
  }

  @Patch(':account')
  @Allow('admin', 'sales')
  @ApiOperation({
    summary: 'Change an account (name, paid_enterprise, fiscal year, task timeout)',
    description:
      'Errors: 409 `fiscal_calendar_in_use` (a new `fiscal_year_start_month` while budgets are set on periods of the current ' +
      'fiscal calendar that have not ended: they would lie on periods the calendar no longer has).',
  })
  @ApiJsonBody(updateAccountSchema)
  @Responds(200, AccountSchema)
  @Fails(409)
  update(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(updateAccountSchema)) body: UpdateAccountBody,
  ): Promise<Account> {
    return this.accounts.updateAccount(actorOf(p), account, body);
  }

  @Post(':account/units')
  @Idempotent()
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Add a department or team under the account or under another unit' })
  @ApiJsonBody(createUnitSchema)
  @Responds(201, UnitSchema)
  @Fails(409)
  createUnit(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(createUnitSchema)) body: CreateUnitBody,
  ): Promise<Unit> {
    return this.accounts.createUnit(actorOf(p), account, body);
  }

  @Get(':account/units')
  @Allow(...EVERYONE_IN_ACCOUNT)
  @ApiOperation({ summary: 'The account’s units' })
  @Responds(200, UnitListSchema)
  async listUnits(@Param('account', slugParam('account')) account: string): Promise<{ data: Unit[] }> {
    return { data: await this.accounts.listUnits(account) };
  }

  @Post(':account/people')
  @Idempotent()
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Add a person to a unit' })
  @ApiJsonBody(createPersonSchema)
  @Responds(201, PersonSchema)
  @Fails(409)
  createPerson(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(createPersonSchema)) body: CreatePersonBody,
  ): Promise<Person> {
    return this.accounts.createPerson(actorOf(p), account, body);
  }

  @Get(':account/people')
  @Allow(...EVERYONE_IN_ACCOUNT)
  @ApiOperation({ summary: 'The account’s people, or those in one unit' })
  @ApiJsonQuery(listPeopleQuerySchema)
  @Responds(200, PersonListSchema)
  async listPeople(
    @Param('account', slugParam('account')) account: string,
    @Query(new SchemaPipe(parameterNames(listPeopleQuerySchema))) { unit_id: unitId }: { unit_id?: string },
  ): Promise<{ data: Person[] }> {
    return { data: await this.accounts.listPeople(account, unitId ?? null) };
  }

  @Get(':account/people/:person')
  @Allow(...EVERYONE_IN_ACCOUNT)
  @ApiOperation({ summary: 'Read a person with their unit history' })
  @Responds(200, PersonWithUnitsSchema)
  getPerson(
    @Param('account', slugParam('account')) account: string,
    @Param('person', slugParam('person')) person: string,
  ): Promise<Person & { units: UnitMembership[] }> {
    return this.accounts.getPerson(account, person);
  }

  @Patch(':account/people/:person')
  @Allow('admin', 'finance')
  @ApiOperation({
    summary: 'Rename a person or move them to another unit (recorded with effective_from)',
    description:
      'Errors: 409 `move_out_of_order` (effective_from not after the last move), 409 `move_over_allocates` (the person has a ' +
      'budget in a period that has not ended, and in the new unit it would take its unit, or a unit above, past its allocation; ' +
      'the answer names the parent, the measure, the period and how much over).',
  })
  @ApiJsonBody(updatePersonSchema)
  @Responds(200, PersonSchema)
  @Fails(409)
  updatePerson(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Param('person', slugParam('person')) person: string,
    @Body(new SchemaPipe(updatePersonSchema)) body: UpdatePersonBody,
  ): Promise<Person> {
    return this.accounts.updatePerson(actorOf(p), account, person, body);
  }

  @Delete(':account/people/:person')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Deactivate a person: their keys and their agents stop working' })
  @Responds(200, PersonSchema)
  deactivatePerson(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Param('person', slugParam('person')) person: string,
  ): Promise<Person> {
    return this.accounts.deactivatePerson(actorOf(p), account, person);
  }

  @Post(':account/agents')
  @Idempotent()
  @Allow('admin', 'finance', 'member')
  @ApiOperation({ summary: 'Add an agent owned by a person (a member only for themselves)' })
  @ApiJsonBody(createAgentSchema)
  @Responds(201, AgentSchema)
  @Fails(409)
  createAgent(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(createAgentSchema)) body: CreateAgentBody,
  ): Promise<Agent> {
    return this.accounts.createAgent(p, actorOf(p), account, body);
  }

  @Get(':account/agents')
  @Allow(...EVERYONE_IN_ACCOUNT)
  @ApiOperation({ summary: 'The account’s agents, or those one person owns' })
  @ApiJsonQuery(listAgentsQuerySchema)
  @Responds(200, AgentListSchema)
  async listAgents(
    @Param('account', slugParam('account')) account: string,
    @Query(new SchemaPipe(parameterNames(listAgentsQuerySchema))) { owner_person_id: owner }: { owner_person_id?: string },
  ): Promise<{ data: Agent[] }> {
    return { data: await this.accounts.listAgents(account, owner ?? null) };
  }

  @Get(':account/agents/:agent')
  @Allow(...EVERYONE_IN_ACCOUNT)
  @ApiOperation({ summary: 'Read an agent' })
  @Responds(200, AgentSchema)
  getAgent(
    @Param('account', slugParam('account')) account: string,
    @Param('agent', slugParam('agent')) agent: string,
  ): Promise<Agent> {
    return this.accounts.getAgent(account, agent);
  }

  @Delete(':account/agents/:agent')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Deactivate an agent: its keys stop working' })
  @Responds(200, AgentSchema)
  deactivateAgent(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Param('agent', slugParam('agent')) agent: string,
  ): Promise<Agent> {
    return this.accounts.deactivateAgent(actorOf(p), account, agent);
  }
}
