// The account's org tree as budgets see it: units with their parents, people with their unit now, and
// their agents. Read in the caller's transaction (the embedded store has one connection).
import { Injectable } from '@nestjs/common';
import { queryRows, type Db } from '../../src/database/sql.js';
import type { OrgTree } from './budget-math.js';

export interface Org {
  tree: OrgTree;
  people: { id: string; unit_id: string; active: boolean }[];
  agents: { id: string; owner_person_id: string; active: boolean }[];
}

@Injectable()
export class OrgTrees {
  async load(db: Db, account: string): Promise<Org> {
    const units = await queryRows<{ id: string; parent_id: string | null }>(db, 'SELECT id, parent_id FROM units WHERE account_id = $1', [account]);
    const people = await queryRows<Org['people'][number]>(db, 'SELECT id, unit_id, active FROM people WHERE account_id = $1 ORDER BY id', [account]);
    const agents = await queryRows<Org['agents'][number]>(db, 'SELECT id, owner_person_id, active FROM agents WHERE account_id = $1 ORDER BY id', [account]);
    return {
      tree: { unitParent: new Map(units.map((u) => [u.id, u.parent_id])), personUnit: new Map(people.map((p) => [p.id, p.unit_id])) },
      people,
      agents,
    };
  }
}
