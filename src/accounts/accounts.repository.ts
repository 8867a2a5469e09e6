// Only this file touches accounts, units, people, person_unit_history and agents.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryRows } from '../database/sql.js';
import type { Tx } from '../database/data-source.js';

export interface Account {
  id: string;
  name: string;
  currency: string;
  paid_enterprise: boolean;
  fiscal_year_start_month: number;
  task_inactivity_timeout_seconds: number;
  created_at: Date;
  updated_at: Date;
}

export interface Unit {
  id: string;
  name: string;
  kind: 'department' | 'team';
  parent_id: string | null;
  created_at: Date;
}

export interface Person {
  id: string;
  name: string;
  unit_id: string;
  active: boolean;
  created_at: Date;
  deactivated_at: Date | null;
}

export interface UnitMembership {
  unit_id: string;
  effective_from: Date;
  recorded_at: Date;
}

export interface Agent {
  id: string;
  name: string;
  owner_person_id: string;
  active: boolean;
  created_at: Date;
}

const ACCOUNT_COLUMNS =
  'id, name, currency, paid_enterprise, fiscal_year_start_month, task_inactivity_timeout_seconds, created_at, updated_at';
const PERSON_COLUMNS = 'id, name, unit_id, active, created_at, deactivated_at';

type Db = Tx | DataSource;

@Injectable()
export class AccountsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insertAccount(tx: Tx, a: Omit<Account, 'updated_at'>): Promise<Account> {
    const rows = (await queryRows<Account>(tx, `INSERT INTO accounts (id, name, currency, paid_enterprise, fiscal_year_start_month,
                             task_inactivity_timeout_seconds, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING ${ACCOUNT_COLUMNS}`,
      [a.id, a.name, a.currency, a.paid_enterprise, a.fiscal_year_start_month, a.task_inactivity_timeout_seconds, a.created_at],
    ));
    return rows[0]!;
  }

  async findAccount(id: string, db: Db = this.dataSource, forUpdate = false): Promise<Account | null> {
    const rows = (await queryRows<Account>(db, `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [id],
    ));
    return rows[0] ?? null;
  }

  async listAccounts(after: string | null, limit: number): Promise<Account[]> {
    return (await queryRows<Account>(this.dataSource, `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2`,
      [after, limit],
    ));
  }

  async updateAccount(tx: Tx, a: Account): Promise<Account> {
    const rows = (await queryRows<Account>(tx, `UPDATE accounts SET name = $2, paid_enterprise = $3, fiscal_year_start_month = $4,
              task_inactivity_timeout_seconds = $5, updated_at = $6
        WHERE id = $1 RETURNING ${ACCOUNT_COLUMNS}`,
      [a.id, a.name, a.paid_enterprise, a.fiscal_year_start_month, a.task_inactivity_timeout_seconds, a.updated_at],
    ));
    return rows[0]!;
  }

  async insertUnit(tx: Tx, accountId: string, u: Unit): Promise<Unit> {
    const rows = (await queryRows<Unit>(tx, `INSERT INTO units (account_id, id, name, kind, parent_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING id, name, kind, parent_id, created_at`,
      [accountId, u.id, u.name, u.kind, u.parent_id, u.created_at],
    ));
    return rows[0]!;
  }

  async findUnit(accountId: string, id: string, db: Db = this.dataSource): Promise<Unit | null> {
    const rows = (await queryRows<Unit>(db, 'SELECT id, name, kind, parent_id, created_at FROM units WHERE account_id = $1 AND id = $2',
      [accountId, id],
    ));
    return rows[0] ?? null;
  }

  async listUnits(accountId: string, db: Db = this.dataSource): Promise<Unit[]> {
    return (await queryRows<Unit>(db, 'SELECT id, name, kind, parent_id, created_at FROM units WHERE account_id = $1 ORDER BY id',
      [accountId],
    ));
  }

  async insertPerson(tx: Tx, accountId: string, p: Person): Promise<Person> {
    const rows = (await queryRows<Person>(tx, `INSERT INTO people (account_id, id, name, unit_id, active, created_at) VALUES ($1, $2, $3, $4, true, $5)
       RETURNING ${PERSON_COLUMNS}`,
      [accountId, p.id, p.name, p.unit_id, p.created_at],
    ));
    return rows[0]!;
  }

  async findPerson(accountId: string, id: string, db: Db = this.dataSource, forUpdate = false): Promise<Person | null> {
    const rows = (await queryRows<Person>(db, `SELECT ${PERSON_COLUMNS} FROM people WHERE account_id = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
      [accountId, id],
    ));
    return rows[0] ?? null;
  }

  async listPeople(accountId: string, unitId: string | null): Promise<Person[]> {
    return (await queryRows<Person>(this.dataSource, `SELECT ${PERSON_COLUMNS} FROM people WHERE account_id = $1 AND ($2::text IS NULL OR unit_id = $2) ORDER BY id`,
      [accountId, unitId],
    ));
  }

  async updatePerson(tx: Tx, accountId: string, p: Person): Promise<Person> {
    const rows = (await queryRows<Person>(tx, `UPDATE people SET name = $3, unit_id = $4, active = $5, deactivated_at = $6
        WHERE account_id = $1 AND id = $2 RETURNING ${PERSON_COLUMNS}`,
      [accountId, p.id, p.name, p.unit_id, p.active, p.deactivated_at],
    ));
    return rows[0]!;
  }

  async insertMembership(tx: Tx, accountId: string, personId: string, m: UnitMembership): Promise<void> {
    await tx.query(
      `INSERT INTO person_unit_history (account_id, person_id, unit_id, effective_from, recorded_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [accountId, personId, m.unit_id, m.effective_from, m.recorded_at],
    );
  }

  async listMemberships(accountId: string, personId: string, db: Db = this.dataSource): Promise<UnitMembership[]> {
    return (await queryRows<UnitMembership>(db, `SELECT unit_id, effective_from, recorded_at FROM person_unit_history
        WHERE account_id = $1 AND person_id = $2 ORDER BY effective_from`,
      [accountId, personId],
    ));
  }

  async insertAgent(tx: Tx, accountId: string, a: Agent): Promise<Agent> {
    const rows = (await queryRows<Agent>(tx, `INSERT INTO agents (account_id, id, name, owner_person_id, active, created_at) VALUES ($1, $2, $3, $4, true, $5)
       RETURNING id, name, owner_person_id, active, created_at`,
      [accountId, a.id, a.name, a.owner_person_id, a.created_at],
    ));
    return rows[0]!;
  }

  async findAgent(accountId: string, id: string, db: Db = this.dataSource): Promise<Agent | null> {
    const rows = (await queryRows<Agent>(db, 'SELECT id, name, owner_person_id, active, created_at FROM agents WHERE account_id = $1 AND id = $2',
      [accountId, id],
    ));
    return rows[0] ?? null;
  }

  async listAgents(accountId: string, ownerPersonId: string | null): Promise<Agent[]> {
    return (await queryRows<Agent>(this.dataSource, `SELECT id, name, owner_person_id, active, created_at FROM agents
        WHERE account_id = $1 AND ($2::text IS NULL OR owner_person_id = $2) ORDER BY id`,
      [accountId, ownerPersonId],
    ));
  }

  async setAgentActive(tx: Tx, accountId: string, id: string, active: boolean): Promise<Agent | null> {
    const rows = (await queryRows<Agent>(tx, `UPDATE agents SET active = $3 WHERE account_id = $1 AND id = $2
       RETURNING id, name, owner_person_id, active, created_at`,
      [accountId, id, active],
    ));
    return rows[0] ?? null;
  }
}
