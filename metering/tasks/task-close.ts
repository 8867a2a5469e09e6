// Who may close a task through the close API, and what closing one already closed means: a pure decision
// over the key, the task's state and who reported its events (no I/O), so it is tested without a database.
import type { Role } from '../../src/auth/principal.js';

export type ClosedStatus = 'succeeded' | 'failed' | 'abandoned';

export interface Closer {
  role: Role;
  personId: string | null;
  agentId: string | null;
}

export type CloseDecision =
  | { kind: 'close' }
  /** Closed already with this status: answered as it is, nothing relabelled. */
  | { kind: 'already' }
  /** Closed already with another status: refused, the spend is not relabelled. */
  | { kind: 'conflict'; status: ClosedStatus; closedAt: Date | null }
  /** Not a task of the key's agent (an agent key) or of the person's agents (a member key). */
  | { kind: 'not_yours' };

/**
 * A task is an agent's when one of its events was reported by that agent, and a person's when one was
 * reported for that person (an agent reports for itself and its owner only). Finance (and any role bound
 * to no person or agent) may close any task of its account. A task with no events (its only events were
 * rejected) is no one's and has no spend to relabel: any key that may close tasks closes it. Ownership is
 * checked first, so a key learns nothing of a task it may not close.
 */
export function decideClose(
  closer: Closer,
  task: { status: 'open' | ClosedStatus; closed_at?: Date | null },
  events: readonly { agent_id: string | null; person_id: string | null }[],
  status: ClosedStatus,
): CloseDecision {
  const owned = events.length > 0;
  if (owned && closer.role === 'agent' && !events.some((e) => e.agent_id !== null && e.agent_id === closer.agentId)) return { kind: 'not_yours' };
  if (owned && closer.role === 'member' && !events.some((e) => e.person_id !== null && e.person_id === closer.personId)) return { kind: 'not_yours' };
  if (task.status === 'open') return { kind: 'close' };
  if (task.status === status) return { kind: 'already' };
  return { kind: 'conflict', status: task.status, closedAt: task.closed_at ?? null };
}
