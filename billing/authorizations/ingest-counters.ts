// Billing's side of the ingest port (metering/ingest/usage-counters.port.ts): which counter levels an
// event's spend goes to (the hard budgets on its path at its time, its agent's cap, its session's cap, the
// account's credit balance when its plan blocks overage),
// each named reservation committed and all the spend added in the ingest write's transaction, and the
// budget left on the tightest node of each event's path.
import { Inject, Injectable } from '@nestjs/common';
import type { Tx } from '../../src/database/data-source.js';
import type { Db } from '../../src/database/sql.js';
import type { MeteredEvent, UsageCounters, UsageCountersWrite, UsageReading } from '../../metering/ingest/usage-counters.port.js';
import { EXACT_SCALE, toScaledInteger } from './counter-math.js';
import { COUNTERS_ENGINE, levels, type CountersEngine, type UsageItem } from './counters.js';
import { PathPlans, type PathPlan } from './path-plans.js';

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
    const items: UsageItem[] = [];
    const budgetLevels: string[][] = [];
    // The credits level (on the path when the plan blocks overage) counts money only: its spend in
    // PostgreSQL is the ledger's (credits-limits.ts), which has no tokens. Its items go after the events'
    // own, so outcomes[i] is still event i's.
    const creditItems: UsageItem[] = [];
    for (const e of events) {
      const path = await this.levelsOf(account, e, e.ts, tx);
      const own = path.filter((l) => l !== levels.credits());
      budgetLevels.push(path.filter((l) => l.startsWith('budget/')));
      items.push({ reservationId: e.reservation_id, agentId: e.agent_id, levels: own, actual: { amount: e.cost ?? '0', tokens: e.tokens } });
      if (own.length < path.length) creditItems.push({ reservationId: null, agentId: e.agent_id, levels: [levels.credits()], actual: { amount: e.cost ?? '0', tokens: 0 } });
    }
    items.push(...creditItems);
    const wanted = items.filter((i) => i.reservationId !== null || i.levels.length > 0);
    if (wanted.length === 0) return { readings: new Map(), afterCommit: async () => undefined, afterRollback: async () => undefined };
    const read = [...new Set(budgetLevels.flat())];
    const write = await this.engine.recordUsage(tx, account, { items, read, now });
    const left = new Map(write.result.figures.map((f) => [f.level, f.left.amount]));
    const readings = new Map<string, UsageReading>();
    events.forEach((e, i) => {
      readings.set(e.event_id, { reservation: write.result.outcomes[i] ?? null, budget_left: tightest(budgetLevels[i]!.map((l) => left.get(l) ?? null)) });
    });
    return { readings, afterCommit: write.afterCommit, afterRollback: write.afterRollback };
  }

  /** The levels an event's spend goes to: hard budgets on its path and its agent's cap at `at`, its session's cap. */
  private async levelsOf(account: string, e: MeteredEvent, at: Date, db?: Db): Promise<string[]> {
    if (e.person_id === null) return [];
    const plan: PathPlan | null = await this.plans.plan(account, e.person_id, e.agent_id, at, e.unit_id, db);
    if (!plan) return [];
    const context = e.session_context ?? 'internal';
    return e.session_id !== null && plan.sessionCaps.has(context) ? [...plan.levels, levels.session(context, e.session_id)] : plan.levels;
  }
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
