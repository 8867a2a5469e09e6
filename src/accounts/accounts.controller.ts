// HTTP for accounts and the org tree. Thin: check the body, call the service, return what it returns.
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal } from '../auth/access.decorators.js';
import { actorOf, type Principal } from '../auth/principal.js';
import { ApiJsonBody, parseLimit, SchemaPipe, slugParam } from '../http/validation.js';
import type { Account, Agent, Person, Unit } from './accounts.repository.js';
import {
  createAccountSchema,
  createAgentSchema,
  createPersonSchema,
  createUnitSchema,
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

const EVERYONE_IN_ACCOUNT = ['admin', 'sales', 'finance', 'member', 'agent'] as const;

@ApiTags('accounts')
@ApiBearerAuth()
@Controller('v1/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  @Allow('admin', 'sales')
  @ApiOperation({ summary: 'Create a customer account' })
  @ApiJsonBody(createAccountSchema)
  create(@CurrentPrincipal() p: Principal, @Body(new SchemaPipe(createAccountSchema)) body: CreateAccountBody): Promise<Account> {
    return this.accounts.createAccount(actorOf(p), body);
  }

  @Get()
  @Allow('admin', 'sales')
  @ApiOperation({ summary: 'List accounts, by id, keyset-paged with `after`' })
  @ApiQuery({ name: 'after', required: false })
  @ApiQuery({ name: 'limit', required: false })
  async list(@Query('after') after?: string, @Query('limit') limit?: string): Promise<{ data: Account[] }> {
    return { data: await this.accounts.listAccounts(after ?? null, parseLimit(limit, 100, 1000)) };
  }

  @Get(':account')
  @Allow(...EVERYONE_IN_ACCOUNT)
  @ApiOperation({ summary: 'Read an account' })
  get(@Param('account', slugParam('account')) account: string): Promise<Account> {
    return this.accounts.getAccount(account);
  }

  @Patch(':account')
  @Allow('admin', 'sales')
  @ApiOperation({ summary: 'Change an account (name, paid_enterprise, fiscal year, task timeout)' })
  @ApiJsonBody(updateAccountSchema)
  update(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(updateAccountSchema)) body: UpdateAccountBody,
  ): Promise<Account> {
    return this.accounts.updateAccount(actorOf(p), account, body);
  }

  @Post(':account/units')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Add a department or team under the account or under another unit' })
  @ApiJsonBody(createUnitSchema)
  createUnit(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(createUnitSchema)) body: CreateUnitBody,
  ): Promise<Unit> {
    return this.accounts.createUnit(actorOf(p), account, body);
  }

  @Get(':account/units')
  @Allow(...EVERYONE_IN_ACCOUNT)
  async listUnits(@Param('account', slugParam('account')) account: string): Promise<{ data: Unit[] }> {
    return { data: await this.accounts.listUnits(account) };
  }

  @Post(':account/people')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Add a person to a unit' })
  @ApiJsonBody(createPersonSchema)
  createPerson(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(createPersonSchema)) body: CreatePersonBody,
  ): Promise<Person> {
    return this.accounts.createPerson(actorOf(p), account, body);
  }

  @Get(':account/people')
  @Allow(...EVERYONE_IN_ACCOUNT)
  @ApiQuery({ name: 'unit_id', required: false })
  async listPeople(
    @Param('account', slugParam('account')) account: string,
    @Query('unit_id') unitId?: string,
  ): Promise<{ data: Person[] }> {
    return { data: await this.accounts.listPeople(account, unitId ?? null) };
  }

  @Get(':account/people/:person')
  @Allow(...EVERYONE_IN_ACCOUNT)
  @ApiOperation({ summary: 'Read a person with their unit history' })
  getPerson(
    @Param('account', slugParam('account')) account: string,
    @Param('person', slugParam('person')) person: string,
  ): Promise<Person> {
    return this.accounts.getPerson(account, person);
  }

  @Patch(':account/people/:person')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Rename a person or move them to another unit (recorded with effective_from)' })
  @ApiJsonBody(updatePersonSchema)
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
  @HttpCode(200)
  @ApiOperation({ summary: 'Deactivate a person: their keys and their agents stop working' })
  deactivatePerson(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Param('person', slugParam('person')) person: string,
  ): Promise<Person> {
    return this.accounts.deactivatePerson(actorOf(p), account, person);
  }

  @Post(':account/agents')
  @Allow('admin', 'finance', 'member')
  @ApiOperation({ summary: 'Add an agent owned by a person (a member only for themselves)' })
  @ApiJsonBody(createAgentSchema)
  createAgent(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(createAgentSchema)) body: CreateAgentBody,
  ): Promise<Agent> {
    return this.accounts.createAgent(p, actorOf(p), account, body);
  }

  @Get(':account/agents')
  @Allow(...EVERYONE_IN_ACCOUNT)
  @ApiQuery({ name: 'owner_person_id', required: false })
  async listAgents(
    @Param('account', slugParam('account')) account: string,
    @Query('owner_person_id') owner?: string,
  ): Promise<{ data: Agent[] }> {
    return { data: await this.accounts.listAgents(account, owner ?? null) };
  }

  @Get(':account/agents/:agent')
  @Allow(...EVERYONE_IN_ACCOUNT)
  getAgent(
    @Param('account', slugParam('account')) account: string,
    @Param('agent', slugParam('agent')) agent: string,
  ): Promise<Agent> {
    return this.accounts.getAgent(account, agent);
  }

  @Delete(':account/agents/:agent')
  @Allow('admin', 'finance')
  @HttpCode(200)
  @ApiOperation({ summary: 'Deactivate an agent: its keys stop working' })
  deactivateAgent(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Param('agent', slugParam('agent')) agent: string,
  ): Promise<Agent> {
    return this.accounts.deactivateAgent(actorOf(p), account, agent);
  }
}
