// Which levels a caller's holds go against, per account, person and agent: the hard budgets on the
// person's path (nearest first: person, each unit up the tree, account; each period kind's current
// period), the agent's cap, the account's own levels (the credit balance when its plan blocks overage),
// the session contexts that have a cap, and the plan's tier caps in the billing period (tier-caps.ts). Kept per process for a second (and
// never past the end of the current month, when every period key may change), read again in the
// background once half that has passed, so the hot path reads nothing from PostgreSQL and waits for no
// load; a change made through this process (a cap) is seen at once.
import { Injectable } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { AccountsRepository } from '../../src/accounts/accounts.repository.js';
import type { Db } from '../../src/database/sql.js';
import { levels, periodOf, type SessionContext } from './counters.js';
import { CapsRepository } from './caps.repository.js';
import { LimitRegistry } from './limit-registry.js';
import { pathNodes, unitChain } from './levels.js';
import { TierCaps, tierCapLevels, type TierCapTerms } from './tier-caps.js';

export interface PathPlan {
  /** The unit the path starts at (the person's current one unless another was asked for). */
  unitId: string;
  /** Budget and agent-cap levels, nearest first. */
  levels: string[];
  /** Session contexts with a cap: a session of one of them holds against its own level too. */
  sessionCaps: ReadonlySet<SessionContext>;
  /** The plan's capped tiers, each to its level: a hold or event of a model of that tier holds or spends there too. */
  tierLevels: ReadonlyMap<string, string>;
  /**
   * Clock times (ms) between which the period keys hold: the calendar month of the instant planned for, cut
   * to its billing period when the plan caps a tier.
   */
  validFrom: number;
  validUntil: number;
  loadedAt: number;
}

interface AccountReads {
  acct: Awaited<ReturnType<AccountsRepository['findAccount']>>;
  units: Awaited<ReturnType<AccountsRepository['listUnits']>>;
  caps: Awaited<ReturnType<CapsRepository['list']>>;
  accountLevels: string[];
  tierTerms: TierCapTerms | null;
  /** performance.now() when the reads began. */
  at: number;
}

const NO_TIERS: ReadonlyMap<string, string> = new Map();

@Injectable()
export class PathPlans {
  static readonly TTL_MS = 1000;
  static readonly SHARED_MS = PathPlans.TTL_MS / 4;
  private readonly plans = new Map<string, PathPlan>();
  private readonly shared = new Map<string, { at: number; generation: number; reads: Promise<AccountReads> }>();
  /** Keys whose plan is being read again ahead of its expiry. */
  private readonly refreshing = new Set<string>();
  private generation = new Map<string, number>();
  private readonly invalidated: ((account: string) => void)[] = [];

  constructor(
    private readonly dataSource: DataSource,
    private readonly accounts: AccountsRepository,
    private readonly caps: CapsRepository,
    private readonly registry: LimitRegistry,
    private readonly tierCaps: TierCaps,
  ) {}

  /** Calls `listener` whenever an account's plans are forgotten (its caps or budgets changed here). */
  onInvalidate(listener: (account: string) => void): void {
    this.invalidated.push(listener);
  }

  /** Forgets an account's plans: the next hold reads them again (after a cap or budget change here). */
  invalidate(account: string): void {
    for (const listener of this.invalidated) listener(account);
    this.generation.set(account, (this.generation.get(account) ?? 0) + 1);
    for (const key of this.shared.keys()) if (key.startsWith(`${account}\u0000`)) this.shared.delete(key);
    for (const key of this.plans.keys()) if (key.startsWith(`${account}\u0000`)) this.plans.delete(key);
  }

  /**
   * The plan of a person's path at `now`: through their current unit, or through `unitId` when given (an
   * event's unit at its time; the same plan when that is the person's current unit). Plans of any instant
   * are cached by the month they hold for.
   */
  async plan(account: string, personId: string, agentId: string | null, now: Date, unitId: string | null = null, db: Db = this.dataSource): Promise<PathPlan | null> {
    const own = await this.cachedPlan(account, personId, agentId, now, null, db);
    if (unitId === null || own === null || own.unitId === unitId) return own;
    return this.cachedPlan(account, personId, agentId, now, unitId, db);
  }

  private async cachedPlan(account: string, personId: string, agentId: string | null, now: Date, unitId: string | null, db: Db): Promise<PathPlan | null> {
    const key = `${account}\u0000${personId}\u0000${agentId ?? ''}\u0000${unitId ?? ''}\u0000${now.getUTCFullYear() * 12 + now.getUTCMonth()}`;
    const cached = this.plans.get(key);
    const at = now.getTime();
    if (cached && at >= cached.validFrom && at < cached.validUntil) {
      const age = performance.now() - cached.loadedAt;
      if (age < PathPlans.TTL_MS) {
        // Past half its life a plan in use is read again in the background (never in a caller's
        // transaction), so under steady traffic no caller waits for a load; none is older than the TTL.
        if (age >= PathPlans.TTL_MS / 2 && db === this.dataSource && !this.refreshing.has(key)) {
          this.refreshing.add(key);
          void this.loadInto(key, account, personId, agentId, now, unitId, this.dataSource)
            .catch(() => undefined)
            .finally(() => this.refreshing.delete(key));
        }
        return cached;
      }
    }
    return this.loadInto(key, account, personId, agentId, now, unitId, db);
  }

  private async loadInto(key: string, account: string, personId: string, agentId: string | null, now: Date, unitId: string | null, db: Db): Promise<PathPlan | null> {
    const generation = this.generation.get(account) ?? 0;
    const plan = await this.load(account, personId, agentId, now, unitId, db);
    if (plan && generation === (this.generation.get(account) ?? 0)) this.plans.set(key, plan);
    return plan;
  }

  /** Read through `db`: inside the ingest write's transaction, its own connection (the embedded store has one). */
  private async load(account: string, personId: string, agentId: string | null, now: Date, unitId: string | null, db: Db): Promise<PathPlan | null> {
    const started = performance.now();
    const [shared, person] =
      db === this.dataSource
        ? await Promise.all([this.accountReads(account, now), this.accounts.findPerson(account, personId, db)])
        : [await this.readAccount(account, now, db, started), await this.accounts.findPerson(account, personId, db)];
    const { acct, units, caps, accountLevels, tierTerms } = shared;
    if (!acct || !person) return null;
    const start = unitId ?? person.unit_id;
    const chain = unitChain(start, new Map(units.map((u) => [u.id, u.parent_id])));
    const out = await this.registry.hardBudgetLevels(db, account, pathNodes(personId, chain), now);
    const agentCap = agentId === null ? undefined : caps.find((c) => c.scope === 'agent' && c.subject === agentId);
    if (agentCap) out.push(levels.agent(agentId!, periodOf(agentCap.period_kind!, acct.fiscal_year_start_month, now)));
    out.push(...accountLevels);
    const sessionCaps = new Set(caps.filter((c) => c.scope === 'session').map((c) => c.subject as SessionContext));
    const month = periodOf('month', acct.fiscal_year_start_month, now);
    const tiers = tierCapLevels(tierTerms, now);
    const validFrom = Math.max(month.start.getTime(), tiers?.period.start.getTime() ?? -Infinity);
    const validUntil = Math.min(month.end.getTime(), tiers?.period.end.getTime() ?? Infinity);
    // As old as the oldest read it rests on.
    return { unitId: start, levels: out, sessionCaps, tierLevels: tiers?.byTier ?? NO_TIERS, validFrom, validUntil, loadedAt: Math.min(started, shared.at) };
  }

  /**
   * What every plan of an account reads alike (the account, its units, its caps, its own levels, its tier caps), shared by
   * the plans of the account loaded within SHARED_MS of each other: the plans of an account's agents are
   * read again every half second under load, and each read the same five things (a hundred and twenty queries a second
   * for 15 agents). A shared read is never older than SHARED_MS when a plan takes it, and the plan counts
   * its age from it, so no plan is older than TTL_MS. An invalidation starts a fresh one.
   */
  private accountReads(account: string, now: Date): Promise<AccountReads> {
    const key = `${account}\u0000${now.getUTCFullYear() * 12 + now.getUTCMonth()}`;
    const generation = this.generation.get(account) ?? 0;
    const hit = this.shared.get(key);
    if (hit && hit.generation === generation && performance.now() - hit.at < PathPlans.SHARED_MS) return hit.reads;
    if (this.shared.size >= 10_000) this.shared.clear();
    const at = performance.now();
    const entry = { at, generation, reads: this.readAccount(account, now, this.dataSource, at) };
    this.shared.set(key, entry);
    entry.reads.catch(() => {
      if (this.shared.get(key) === entry) this.shared.delete(key);
    });
    return entry.reads;
  }

  /** In parallel over the pool; one after the other on a transaction's connection (one query at a time). */
  private async readAccount(account: string, now: Date, db: Db, at: number): Promise<AccountReads> {
    const reads = [
      () => this.accounts.findAccount(account, db),
      () => this.accounts.listUnits(account, db),
      () => this.caps.list(account, db),
      () => this.registry.accountLevels(db, account, now),
      () => this.tierCaps.terms(db, account),
    ] as const;
    const [acct, units, caps, accountLevels, tierTerms] =
      db === this.dataSource
        ? await Promise.all([reads[0](), reads[1](), reads[2](), reads[3](), reads[4]()])
        : [await reads[0](), await reads[1](), await reads[2](), await reads[3](), await reads[4]()];
    return { acct, units, caps, accountLevels, tierTerms, at };
  }
}
