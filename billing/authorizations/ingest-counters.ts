// Billing's side of the ingest port (metering/ingest/usage-counters.port.ts): which counter levels an
// event's spend goes to (the hard budgets on its path at its time, its agent's cap, its session's cap, the
// plan's cap on its model's tier, the account's credit balance when its plan blocks overage),
// each named reservation committed and all the spend added in the ingest write (its transaction, or its
// one statement with Redis), and the budget left on the tightest node of each event's path; and, after a
// repricing committed, those levels read again from PostgreSQL.
import { Inject, Injectable } from '@nestjs/common';
import type { Tx } from '../../src/database/data-source.js';
import type { Db } from '../../src/database/sql.js';
import type { MeteredEvent, UsageCounters, UsageCountersStatement, UsageCountersWrite, UsageReading } from '../../metering/ingest/usage-counters.port.js';
import { EXACT_SCALE, toScaledInteger } from './counter-math.js';
import { COUNTERS_ENGINE, levels, type CountersEngine, type LevelFigures, type ReservationOutcome, type UsageItem } from './counters.js';
import { PathPlans, type PathPlan } from './path-plans.js';
import { combinedParams, splitCounted } from './reservations.repository.js';

@Injectable()
export class IngestCounters implements UsageCounters {
  constructor(
    @Inject(COUNTERS_ENGINE) private readonly engine: CountersEngine,
    private readonly plans: PathPlans,
  ) {}

  async engaged(account: string, events: readonly MeteredEvent[]): Promise<boolean> {
    const paths = new PathsOf(this.plans, account);
    for (const e of events) {
      if (e.reservation_id !== null) return true;
      // Before the write an event without a unit is taken to be in its person's current unit.
      const path = paths.known(e) ?? (await paths.load(e));
      if (path.levels.length > 0) return true;
    }
    return false;
  }

  async record(tx: Tx, account: string, events: readonly MeteredEvent[], now: Date): Promise<UsageCountersWrite> {
    const usage = await this.usageOf(account, events, tx);
    if (usage === null) return { readings: new Map(), afterCommit: async () => undefined, afterRollback: async () => undefined };
    const write = await this.engine.recordUsage(tx, account, { items: usage.items, read: usage.read, now });
    return { readings: readingsOf(events, usage.budgetLevels, write.result), afterCommit: write.afterCommit, afterRollback: write.afterRollback };
  }

  async prepare(account: string, events: readonly MeteredEvent[], now: Date): Promise<UsageCountersStatement | null> {
    if (!this.engine.recordUsageBefore) return null;
    const usage = await this.usageOf(account, events);
    if (usage === null) return null;
    const before = await this.engine.recordUsageBefore(account, { items: usage.items, read: usage.read, now });
    return {
      units: usage.units,
      sql: before.sql,
      params: before.params,
      settle: async (counted) => {
        const settled = await before.settle(counted);
        return { readings: readingsOf(events, usage.budgetLevels, settled.result), afterCommit: settled.afterCommit };
      },
      afterRollback: before.afterRollback,
    };
  }

  /**
   * The levels the events' spend is counted on (their paths at their time, as ingest counted them: the hard
   * budgets, the agent's cap, the session's cap, the credit balance) read again from PostgreSQL, which has
   * the new cost in the rollups (and, for the credits level, in the usage not yet booked): spend set to
   * PostgreSQL's, holds kept, exact while ingest and holds go on (counters.ts, refresh and refreshWith:
   * inside the repricing's transaction with PostgreSQL, after its commit with Redis, a process dying in
   * between leaving the account to be rebuilt). A rebuild would be exact too but recomputes every level.
   */
  async spendChanged(tx: Tx, account: string, events: readonly MeteredEvent[], now: Date): Promise<{ afterCommit(): Promise<void>; afterRollback(): Promise<void> }> {
    const paths = new PathsOf(this.plans, account, tx);
    const touched = new Set<string>();
    for (const e of events) {
      const path = paths.known(e) ?? (await paths.load(e));
      for (const l of path.levels) touched.add(l);
    }
    if (touched.size === 0) return { afterCommit: async () => undefined, afterRollback: async () => undefined };
    const write = await this.engine.refreshWith(tx, account, [...touched], now);
    return { afterCommit: write.afterCommit, afterRollback: write.afterRollback };
  }

  /**
   * Parts prepared one per request while it waited for its group (their room used in Redis already), written
   * by the group's one statement: every write journalled, every named reservation committed in order, and
   * each part settled with its own share of the answer (see splitCounted).
   */
  combine(parts: readonly UsageCountersStatement[], now: Date): UsageCountersStatement {
    if (parts.length === 1) return parts[0]!;
    const units = new Map<string, string | null>();
    for (const p of parts) for (const [id, unit] of p.units) units.set(id, unit);
    const writes = parts.map((p) => p.params);
    return {
      units,
      sql: parts[0]!.sql,
      params: combinedParams(writes, now),
      settle: async (counted) => {
        const shares = splitCounted(counted, writes);
        const readings = new Map<string, UsageReading>();
        const confirms: (() => Promise<void>)[] = [];
        for (const [i, p] of parts.entries()) {
          const settled = await p.settle(shares[i]);
          for (const [id, r] of settled.readings) readings.set(id, r);
          confirms.push(settled.afterCommit);
        }
        return { readings, afterCommit: async () => void (await Promise.all(confirms.map((c) => c()))) };
      },
      afterRollback: async () => void (await Promise.all(parts.map((p) => p.afterRollback()))),
    };
  }

  /**
   * What the events spend where (read through `db`, the write's transaction when there is one): per event
   * its item (and, when its plan blocks overage, one on the credits level after all of the events' own, so
   * items[i] is still event i's), its budget levels, the levels to read, and the unit its path starts at.
   * Null when nothing is to be counted.
   */
  private async usageOf(
    account: string,
    events: readonly MeteredEvent[],
    db?: Db,
  ): Promise<{ items: UsageItem[]; budgetLevels: string[][]; read: string[]; units: Map<string, string | null> } | null> {
    const items: UsageItem[] = [];
    const budgetLevels: string[][] = [];
    const units = new Map<string, string | null>();
    // The credits level counts money only: its spend in PostgreSQL is the ledger's (credits-limits.ts),
    // which has no tokens.
    const creditItems: UsageItem[] = [];
    const paths = new PathsOf(this.plans, account, db);
    // Budget levels to read, each once.
    const read = new Set<string>();
    let counted = false;
    for (const e of events) {
      const path = paths.known(e) ?? (await paths.load(e));
      if (path.unitId !== undefined) units.set(e.event_id, path.unitId);
      budgetLevels.push(path.budget);
      if (path.budget !== NONE) for (const l of path.budget) read.add(l);
      if (e.reservation_id !== null || path.own.length > 0) counted = true;
      items.push({ reservationId: e.reservation_id, agentId: e.agent_id, personId: e.person_id, levels: path.own, actual: { amount: e.cost ?? '0', tokens: e.tokens } });
      if (path.credits) creditItems.push({ reservationId: null, agentId: e.agent_id, personId: e.person_id, levels: CREDITS, actual: { amount: e.cost ?? '0', tokens: 0 } });
    }
    items.push(...creditItems);
    if (!counted && creditItems.length === 0) return null;
    return { items, budgetLevels, read: [...read], units };
  }
}

const NONE: string[] = [];
const CREDITS: readonly string[] = [levels.credits()];

/** An event's path as usage needs it: every level, its own (all but credits), its budgets, the unit it starts at. */
interface EventPath {
  levels: readonly string[];
  own: readonly string[];
  budget: string[];
  credits: boolean;
  unitId?: string;
}

const NO_PATH: EventPath = { levels: NONE, own: NONE, budget: NONE, credits: false };

/**
 * The paths of one call's events: each plan asked of PathPlans once per person, agent, unit and month
 * (the plans' own cache key: the events of a request mostly share one), and the levels derived from a plan
 * once per plan, so an event costs a map lookup, not an await and three array copies.
 */
class PathsOf {
  private readonly byKey = new Map<string, PathPlan | null>();
  /** Per plan, the path of events of each tier ('' for a tier without a cap, or no tier). */
  private readonly byPlan = new Map<PathPlan, Map<string, EventPath>>();

  constructor(
    private readonly plans: PathPlans,
    private readonly account: string,
    private readonly db?: Db,
  ) {}

  private static key(e: MeteredEvent): string {
    return `${e.person_id}\u0000${e.agent_id ?? ''}\u0000${e.unit_id ?? ''}\u0000${e.ts.getUTCFullYear() * 12 + e.ts.getUTCMonth()}`;
  }

  /** The event's path when its plan was asked for already in this call (undefined: call load). */
  known(e: MeteredEvent): EventPath | undefined {
    if (e.person_id === null) return NO_PATH;
    const plan = this.byKey.get(PathsOf.key(e));
    if (plan === undefined) return undefined;
    // A plan holds for its month, or the part of it in one billing period when the plan caps a tier.
    if (plan !== null && (e.ts.getTime() < plan.validFrom || e.ts.getTime() >= plan.validUntil)) return undefined;
    return this.pathOf(plan, e);
  }

  async load(e: MeteredEvent): Promise<EventPath> {
    if (e.person_id === null) return NO_PATH;
    const plan = await this.plans.plan(this.account, e.person_id, e.agent_id, e.ts, e.unit_id, this.db);
    this.byKey.set(PathsOf.key(e), plan);
    return this.pathOf(plan, e);
  }

  /** The levels an event's spend goes to: hard budgets on its path and its agent's cap, its tier's cap, its session's cap. */
  private pathOf(plan: PathPlan | null, e: MeteredEvent): EventPath {
    if (plan === null) return NO_PATH;
    const tierLevel = e.tier === null ? undefined : plan.tierLevels.get(e.tier);
    const context = e.session_context ?? 'internal';
    if (e.session_id !== null && plan.sessionCaps.has(context)) {
      return derive([...plan.levels, ...(tierLevel === undefined ? NONE : [tierLevel]), levels.session(context, e.session_id)], plan.unitId);
    }
    let paths = this.byPlan.get(plan);
    if (paths === undefined) {
      paths = new Map();
      this.byPlan.set(plan, paths);
    }
    const key = tierLevel === undefined ? '' : e.tier!;
    let path = paths.get(key);
    if (path === undefined) {
      path = derive(tierLevel === undefined ? plan.levels : [...plan.levels, tierLevel], plan.unitId);
      paths.set(key, path);
    }
    return path;
  }
}

function derive(all: readonly string[], unitId: string): EventPath {
  const own = all.filter((l) => l !== levels.credits());
  return { levels: all, own, budget: all.filter((l) => l.startsWith('budget/')), credits: own.length < all.length, unitId };
}

/** Per event: its reservation's outcome and what is left on the tightest node of its path, in money and in tokens. */
function readingsOf(
  events: readonly MeteredEvent[],
  budgetLevels: readonly string[][],
  result: { outcomes: readonly (ReservationOutcome | null)[]; figures: readonly LevelFigures[] },
): Map<string, UsageReading> {
  const left = new Map(result.figures.map((f) => [f.level, f.left]));
  // Events sharing a path share its array (PathsOf): its tightest budgets are found once.
  const byPath = new Map<readonly string[], { amount: string | null; tokens: number | null }>();
  const readings = new Map<string, UsageReading>();
  events.forEach((e, i) => {
    const path = budgetLevels[i]!;
    let budget = byPath.get(path);
    if (budget === undefined) {
      const lefts = path.map((l) => left.get(l));
      budget = { amount: tightest(lefts.map((l) => l?.amount ?? null)), tokens: fewestTokens(lefts.map((l) => l?.tokens ?? null)) };
      byPath.set(path, budget);
    }
    readings.set(e.event_id, { reservation: result.outcomes[i] ?? null, budget_left: budget.amount, budget_tokens_left: budget.tokens });
  });
  return readings;
}

/** The fewest tokens left among a path's budgets (null when none has a token limit). */
export function fewestTokens(lefts: readonly (number | null)[]): number | null {
  let best: number | null = null;
  for (const tokens of lefts) if (tokens !== null && (best === null || tokens < best)) best = tokens;
  return best;
}

/** The least amount left among a path's budgets (null when none has an amount limit). */
export function tightest(lefts: readonly (string | null)[]): string | null {
  let best: { text: string; value: bigint } | null = null;
  for (const text of lefts) {
    if (text === null) continue;
    const value = toScaledInteger(text, EXACT_SCALE, 'exact');
    if (best === null || value < best.value) best = { text, value };
  }
  return best?.text ?? null;
}
