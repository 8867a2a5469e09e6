// Customer accounts and their org tree (units to any depth, people in units, agents owned by people).
// Every change commits together with its audit row; a unit move is kept with the date it took effect.
import { Inject, Injectable, Optional } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { KeyCache } from '../auth/key-cache.js';
import type { Actor, Principal } from '../auth/principal.js';
import { CLOCK, type Clock } from '../clock/clock.js';
import type { Tx } from '../database/data-source.js';
import { sqlState, TransactionRunner, UNIQUE_VIOLATION } from '../database/transactions.js';
import { RequestError } from '../http/domain-error.js';
import { AccountsError, AccountsErrorCode as Code } from './accounts.errors.js';
import { AccountsRepository, type Account, type Agent, type Person, type Unit, type UnitMembership } from './accounts.repository.js';
import { allocationText, ORG_BUDGETS, type OrgBudgets } from './org-budgets.port.js';
import type {
  CreateAccountBody,
  CreateAgentBody,
  CreatePersonBody,
  CreateUnitBody,
  UpdateAccountBody,
  UpdatePersonBody,
} from './accounts.schemas.js';

async function uniquely<T>(work: Promise<T>, onDuplicate: () => AccountsError): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (sqlState(error) === UNIQUE_VIOLATION) throw onDuplicate();
    throw error;
  }
}

@Injectable()
export class AccountsService {
  constructor(
    private readonly repository: AccountsRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly keyCache: KeyCache,
    @Optional() @Inject(ORG_BUDGETS) private readonly budgets: OrgBudgets | null = null,
  ) {}

  createAccount(actor: Actor, body: CreateAccountBody): Promise<Account> {
    return this.transactions.run(async (tx) => {
      const account = await uniquely(
        this.repository.insertAccount(tx, {
          id: body.id,
          name: body.name,
          currency: body.currency,
          paid_enterprise: body.paid_enterprise ?? false,
          fiscal_year_start_month: body.fiscal_year_start_month ?? 1,
          task_inactivity_timeout_seconds: body.task_inactivity_timeout_seconds ?? 86_400,
          created_at: this.clock.now(),
        }),
        () => new AccountsError(Code.AccountExists, `Account "${body.id}" already exists.`, { field: 'id' }),
      );
      await this.audit.record(tx, actor, {
        action: 'account.create',
        entityType: 'account',
        entityId: account.id,
        accountId: account.id,
        before: null,
        after: account,
      });
      return account;
    });
  }

  async getAccount(id: string): Promise<Account> {
    const account = await this.repository.findAccount(id);
    if (!account) throw new AccountsError(Code.AccountNotFound, `Account "${id}" was not found.`);
    return account;
  }

  listAccounts(after: string | null, limit: number): Promise<Account[]> {
    return this.repository.listAccounts(after, limit);
  }

  updateAccount(actor: Actor, id: string, body: UpdateAccountBody): Promise<Account> {
    return this.transactions.run(async (tx) => {
      const before = await this.repository.findAccount(id, tx, true);
      if (!before) throw new AccountsError(Code.AccountNotFound, `Account "${id}" was not found.`);
      const now = this.clock.now();
      const month = body.fiscal_year_start_month;
      if (month !== undefined && month !== before.fiscal_year_start_month && this.budgets) {
        const open = await this.budgets.openBudgets(tx, id, now);
        if (open > 0) {
          throw new AccountsError(
            Code.FiscalCalendarInUse,
            `${open} budget${open === 1 ? ' is' : 's are'} set on periods of the fiscal year starting in month ${before.fiscal_year_start_month} that have not ended; ` +
              'remove them (or wait until their periods end) before changing fiscal_year_start_month.',
            { field: 'fiscal_year_start_month' },
          );
        }
      }
      const after = await this.repository.updateAccount(tx, { ...before, ...body, updated_at: now });
      await this.audit.record(tx, actor, {
        action: 'account.update',
        entityType: 'account',
        entityId: id,
        accountId: id,
        before,
        after,
      });
      return after;
    });
  }

  createUnit(actor: Actor, accountId: string, body: CreateUnitBody): Promise<Unit> {
    return this.transactions.run(async (tx) => {
      await this.requireAccount(tx, accountId);
      const parentId = body.parent_id ?? null;
      if (parentId !== null && !(await this.repository.findUnit(accountId, parentId, tx))) {
        throw new AccountsError(Code.ParentUnitNotFound, `Parent unit "${parentId}" does not exist.`, { field: 'parent_id' });
      }
      const unit = await uniquely(
        this.repository.insertUnit(tx, accountId, {
          id: body.id,
          name: body.name,
          kind: body.kind,
          parent_id: parentId,
          created_at: this.clock.now(),
        }),
        () => new AccountsError(Code.UnitExists, `Unit "${body.id}" already exists.`, { field: 'id' }),
      );
      await this.audit.record(tx, actor, { action: 'unit.create', entityType: 'unit', entityId: unit.id, accountId, before: null, after: unit });
      return unit;
    });
  }

  async listUnits(accountId: string): Promise<Unit[]> {
    await this.requireAccount(undefined, accountId);
    return this.repository.listUnits(accountId);
  }

  createPerson(actor: Actor, accountId: string, body: CreatePersonBody): Promise<Person> {
    return this.transactions.run(async (tx) => {
      await this.requireAccount(tx, accountId);
      await this.requireUnit(tx, accountId, body.unit_id);
      const now = this.clock.now();
      const person = await uniquely(
        this.repository.insertPerson(tx, accountId, {
          id: body.id,
          name: body.name,
          unit_id: body.unit_id,
          active: true,
          created_at: now,
          deactivated_at: null,
        }),
        () => new AccountsError(Code.PersonExists, `Person "${body.id}" already exists.`, { field: 'id' }),
      );
      await this.repository.insertMembership(tx, accountId, person.id, { unit_id: body.unit_id, effective_from: now, recorded_at: now });
      await this.audit.record(tx, actor, { action: 'person.create', entityType: 'person', entityId: person.id, accountId, before: null, after: person });
      return person;
    });
  }

  async getPerson(accountId: string, id: string): Promise<Person & { units: UnitMembership[] }> {
    const person = await this.repository.findPerson(accountId, id);
    if (!person) throw new AccountsError(Code.PersonNotFound, `Person "${id}" was not found.`);
    return { ...person, units: await this.repository.listMemberships(accountId, id) };
  }

  async listPeople(accountId: string, unitId: string | null): Promise<Person[]> {
    await this.requireAccount(undefined, accountId);
    return this.repository.listPeople(accountId, unitId);
  }

  updatePerson(actor: Actor, accountId: string, id: string, body: UpdatePersonBody): Promise<Person> {
    return this.transactions.run(async (tx) => {
      const before = await this.repository.findPerson(accountId, id, tx, true);
      if (!before) throw new AccountsError(Code.PersonNotFound, `Person "${id}" was not found.`);
      const now = this.clock.now();
      let unitId = before.unit_id;
      if (body.unit_id !== undefined && body.unit_id !== before.unit_id) {
        await this.requireUnit(tx, accountId, body.unit_id);
        const effectiveFrom = body.effective_from ? new Date(body.effective_from) : now;
        if (effectiveFrom.getTime() > now.getTime()) {
          throw new AccountsError(Code.MoveInFuture, 'A unit move cannot take effect in the future.', { field: 'effective_from' });
        }
        const history = await this.repository.listMemberships(accountId, id, tx);
        const latest = history[history.length - 1];
        if (latest && effectiveFrom.getTime() <= latest.effective_from.getTime()) {
          throw new AccountsError(
            Code.MoveOutOfOrder,
            `A unit move must take effect after the last one (${latest.effective_from.toISOString()}).`,
            { field: 'effective_from' },
          );
        }
        // The person's budgets move with them: their new unit (and the units above it) must hold them.
        const over = this.budgets ? await this.budgets.moveOverAllocation(tx, accountId, id, body.unit_id, now) : null;
        if (over) {
          throw new AccountsError(
            Code.MoveOverAllocates,
            `Moving "${id}" into unit "${body.unit_id}" would over-allocate ${over.parent} for ${over.period}: it allocates ${allocationText(over.measure, over.allocated)}, ` +
              `its children would take ${over.children}, ${over.over} more. Raise ${over.parent}'s budget or lower person:${id}'s first.`,
            { field: 'unit_id', parent: over.parent, measure: over.measure, over: over.over, period: over.period },
          );
        }
        await this.repository.insertMembership(tx, accountId, id, { unit_id: body.unit_id, effective_from: effectiveFrom, recorded_at: now });
        unitId = body.unit_id;
      }
      const after = await this.repository.updatePerson(tx, accountId, { ...before, name: body.name ?? before.name, unit_id: unitId });
      await this.audit.record(tx, actor, {
        action: unitId !== before.unit_id ? 'person.move' : 'person.update',
        entityType: 'person',
        entityId: id,
        accountId,
        before,
        after: { ...after, effective_from: body.effective_from ?? null },
      });
      return after;
    });
  }

  async deactivatePerson(actor: Actor, accountId: string, id: string): Promise<Person> {
    // Its keys (and its agents' keys) stop working: forget what the guard remembers once this commits.
    const result = await this.transactions.run(async (tx) => {
      const before = await this.repository.findPerson(accountId, id, tx, true);
      if (!before) throw new AccountsError(Code.PersonNotFound, `Person "${id}" was not found.`);
      if (!before.active) return before;
      const after = await this.repository.updatePerson(tx, accountId, { ...before, active: false, deactivated_at: this.clock.now() });
      await this.audit.record(tx, actor, { action: 'person.deactivate', entityType: 'person', entityId: id, accountId, before, after });
      return after;
    });
    this.keyCache.forgetAll();
    return result;
  }

  /** A member (or an agent's owner) may only create agents owned by themselves. */
  createAgent(principal: Principal, actor: Actor, accountId: string, body: CreateAgentBody): Promise<Agent> {
    return this.transactions.run(async (tx) => {
      await this.requireAccount(tx, accountId);
      if (principal.role === 'member' && principal.personId !== body.owner_person_id) {
        // Not allowed, not missing: the person may well exist (a member reads the org tree).
        throw new RequestError('forbidden', `A member key creates only agents it owns: "owner_person_id" must be "${principal.personId}".`, { field: 'owner_person_id' }, 'forbidden');
      }
      const owner = await this.repository.findPerson(accountId, body.owner_person_id, tx);
      if (!owner) {
        throw new AccountsError(Code.OwnerNotFound, `Person "${body.owner_person_id}" does not exist.`, { field: 'owner_person_id' });
      }
      if (!owner.active) {
        throw new AccountsError(Code.PersonInactive, `Person "${owner.id}" is no longer active.`, { field: 'owner_person_id' });
      }
      const agent = await uniquely(
        this.repository.insertAgent(tx, accountId, { ...body, active: true, created_at: this.clock.now() }),
        () => new AccountsError(Code.AgentExists, `Agent "${body.id}" already exists.`, { field: 'id' }),
      );
      await this.audit.record(tx, actor, { action: 'agent.create', entityType: 'agent', entityId: agent.id, accountId, before: null, after: agent });
      return agent;
    });
  }

  async listAgents(accountId: string, ownerPersonId: string | null): Promise<Agent[]> {
    await this.requireAccount(undefined, accountId);
    return this.repository.listAgents(accountId, ownerPersonId);
  }

  async getAgent(accountId: string, id: string): Promise<Agent> {
    const agent = await this.repository.findAgent(accountId, id);
    if (!agent) throw new AccountsError(Code.AgentNotFound, `Agent "${id}" was not found.`);
    return agent;
  }

  async deactivateAgent(actor: Actor, accountId: string, id: string): Promise<Agent> {
    // Its keys (and its agents' keys) stop working: forget what the guard remembers once this commits.
    const result = await this.transactions.run(async (tx) => {
      const before = await this.repository.findAgent(accountId, id, tx);
      if (!before) throw new AccountsError(Code.AgentNotFound, `Agent "${id}" was not found.`);
      if (!before.active) return before;
      const after = (await this.repository.setAgentActive(tx, accountId, id, false))!;
      await this.audit.record(tx, actor, { action: 'agent.deactivate', entityType: 'agent', entityId: id, accountId, before, after });
      return after;
    });
    this.keyCache.forgetAll();
    return result;
  }

  private async requireAccount(tx: Tx | undefined, accountId: string): Promise<Account> {
    const account = await this.repository.findAccount(accountId, tx);
    if (!account) throw new AccountsError(Code.AccountNotFound, `Account "${accountId}" was not found.`);
    return account;
  }

  private async requireUnit(tx: Tx, accountId: string, unitId: string): Promise<Unit> {
    const unit = await this.repository.findUnit(accountId, unitId, tx);
    if (!unit) throw new AccountsError(Code.UnitNotFound, `Unit "${unitId}" does not exist.`, { field: 'unit_id' });
    return unit;
  }
}
