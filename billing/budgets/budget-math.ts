// The arithmetic of budgets, as plain functions of their inputs: reading a node and a period from a
// request, the allocation check down the org tree, spend rolled up the tree by the unit at event time,
// the forecast at the recent burn rate, and which alert thresholds a figure has crossed.
import { Dec } from '../../tiers/pricing/decimal.js';
import { nodeKey, periodOf, type BudgetNode, type Period, type PeriodKind } from '../authorizations/counters.js';

export const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** The burn rate is the spend of (at most) this long before now, within the period. */
export const BURN_WINDOW_MS = 7 * DAY_MS;
export const DEFAULT_THRESHOLDS: readonly number[] = [50, 80, 100];

// ---------------------------------------------------------------------------------------------------
// Nodes and periods

/** `account`, `unit:<id>` or `person:<id>` (the counters' node key); null for anything else. */
export function parseNode(raw: string): BudgetNode | null {
  if (raw === 'account') return { kind: 'account' };
  const m = /^(unit|person):([a-z0-9][a-z0-9._-]{0,63})$/.exec(raw);
  if (!m) return null;
  return { kind: m[1] as 'unit' | 'person', id: m[2]! };
}

/**
 * The period of `kind` a budget is for: the one holding `now`, or the one starting on `start`
 * (`YYYY-MM-DD`), which must be a period start of the account's fiscal calendar. Null: not a start.
 */
export function budgetPeriod(kind: PeriodKind, fiscalYearStartMonth: number, now: Date, start?: string): Period | null {
  if (start === undefined) return periodOf(kind, fiscalYearStartMonth, now);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(start);
  if (!m) return null;
  const at = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (at.toISOString().slice(0, 10) !== start) return null;
  const period = periodOf(kind, fiscalYearStartMonth, at);
  return period.start.getTime() === at.getTime() ? period : null;
}

export const dateOnly = (d: Date): string => d.toISOString().slice(0, 10);

// ---------------------------------------------------------------------------------------------------
// The org tree, by node key

/** Where each node hangs: a person under their unit (now), a unit under its parent or the account. */
export interface OrgTree {
  unitParent: ReadonlyMap<string, string | null>;
  personUnit: ReadonlyMap<string, string>;
}

export function parentOf(tree: OrgTree, key: string): string | null {
  if (key === 'account') return null;
  if (key.startsWith('person:')) {
    const unit = tree.personUnit.get(key.slice(7));
    return unit === undefined ? 'account' : `unit:${unit}`;
  }
  const parent = tree.unitParent.get(key.slice(5));
  return parent == null ? 'account' : `unit:${parent}`;
}

/** The node and every node above it, nearest first (stops on a cycle). */
export function ancestry(tree: OrgTree, key: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let k: string | null = key; k !== null && !seen.has(k); k = parentOf(tree, k)) {
    seen.add(k);
    out.push(k);
  }
  return out;
}

export function nodeExists(tree: OrgTree, node: BudgetNode): boolean {
  if (node.kind === 'account') return true;
  return node.kind === 'unit' ? tree.unitParent.has(node.id) : tree.personUnit.has(node.id);
}

// ---------------------------------------------------------------------------------------------------
// Allocation

export type AllocationMeasure = 'headcount' | 'tokens' | 'amount';
export const ALLOCATION_MEASURES: readonly AllocationMeasure[] = ['headcount', 'tokens', 'amount'];

/** One node's allocation in one period; a null measure is not allocated there. */
export interface Allocation {
  node: string;
  headcount: number | null;
  tokens: number | null;
  /** Decimal string. */
  amount: string | null;
}

export interface OverAllocation {
  /** The node whose allocation its children exceed. */
  parent: string;
  measure: AllocationMeasure;
  /** The parent's own allocation and what its children take, as decimal strings. */
  allocated: string;
  children: string;
  /** children - allocated, > 0. */
  over: string;
  /** The children counted. */
  nodes: string[];
}

const valueOf = (a: Allocation, m: AllocationMeasure): Dec | null => {
  const v = m === 'amount' ? a.amount : m === 'tokens' ? a.tokens : a.headcount;
  return v === null ? null : new Dec(v);
};

/**
 * Every parent whose children are allocated more than it has, per measure. A node's "children" for a
 * measure are the nodes below it that allocate that measure with no node allocating it in between: a
 * team's allocation counts against its department's, or against the account's when the department
 * allocates nothing of that measure. Allocations of one period only.
 */
export function overAllocations(tree: OrgTree, allocations: readonly Allocation[]): OverAllocation[] {
  const byNode = new Map(allocations.map((a) => [a.node, a]));
  const out: OverAllocation[] = [];
  for (const measure of ALLOCATION_MEASURES) {
    const sums = new Map<string, { total: Dec; nodes: string[] }>();
    for (const a of allocations) {
      const value = valueOf(a, measure);
      if (value === null) continue;
      const parent = ancestry(tree, a.node)
        .slice(1)
        .find((k) => {
          const p = byNode.get(k);
          return p !== undefined && valueOf(p, measure) !== null;
        });
      if (parent === undefined) continue;
      const entry = sums.get(parent) ?? { total: new Dec(0), nodes: [] };
      entry.total = entry.total.plus(value);
      entry.nodes.push(a.node);
      sums.set(parent, entry);
    }
    for (const [parent, { total, nodes }] of sums) {
      const allocated = valueOf(byNode.get(parent)!, measure)!;
      if (total.greaterThan(allocated)) {
        out.push({ parent, measure, allocated: allocated.toFixed(), children: total.toFixed(), over: total.minus(allocated).toFixed(), nodes: nodes.sort() });
      }
    }
  }
  return out;
}

/**
 * What a change to the allocations (or to the tree: `treeAfter`, say a person moved to another unit) makes
 * over-allocated that was not (or by more than before): the first such parent per measure order, or null
 * when the change keeps every allocation within its parent's.
 */
export function newOverAllocation(tree: OrgTree, before: readonly Allocation[], after: readonly Allocation[], treeAfter: OrgTree = tree): OverAllocation | null {
  const old = new Map(overAllocations(tree, before).map((o) => [`${o.measure}\u0000${o.parent}`, new Dec(o.over)]));
  for (const o of overAllocations(treeAfter, after)) {
    const was = old.get(`${o.measure}\u0000${o.parent}`);
    if (was === undefined || new Dec(o.over).greaterThan(was)) return o;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------
// Roll-up

/** Spend of one person in one unit (the unit they were in when they spent it). */
export interface SpendRow {
  unit: string | null;
  person: string | null;
  tokens: number;
  amount: string;
  effective: number;
  ineffective: number;
}

export interface Spend {
  tokens: number;
  amount: Dec;
  effective: number;
  ineffective: number;
}

export const zeroSpend = (): Spend => ({ tokens: 0, amount: new Dec(0), effective: 0, ineffective: 0 });

function add(a: Spend, r: SpendRow): Spend {
  return { tokens: a.tokens + r.tokens, amount: a.amount.plus(r.amount), effective: a.effective + r.effective, ineffective: a.ineffective + r.ineffective };
}

/**
 * Spend of every node: a person's is all they spent; a unit's is what was spent while in it or in a unit
 * below it (by the unit at each event's time, so a person who moved leaves their spend where it was
 * made); the account's is everything.
 */
export function rollUp(tree: OrgTree, rows: readonly SpendRow[]): Map<string, Spend> {
  const out = new Map<string, Spend>();
  const bump = (key: string, r: SpendRow) => out.set(key, add(out.get(key) ?? zeroSpend(), r));
  for (const r of rows) {
    if (r.person) bump(`person:${r.person}`, r);
    const units = r.unit ? ancestry(tree, `unit:${r.unit}`) : ['account'];
    for (const key of units) bump(key, r);
    if (!units.includes('account')) bump('account', r);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Forecast

/** Where the burn window starts: 7 days before the start of the current hour, or the period start if later. */
export function burnWindowStart(period: Pick<Period, 'start'>, now: Date): Date {
  const hour = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  return new Date(Math.max(period.start.getTime(), hour - BURN_WINDOW_MS));
}

export interface ForecastInput {
  now: Date;
  period: Pick<Period, 'start' | 'end'>;
  spent: { amount: Dec; tokens: number };
  /** What was spent from `windowStart` to now. */
  window: { start: Date; amount: Dec; tokens: number };
  limit: { amount: Dec | null; tokens: number | null };
}

export interface Forecast {
  /** Spend per day at the recent rate. */
  rate: { amount: Dec; tokens: Dec };
  /** Spend at the end of the period if the rate holds. */
  atEnd: { amount: Dec; tokens: number };
  /** When the first limit is reached at that rate: now if already reached; null if not within the period. */
  limitReachedAt: Date | null;
  measure: 'amount' | 'tokens' | null;
}

/**
 * Spend at period end = spent + rate x (end - now), where rate = window spend / (now - window start).
 * The date a limit is reached = now + (limit - spent) / rate, when that is before the period's end.
 */
export function forecast(input: ForecastInput): Forecast {
  const { now, period, spent, window, limit } = input;
  const elapsed = now.getTime() - window.start.getTime();
  const remaining = Math.max(0, period.end.getTime() - now.getTime());
  // Multiplied before divided, so figures that are whole in the window stay exact.
  const over = (v: Dec, ms: number) => (elapsed > 0 ? v.times(ms).dividedBy(elapsed) : new Dec(0));
  const windowTokens = new Dec(window.tokens);
  const atEnd = {
    amount: spent.amount.plus(over(window.amount, remaining)),
    tokens: new Dec(spent.tokens).plus(over(windowTokens, remaining)).floor().toNumber(),
  };
  let reached: Date | null = null;
  let measure: 'amount' | 'tokens' | null = null;
  const consider = (m: 'amount' | 'tokens', lim: Dec | null, used: Dec, inWindow: Dec) => {
    if (lim === null) return;
    let at: Date | null = null;
    if (used.greaterThanOrEqualTo(lim)) at = now;
    else if (elapsed > 0 && inWindow.greaterThan(0)) {
      const ms = lim.minus(used).times(elapsed).dividedBy(inWindow).ceil().toNumber();
      if (ms <= remaining) at = new Date(now.getTime() + ms);
    }
    if (at !== null && (reached === null || at.getTime() < reached.getTime())) {
      reached = at;
      measure = m;
    }
  };
  consider('amount', limit.amount, spent.amount, window.amount);
  consider('tokens', limit.tokens === null ? null : new Dec(limit.tokens), new Dec(spent.tokens), windowTokens);
  return { rate: { amount: over(window.amount, DAY_MS), tokens: over(windowTokens, DAY_MS) }, atEnd, limitReachedAt: reached, measure };
}

// ---------------------------------------------------------------------------------------------------
// Thresholds

export interface Crossing {
  threshold: number;
  measure: 'amount' | 'tokens';
}

/**
 * The thresholds (percent of a limit) that spend has reached, each once, with the first measure that
 * reached it (amount before tokens). A limit of zero is reached by any spend.
 */
export function crossedThresholds(
  thresholds: readonly number[],
  spent: { amount: Dec; tokens: number },
  limit: { amount: Dec | null; tokens: number | null },
): Crossing[] {
  const reaches = (used: Dec, lim: Dec | null, pct: number) => lim !== null && (lim.isZero() ? used.greaterThan(0) : used.times(100).greaterThanOrEqualTo(lim.times(pct)));
  const out: Crossing[] = [];
  for (const t of [...new Set(thresholds)].sort((a, b) => a - b)) {
    if (reaches(spent.amount, limit.amount, t)) out.push({ threshold: t, measure: 'amount' });
    else if (reaches(new Dec(spent.tokens), limit.tokens === null ? null : new Dec(limit.tokens), t)) out.push({ threshold: t, measure: 'tokens' });
  }
  return out;
}

export { nodeKey };

/** The people (ids) in a node now: the person, everyone in a unit or below it, everyone in the account. */
export function peopleIn(tree: OrgTree, people: Iterable<string>, key: string): string[] {
  const out: string[] = [];
  for (const id of people) if (ancestry(tree, `person:${id}`).includes(key)) out.push(id);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Room before an alert

/** Spend that may still be added (per measure; null: none of it can fire an alert) before any alert of a budget could fire. */
export interface AlertRoom {
  amount: Dec | null;
  tokens: Dec | null;
}

/**
 * How much more spend a budget takes before one of its alerts not yet fired could fire, given its figures
 * at `now`, for as long as its burn window keeps its start (until the next hour): a threshold not yet
 * reached is reached when spend grows by (threshold x limit - spent); the forecast, not yet saying the
 * limit is reached within the period, can only say so once spend (and at most as much, the window's)
 * grows by d with (window + d) x remaining >= (limit - spent - d) x elapsed, elapsed only growing and
 * remaining only shrinking meanwhile: d >= ((limit - spent) x elapsed - window x remaining) / (elapsed + remaining).
 * Zero when a measure may fire at any spend.
 */
export function alertRoom(input: ForecastInput & { thresholds: readonly number[]; forecastFired: boolean }): AlertRoom {
  const { now, period, spent, window, limit, thresholds, forecastFired } = input;
  const elapsed = now.getTime() - window.start.getTime();
  const remaining = Math.max(0, period.end.getTime() - now.getTime());
  const room = (lim: Dec | null, used: Dec, inWindow: Dec): Dec | null => {
    if (lim === null) return null;
    let least: Dec | null = null;
    const consider = (d: Dec) => {
      const v = d.isNegative() ? new Dec(0) : d;
      if (least === null || v.lessThan(least)) least = v;
    };
    for (const t of thresholds) {
      const at = lim.times(t).dividedBy(100);
      // Reached already (fired): nothing more to fire there.
      if (lim.isZero() ? used.greaterThan(0) : used.greaterThanOrEqualTo(at)) continue;
      consider(lim.isZero() ? new Dec(0) : at.minus(used));
    }
    if (!forecastFired) {
      if (elapsed <= 0 || used.greaterThanOrEqualTo(lim)) consider(new Dec(0));
      else consider(lim.minus(used).times(elapsed).minus(inWindow.times(remaining)).dividedBy(elapsed + remaining));
    }
    return least;
  };
  return {
    amount: room(limit.amount, spent.amount, window.amount),
    tokens: room(limit.tokens === null ? null : new Dec(limit.tokens), new Dec(spent.tokens), new Dec(window.tokens)),
  };
}

/** The least room of several budgets, per measure. */
export function leastRoom(rooms: readonly AlertRoom[]): AlertRoom {
  const least = (a: Dec | null, b: Dec | null) => (a === null ? b : b === null ? a : a.lessThan(b) ? a : b);
  return rooms.reduce((acc, r) => ({ amount: least(acc.amount, r.amount), tokens: least(acc.tokens, r.tokens) }), { amount: null, tokens: null } as AlertRoom);
}

/** Whether spend of `added` may have made an alert fire, given the room: any spend at all on a measure whose room is zero. */
export function mayFire(room: AlertRoom, added: { amount: Dec; tokens: Dec }): boolean {
  const over = (r: Dec | null, d: Dec) => r !== null && d.greaterThan(0) && d.greaterThanOrEqualTo(r);
  return over(room.amount, added.amount) || over(room.tokens, added.tokens);
}
