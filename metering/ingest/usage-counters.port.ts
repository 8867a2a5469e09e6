// The port through which an ingest write reaches the spend counters (budgets, caps, reservations), defined
// here and implemented by billing (billing/authorizations/ingest-counters.ts), so metering never imports billing.
import type { Tx } from '../../src/database/data-source.js';
import type { StoredEvent } from './event-row.js';

/** The injection token of the UsageCounters implementation (billing binds it; without billing there is none). */
export const USAGE_COUNTERS = Symbol('USAGE_COUNTERS');

/**
 * What happened to the reservation an event named. The event is metered in every case; only `committed`
 * replaced a hold with the event's cost. `unknown`: no such reservation in the account; `expired`: it ran
 * out before the event (its hold is released); `already_committed`: an earlier event committed it;
 * `released`: it was released; `foreign`: one the event may not commit (another agent's, or a member's own hold
 * and the event's agent acts for someone else; left alone).
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
  /** The model's tier (a plan's cap on it counts the event's tokens); null for a model not in the catalog. */
  tier: string | null;
  /** null while unpriced (no amount, its tokens still count). */
  cost: string | null;
  /** input + cached_input + cache_write + output. */
  tokens: number;
}

/** A stored event as the counters see it. */
export function metered(e: Omit<StoredEvent, 'seq'>): MeteredEvent {
  return {
    event_id: e.event_id,
    ts: e.ts,
    person_id: e.person_id,
    agent_id: e.agent_id,
    unit_id: e.unit_id,
    session_id: e.session_id,
    session_context: e.session_context,
    reservation_id: e.reservation_id,
    tier: e.tier,
    cost: e.cost,
    tokens: Number(e.input) + Number(e.cached_input) + Number(e.cache_write) + Number(e.output),
  };
}

/** Per new event: its reservation's outcome (null when it named none) and the budget left on the tightest node, in money and in tokens. */
export interface UsageReading {
  reservation: ReservationOutcome | null;
  budget_left: string | null;
  budget_tokens_left: number | null;
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

/**
 * The counters' part of a write made as ONE autocommit statement, no transaction (UsageCounters.prepare):
 * their room is already used (before the statement, as the crash-safety rule wants), the statement
 * carries their own rows as CTEs (`sql`), and the caller runs exactly one of settle / afterRollback once
 * it has committed or failed. The statement must store every event as counted: the caller's statement
 * refuses itself (nothing written) if one was stored before or would be attributed to another unit.
 */
export interface UsageCountersStatement {
  /** The unit each event's spend was counted under, by event id (events without a path are absent). */
  units: ReadonlyMap<string, string | null>;
  /** The CTEs (`name AS (...)`, comma separated), parameters from `$first`; the one named `counted` has one row, one json column `counted`. */
  sql(first: number): string;
  params: readonly unknown[];
  /** After the commit, given the `counted` value: the readings, and the confirmation to run (its failure is logged). */
  settle(counted: unknown): Promise<{ readings: ReadonlyMap<string, UsageReading>; afterCommit(): Promise<void> }>;
  afterRollback(): Promise<void>;
}

export interface UsageCounters {
  /** Whether writing these events may change a counter; when not, the write needs no transaction for them. */
  engaged(account: string, events: readonly MeteredEvent[]): Promise<boolean>;
  /** The stored (new) events' reservations committed and spend counted, in the write's transaction. */
  record(tx: Tx, account: string, events: readonly MeteredEvent[], now: Date): Promise<UsageCountersWrite>;
  /**
   * The same for a write of these (all new) events made as one statement without a transaction, or null
   * when these counters cannot (they live in PostgreSQL and need the write's transaction).
   */
  prepare(account: string, events: readonly MeteredEvent[], now: Date): Promise<UsageCountersStatement | null>;
  /**
   * Several prepared parts (each of prepare, its events distinct from the others') written by ONE
   * statement, in this order, as if each had been a statement of its own run in turn; `now` is the
   * statement's time. Absent when the counters cannot combine: then nothing is prepared ahead of a group.
   */
  combine?(parts: readonly UsageCountersStatement[], now: Date): UsageCountersStatement;
  /**
   * Stored events whose cost changed outside ingest (priced once their model got a price, or repriced by an
   * audited correction), each as it now is (`cost` the new one; its reservation is not looked at: it was
   * resolved when the event was stored). Called inside the transaction `tx` that changed them, after the
   * change; the caller runs exactly one of afterCommit / afterRollback once it has ended. After the commit
   * the counters of the levels their spend is counted on are read again from PostgreSQL, so a hard budget,
   * a cap or the credit balance counts the new cost from then on; a process that dies before (or a refresh
   * that fails) leaves the account to be rebuilt, as a write that died would. Not on the ingest path.
   */
  spendChanged(tx: Tx, account: string, events: readonly MeteredEvent[], now: Date): Promise<{ afterCommit(): Promise<void>; afterRollback(): Promise<void> }>;
}

/** No counters (metering without billing): nothing engaged, nothing recorded. */
export const NO_USAGE_COUNTERS: UsageCounters = {
  engaged: async () => false,
  record: async () => ({ readings: new Map(), afterCommit: async () => undefined, afterRollback: async () => undefined }),
  prepare: async () => null,
  spendChanged: async () => ({ afterCommit: async () => undefined, afterRollback: async () => undefined }),
};
