// Billing's side of the ingest port (metering/ingest/usage-counters.port.ts): which counter levels an
// event's spend goes to (the hard budgets on its path at its time, its agent's cap, its session's cap, the
// account's credit balance when its plan blocks overage),
// each named reservation committed and all the spend added in the ingest write (its transaction, or its
// one statement with Redis), and the budget left on the tightest node of each event's path.
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
    for (const e of events) {
      if (e.reservation_id !== null) return true;
      // Before the write an event without a unit is taken to be in its person's current unit.
      if ((await this.levelsOf(account, e, e.ts)).length > 0) return true;
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
    for (const e of events) {
      const { levels: path, unitId } = await this.pathOf(account, e, e.ts, db);
      if (unitId !== undefined) units.set(e.event_id, unitId);
      const own = path.filter((l) => l !== levels.credits());
      budgetLevels.push(path.filter((l) => l.startsWith('budget/')));
      items.push({ reservationId: e.reservation_id, agentId: e.agent_id, levels: own, actual: { amount: e.cost ?? '0', tokens: e.tokens } });
      if (own.length < path.length) creditItems.push({ reservationId: null, agentId: e.agent_id, levels: [levels.credits()], actual: { amount: e.cost ?? '0', tokens: 0 } });
    }
    items.push(...creditItems);
    if (!items.some((i) => i.reservationId !== null || i.levels.length > 0)) return null;
    return { items, budgetLevels, read: [...new Set(budgetLevels.flat())], units };
  }

  /** The levels an event's spend goes to: hard budgets on its path and its agent's cap at `at`, its session's cap. */
  private async levelsOf(account: string, e: MeteredEvent, at: Date, db?: Db): Promise<string[]> {
    return (await this.pathOf(account, e, at, db)).levels;
  }

  /** levelsOf, with the unit the path starts at (undefined when the event has no path). */
  private async pathOf(account: string, e: MeteredEvent, at: Date, db?: Db): Promise<{ levels: string[]; unitId?: string }> {
    if (e.person_id === null) return { levels: [] };
    const plan: PathPlan | null = await this.plans.plan(account, e.person_id, e.agent_id, at, e.unit_id, db);
    if (!plan) return { levels: [] };
    const context = e.session_context ?? 'internal';
    const path = e.session_id !== null && plan.sessionCaps.has(context) ? [...plan.levels, levels.session(context, e.session_id)] : plan.levels;
    return { levels: path, unitId: plan.unitId };
  }
}

/** Per event: its reservation's outcome and the budget left on the tightest node of its path. */
function readingsOf(
  events: readonly MeteredEvent[],
  budgetLevels: readonly string[][],
  result: { outcomes: readonly (ReservationOutcome | null)[]; figures: readonly LevelFigures[] },
): Map<string, UsageReading> {
  const left = new Map(result.figures.map((f) => [f.level, f.left.amount]));
  const readings = new Map<string, UsageReading>();
  events.forEach((e, i) => {
    readings.set(e.event_id, { reservation: result.outcomes[i] ?? null, budget_left: tightest(budgetLevels[i]!.map((l) => left.get(l) ?? null)) });
  });
  return readings;
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
