// Which levels a caller's holds go against, per account, person and agent: the hard budgets on the
// person's path (nearest first: person, each unit up the tree, account; each period kind's current
// period), the agent's cap, the account's own levels (the credit balance when its plan blocks overage),
// and the session contexts that have a cap. Kept per process for a second (and
// never past the end of the current month, when every period key may change), so the hot path reads
// nothing from PostgreSQL; a change made through this process (a cap) is seen at once.
import { Injectable } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { AccountsRepository } from '../../src/accounts/accounts.repository.js';
import { levels, periodOf, type SessionContext } from './counters.js';
import { CapsRepository } from './caps.repository.js';
import { LimitRegistry } from './limit-registry.js';
import { pathNodes, unitChain } from './levels.js';

export interface PathPlan {
  /** Budget and agent-cap levels, nearest first. */
  levels: string[];
  /** Session contexts with a cap: a session of one of them holds against its own level too. */
  sessionCaps: ReadonlySet<SessionContext>;
  /** Clock time (ms) until which the period keys hold. */
  validUntil: number;
  loadedAt: number;
}

@Injectable()
export class PathPlans {
  static readonly TTL_MS = 1000;
  private readonly plans = new Map<string, PathPlan>();
  private generation = new Map<string, number>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly accounts: AccountsRepository,
    private readonly caps: CapsRepository,
    private readonly registry: LimitRegistry,
  ) {}

  /** Forgets an account's plans: the next hold reads them again (after a cap or budget change here). */
  invalidate(account: string): void {
    this.generation.set(account, (this.generation.get(account) ?? 0) + 1);
    for (const key of this.plans.keys()) if (key.startsWith(`${account}\u0000`)) this.plans.delete(key);
  }

  async plan(account: string, personId: string, agentId: string | null, now: Date): Promise<PathPlan | null> {
    const key = `${account}\u0000${personId}\u0000${agentId ?? ''}`;
    const cached = this.plans.get(key);
    if (cached && now.getTime() < cached.validUntil && performance.now() - cached.loadedAt < PathPlans.TTL_MS) return cached;
    const generation = this.generation.get(account) ?? 0;
    const plan = await this.load(account, personId, agentId, now);
    if (plan && generation === (this.generation.get(account) ?? 0)) this.plans.set(key, plan);
    return plan;
  }

  private async load(account: string, personId: string, agentId: string | null, now: Date): Promise<PathPlan | null> {
    const loadedAt = performance.now();
    const [acct, person, units, caps] = await Promise.all([
      this.accounts.findAccount(account),
      this.accounts.findPerson(account, personId),
      this.accounts.listUnits(account),
      this.caps.list(account),
    ]);
    if (!acct || !person) return null;
    const chain = unitChain(person.unit_id, new Map(units.map((u) => [u.id, u.parent_id])));
    const out = await this.registry.hardBudgetLevels(this.dataSource, account, pathNodes(personId, chain), now);
    const agentCap = agentId === null ? undefined : caps.find((c) => c.scope === 'agent' && c.subject === agentId);
    if (agentCap) out.push(levels.agent(agentId!, periodOf(agentCap.period_kind!, acct.fiscal_year_start_month, now)));
    out.push(...(await this.registry.accountLevels(account, now)));
    const sessionCaps = new Set(caps.filter((c) => c.scope === 'session').map((c) => c.subject as SessionContext));
    return { levels: out, sessionCaps, validUntil: periodOf('month', acct.fiscal_year_start_month, now).end.getTime(), loadedAt };
  }
}
