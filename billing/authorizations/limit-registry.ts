// Where each kind of level's limit comes from, registered at start by its owner: caps by this module,
// budgets by the budgets module (limits and which hard budgets exist on a path), credits by the credits
// module. A kind nobody registered has no limits (its levels never deny).
import { Injectable } from '@nestjs/common';
import type { Db } from '../../src/database/sql.js';
import { levelKind, type AccountLevelsPort, type BudgetNode, type HardBudgetsPort, type Limit, type LevelKind, type LimitSource, type Quantity } from './counters.js';

@Injectable()
export class LimitRegistry {
  private readonly sources = new Map<LevelKind, LimitSource>();
  private hardBudgets: HardBudgetsPort | null = null;
  private readonly accountLevelPorts: AccountLevelsPort[] = [];

  register(source: LimitSource): void {
    for (const kind of source.kinds) this.sources.set(kind, source);
  }

  registerHardBudgets(port: HardBudgetsPort): void {
    this.hardBudgets = port;
  }

  registerAccountLevels(port: AccountLevelsPort): void {
    this.accountLevelPorts.push(port);
  }

  /** Levels every hold of the account names (the credit balance when its plan blocks overage). */
  async accountLevels(db: Db, account: string, now: Date): Promise<string[]> {
    const out: string[] = [];
    for (const port of this.accountLevelPorts) out.push(...(await port.accountLevels(db, account, now)));
    return out;
  }

  /** Limits of the levels that have one now. */
  async limits(db: Db, account: string, levels: readonly string[], now: Date): Promise<Map<string, Limit>> {
    const out = new Map<string, Limit>();
    for (const [kind, list] of byKind(levels)) {
      const source = this.sources.get(kind);
      if (!source) continue;
      for (const [level, limit] of await source.limits(db, account, list, now)) out.set(level, limit);
    }
    return out;
  }

  /**
   * `spent` (the rollups' figures) with the spend of the levels whose owner keeps it replacing theirs:
   * what every engine loads and rebuilds a counter from.
   */
  async withOwnedSpend(db: Db, account: string, levels: readonly string[], now: Date, spent: Map<string, Quantity>): Promise<Map<string, Quantity>> {
    for (const [kind, list] of byKind(levels)) {
      const source = this.sources.get(kind);
      if (!source?.spent) continue;
      for (const [level, quantity] of await source.spent(db, account, list, now)) spent.set(level, quantity);
    }
    return spent;
  }

  /** The hard budget levels in force at `at` on these nodes; none until a budgets module registers. */
  async hardBudgetLevels(db: Db, account: string, nodes: readonly BudgetNode[], at: Date): Promise<string[]> {
    return this.hardBudgets ? this.hardBudgets.hardLevels(db, account, nodes, at) : [];
  }
}

function byKind(levels: readonly string[]): Map<LevelKind, string[]> {
  const out = new Map<LevelKind, string[]>();
  for (const level of levels) {
    const kind = levelKind(level);
    out.set(kind, [...(out.get(kind) ?? []), level]);
  }
  return out;
}
