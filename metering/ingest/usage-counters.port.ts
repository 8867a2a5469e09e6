// The port through which an ingest write reaches the spend counters (budgets, caps, reservations), defined
// here and implemented by billing (billing/authorizations/ingest-counters.ts), so metering never imports billing.
import type { Tx } from '../../src/database/data-source.js';

/** The injection token of the UsageCounters implementation (billing binds it; without billing there is none). */
export const USAGE_COUNTERS = Symbol('USAGE_COUNTERS');

/**
 * What happened to the reservation an event named. The event is metered in every case; only `committed`
 * replaced a hold with the event's cost. `unknown`: no such reservation in the account; `expired`: it ran
 * out before the event (its hold is released); `already_committed`: an earlier event committed it;
 * `released`: it was released; `foreign`: another agent's reservation (left alone).
 */
export const RESERVATION_OUTCOMES = ['committed', 'unknown', 'expired', 'already_committed', 'released', 'foreign'] as const;
export type ReservationOutcome = (typeof RESERVATION_OUTCOMES)[number];

/** An event as the counters see it: who, when, which reservation, and what it spent. */
export interface MeteredEvent {
  event_id: string;
  ts: Date;
  person_id: string | null;
  agent_id: string | null;
  /** null before the write attributes it (engaged); the stored unit after (record). */
  unit_id: string | null;
  session_id: string | null;
  session_context: 'internal' | 'external' | null;
  reservation_id: string | null;
  /** null while unpriced (no amount, its tokens still count). */
  cost: string | null;
  /** input + cached_input + cache_write + output. */
  tokens: number;
}

/** Per new event: its reservation's outcome (null when it named none) and the budget left on the tightest node. */
export interface UsageReading {
  reservation: ReservationOutcome | null;
  budget_left: string | null;
}

/**
 * The counters' part of an ingest write. `record` runs inside the write's transaction after its events
 * are stored; the caller runs exactly one of afterCommit / afterRollback once the transaction has ended
 * (the counters' crash-safety rule: room used before the commit, freed after it).
 */
export interface UsageCountersWrite {
  readings: ReadonlyMap<string, UsageReading>;
  afterCommit(): Promise<void>;
  afterRollback(): Promise<void>;
}

export interface UsageCounters {
  /** Whether writing these events may change a counter; when not, the write needs no transaction for them. */
  engaged(account: string, events: readonly MeteredEvent[]): Promise<boolean>;
  /** The stored (new) events' reservations committed and spend counted, in the write's transaction. */
  record(tx: Tx, account: string, events: readonly MeteredEvent[], now: Date): Promise<UsageCountersWrite>;
}

/** No counters (metering without billing): nothing engaged, nothing recorded. */
export const NO_USAGE_COUNTERS: UsageCounters = {
  engaged: async () => false,
  record: async () => ({ readings: new Map(), afterCommit: async () => undefined, afterRollback: async () => undefined }),
};
