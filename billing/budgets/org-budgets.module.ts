// Binds the accounts' port (ORG_BUDGETS) to the budgets that rest on the account's org: its fiscal calendar
// and its tree. Global so that accounts resolves the token without importing billing: dependencies keep
// pointing to src.
import { Global, Injectable, Module } from '@nestjs/common';
import { ORG_BUDGETS, type MoveOverAllocation, type OrgBudgets } from '../../src/accounts/org-budgets.port.js';
import type { Tx } from '../../src/database/data-source.js';
import { newOverAllocation, type OrgTree } from './budget-math.js';
import { BudgetsDataModule } from './budgets-data.module.js';
import { BudgetsRepository, type BudgetRow } from './budgets.repository.js';
import { allocationOf } from './budgets.service.js';
import { OrgTrees } from './org-trees.js';

@Injectable()
export class BudgetsOnOrg implements OrgBudgets {
  constructor(
    private readonly budgets: BudgetsRepository,
    private readonly trees: OrgTrees,
  ) {}

  /** Under the account's budget lock, which a budget write takes before it reads the calendar. */
  async openBudgets(tx: Tx, account: string, now: Date): Promise<number> {
    await this.budgets.lockAccount(tx, account);
    return this.budgets.countOpen(tx, account, now);
  }

  /**
   * Under the account's budget lock, which a budget write takes before it reads the tree: each period that
   * has not ended is checked as a budget write checks it (budget-math.ts, newOverAllocation), with the
   * person in their new unit. What was over-allocated before (and is not more so) does not count.
   */
  async moveOverAllocation(tx: Tx, account: string, person: string, unit: string, now: Date): Promise<MoveOverAllocation | null> {
    await this.budgets.lockAccount(tx, account);
    const rows = await this.budgets.open(tx, account, now);
    if (!rows.some((r) => r.node === `person:${person}`)) return null;
    const { tree } = await this.trees.load(tx, account);
    const moved: OrgTree = { unitParent: tree.unitParent, personUnit: new Map(tree.personUnit).set(person, unit) };
    const periods = new Map<string, BudgetRow[]>();
    for (const r of rows) {
      const key = `${r.period_kind}:${r.period_start}`;
      periods.set(key, [...(periods.get(key) ?? []), r]);
    }
    for (const [period, budgets] of periods) {
      if (!budgets.some((r) => r.node === `person:${person}`)) continue;
      const allocations = budgets.map(allocationOf);
      const over = newOverAllocation(tree, allocations, allocations, moved);
      if (over) return { parent: over.parent, measure: over.measure, allocated: over.allocated, children: over.children, over: over.over, period };
    }
    return null;
  }
}

@Global()
@Module({
  imports: [BudgetsDataModule],
  providers: [BudgetsOnOrg, { provide: ORG_BUDGETS, useExisting: BudgetsOnOrg }],
  exports: [ORG_BUDGETS],
})
export class OrgBudgetsModule {}
