// Reading a counter level's key back into what it names, and the levels an authorization holds against:
// every hard budget on the path, the agent's cap, the session's cap, the credit balance, the plan's cap on
// the model's tier.
import {
  levels,
  PERIOD_KINDS,
  periodOf,
  type BudgetNode,
  type Period,
  type PeriodKind,
  type SessionContext,
} from './counters.js';

export type ParsedLevel =
  | { kind: 'budget'; node: BudgetNode; period: Period }
  | { kind: 'agent'; agentId: string; period: Period }
  | { kind: 'session'; context: SessionContext; sessionId: string }
  | { kind: 'sessioncap'; context: SessionContext }
  | { kind: 'credits' }
  | { kind: 'tier'; tier: string; start: Date; end: Date; cap: number };

const MONTHS: Record<PeriodKind, number> = { year: 12, quarter: 3, month: 1 };

function parsePeriod(text: string, level: string): Period {
  const m = /^(year|quarter|month):(\d{4})-(\d{2})-01$/.exec(text);
  if (!m) throw new Error(`bad period in level ${level}`);
  const kind = m[1] as PeriodKind;
  const year = Number(m[2]);
  const month = Number(m[3]) - 1;
  return { kind, start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + MONTHS[kind], 1)) };
}

function parseContext(text: string, level: string): SessionContext {
  if (text !== 'internal' && text !== 'external') throw new Error(`bad session context in level ${level}`);
  return text;
}

export function parseLevel(level: string): ParsedLevel {
  const [kind, a, b] = level.split('/');
  switch (kind) {
    case 'budget': {
      const node: BudgetNode | null =
        a === 'account' ? { kind: 'account' } : a?.startsWith('unit:') ? { kind: 'unit', id: a.slice(5) } : a?.startsWith('person:') ? { kind: 'person', id: a.slice(7) } : null;
      if (node === null || b === undefined) throw new Error(`bad budget level ${level}`);
      return { kind: 'budget', node, period: parsePeriod(b, level) };
    }
    case 'agent':
      if (!a || b === undefined) throw new Error(`bad agent level ${level}`);
      return { kind: 'agent', agentId: a, period: parsePeriod(b, level) };
    case 'session': {
      const context = parseContext(a ?? '', level);
      const sessionId = level.slice(`session/${context}/`.length);
      if (sessionId === '') throw new Error(`bad session level ${level}`);
      return { kind: 'session', context, sessionId };
    }
    case 'sessioncap':
      return { kind: 'sessioncap', context: parseContext(a ?? '', level) };
    case 'credits':
      if (level !== 'credits') throw new Error(`bad level ${level}`);
      return { kind: 'credits' };
    case 'tier': {
      const m = /^tier\/([a-z]+)\/(\d{4})-(\d{2})-(\d{2})\/(\d+)$/.exec(level);
      if (!m) throw new Error(`bad tier level ${level}`);
      const [year, month, day] = [Number(m[2]), Number(m[3]) - 1, Number(m[4])];
      // A billing period ends on its start's day of the next month (anchor days are 1-28).
      return { kind: 'tier', tier: m[1]!, start: new Date(Date.UTC(year, month, day)), end: new Date(Date.UTC(year, month + 1, day)), cap: Number(m[5]) };
    }
    default:
      throw new Error(`not a counter level: ${level}`);
  }
}

/** The budget nodes on a person's path, nearest first: the person, each unit up the tree, the account. */
export function pathNodes(personId: string, unitChain: readonly string[]): BudgetNode[] {
  return [{ kind: 'person', id: personId }, ...unitChain.map((id): BudgetNode => ({ kind: 'unit', id })), { kind: 'account' }];
}

/** Every budget level a path could have at `at`: each node in each period kind's current period. */
export function candidateBudgetLevels(nodes: readonly BudgetNode[], fiscalYearStartMonth: number, at: Date): string[] {
  const out: string[] = [];
  for (const node of nodes) {
    for (const kind of PERIOD_KINDS) out.push(levels.budget(node, periodOf(kind, fiscalYearStartMonth, at)));
  }
  return out;
}

/** A unit's chain up to the top (the unit first), from the account's units; stops on a cycle. */
export function unitChain(unitId: string, parentOf: ReadonlyMap<string, string | null>): string[] {
  const chain: string[] = [];
  const seen = new Set<string>();
  for (let u: string | null | undefined = unitId; u != null && !seen.has(u); u = parentOf.get(u)) {
    seen.add(u);
    chain.push(u);
  }
  return chain;
}
