// The counters engine's contract: per account, named levels (a budget node in a period, an agent's cap, a
// session's cap, the credit balance), each a limit with its spent and held amounts and tokens, and the
// atomic operations on them. Two engines implement it: Redis (one Lua script per call) and PostgreSQL
// (one transaction with row locks). Budgets, credits and the ingest port code against this file only.
//
// Durable record (both engines): limits come from their owners (the budgets table, the caps table, the
// credit ledger) through LimitSource; holds are rows of `authorization_reservations`; spend is derived
// from the events and their rollups. Counters outside PostgreSQL are a cache rebuilt from that record.
//
// Crash safety, Redis engine. The rule: every change that uses room (a hold, spend) reaches Redis BEFORE
// its PostgreSQL write commits; every change that frees room (a release, an expiry, the hold half of a
// commit, a limit raised, the receiving side of a transfer) reaches Redis AFTER. At every instant Redis
// therefore counts at least what PostgreSQL says is used, so a crash at any point can only leave Redis
// too strict, never too lenient; the hard-limit invariant holds without waiting for a rebuild.
// Rebuilds then restore exactness:
// - a per-account generation field must be present, or the account is rebuilt before any answer (a
//   FLUSH, an eviction, a fresh Redis);
// - a write that used room before its commit is registered as pending (id, deltas, deadline); its
//   afterCommit confirms it, afterRollback undoes it. A pending entry past its deadline is a writer that
//   died; its deltas stay counted (safe) and the next call rebuilds the account from PostgreSQL, which
//   counts the write iff it committed (its id is in `authorization_counter_writes`, written in the same
//   transaction). See redis-counters.ts for the protocol that keeps a rebuild exact while writes go on.
//
// Amounts cross this interface as exact decimal strings (tiers/pricing/decimal.ts); tokens are whole
// numbers. Redis keeps amounts as integers of 10^-6 (Lua numbers are doubles, exact to 2^53: limits up to
// 9 x 10^9 currency units, a larger one kept as that): limits are rounded DOWN, spend and holds UP, so a
// Redis check can only be stricter than the exact one. Figures for display (budget listings) are read exactly from PostgreSQL.
import type { Tx } from '../../src/database/data-source.js';
import type { Db } from '../../src/database/sql.js';
import type { ReservationOutcome as IngestReservationOutcome } from '../../metering/ingest/usage-counters.port.js';

// ---------------------------------------------------------------------------------------------------
// Levels. A level is a string key; its kind is the part before the first '/'.
//   budget/<node>/<period>   node: `account` | `unit:<id>` | `person:<id>`; period: `<kind>:<start date>`,
//                            e.g. `budget/unit:platform/quarter:2026-04-01` (fiscal calendar of the account)
//   agent/<agent id>/<period>  an agent's own cap for the period (caps table, this helper)
//   session/<context>/<session id>  a session's cap; its limit is that of `sessioncap/<context>`
//   sessioncap/<context>     the account's cap per session for `internal` or `external` sessions
//   credits                  the account's available credit balance, when its plan's overage is `block`
//   tier/<tier>/<start date>/<cap>  the plan's token cap on a model tier for the billing period starting
//                            that day (00:00 UTC; it ends on the same day of the next month); the cap is
//                            part of the name, so a cap changed mid-period names a fresh counter, read from
//                            the events (tier-caps.ts)

export type PeriodKind = 'year' | 'quarter' | 'month';
export const PERIOD_KINDS: readonly PeriodKind[] = ['year', 'quarter', 'month'];

export interface Period {
  kind: PeriodKind;
  /** Inclusive, UTC midnight of the first day. */
  start: Date;
  /** Exclusive. */
  end: Date;
}

/**
 * The period of `kind` holding `at`, on the account's fiscal calendar (UTC): a year starts on the first
 * day of `fiscalYearStartMonth` (1-12), quarters are three-month blocks from there, months are calendar
 * months.
 */
export function periodOf(kind: PeriodKind, fiscalYearStartMonth: number, at: Date): Period {
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth(); // 0-11
  const months = kind === 'year' ? 12 : kind === 'quarter' ? 3 : 1;
  const offset = kind === 'month' ? 0 : fiscalYearStartMonth - 1;
  // Months since the fiscal anchor, floored to the block.
  const since = (((m - offset) % 12) + 12) % 12;
  const startMonthIndex = m - (since % months);
  const start = new Date(Date.UTC(y, startMonthIndex, 1));
  const end = new Date(Date.UTC(y, startMonthIndex + months, 1));
  return { kind, start, end };
}

export function periodKey(p: Pick<Period, 'kind' | 'start'>): string {
  return `${p.kind}:${p.start.toISOString().slice(0, 10)}`;
}

export type BudgetNode = { kind: 'account' } | { kind: 'unit'; id: string } | { kind: 'person'; id: string };

export function nodeKey(node: BudgetNode): string {
  return node.kind === 'account' ? 'account' : `${node.kind}:${node.id}`;
}

export const levels = {
  budget: (node: BudgetNode, period: Pick<Period, 'kind' | 'start'>) => `budget/${nodeKey(node)}/${periodKey(period)}`,
  agent: (agentId: string, period: Pick<Period, 'kind' | 'start'>) => `agent/${agentId}/${periodKey(period)}`,
  session: (context: SessionContext, sessionId: string) => `session/${context}/${sessionId}`,
  sessionCap: (context: SessionContext) => `sessioncap/${context}`,
  credits: () => 'credits',
  tier: (tier: string, periodStart: Date, cap: number) => `tier/${tier}/${periodStart.toISOString().slice(0, 10)}/${cap}`,
};

export type SessionContext = 'internal' | 'external';
export type LevelKind = 'budget' | 'agent' | 'session' | 'sessioncap' | 'credits' | 'tier';

export function levelKind(level: string): LevelKind {
  const kind = level.slice(0, level.indexOf('/') === -1 ? level.length : level.indexOf('/'));
  if (kind === 'budget' || kind === 'agent' || kind === 'session' || kind === 'sessioncap' || kind === 'credits' || kind === 'tier') return kind;
  throw new Error(`not a counter level: ${level}`);
}

/** The level whose limit a level uses: a session's is its context's cap; every other level's is its own. */
export function limitLevelOf(level: string): string {
  if (!level.startsWith('session/')) return level;
  const context = level.slice('session/'.length, level.indexOf('/', 'session/'.length));
  return `sessioncap/${context}`;
}

// ---------------------------------------------------------------------------------------------------
// Figures

/** A measure that is null has no limit. */
export interface Limit {
  amount: string | null;
  tokens: number | null;
}

export interface Quantity {
  /** Exact decimal string, >= 0. */
  amount: string;
  tokens: number;
}

export interface LevelFigures {
  level: string;
  limit: Limit;
  spent: Quantity;
  held: Quantity;
  /** limit - spent - held per measure (may be negative once spend passed the limit); null without a limit. */
  left: { amount: string | null; tokens: number | null };
}

// ---------------------------------------------------------------------------------------------------
// Operations

export interface HoldRequest {
  /** Server-made, unique per account. */
  reservationId: string;
  /** Every level to hold against, in one atomic step. Levels with no limit are checked for nothing. */
  levels: readonly string[];
  estimate: Quantity;
  expiresAt: Date;
  /** Who may commit or release it: the agent (or, for a member's own hold, null) and the person. */
  agentId: string | null;
  personId: string;
  session: { id: string; context: SessionContext } | null;
  /** What was estimated (model, usage, source), kept on the reservation row. */
  detail: Record<string, unknown>;
  now: Date;
}

export type HoldResult =
  | { allowed: true; reservationId: string; expiresAt: Date; levels: LevelFigures[] }
  | {
      allowed: false;
      /** The first level, in request order, that has too little left. */
      deniedBy: string;
      measure: 'amount' | 'tokens';
      /** How much more the estimate is than what is left there (decimal string or tokens). */
      shortBy: string;
      levels: LevelFigures[];
    };

/** What happened to the reservation an event named; the event's spend is added in every case (metering's word for it). */
export type ReservationOutcome = IngestReservationOutcome;

/** One stored event's spend: its reservation committed (when it names one), its actual spend on its levels. */
export interface UsageItem {
  reservationId: string | null;
  /**
   * The event's agent and its person: the event may commit a reservation of that agent, or one the person
   * made for themselves (a member's, no agent; reservation-rules.ts, mayCommit). Any other is `foreign` and
   * left alone.
   */
  agentId: string | null;
  personId: string | null;
  /** The event's own levels (its path at its time): the actual spend is added to those that exist. */
  levels: readonly string[];
  actual: Quantity;
}

export interface CommitRequest {
  reservationId: string;
  /** The event's agent and its person, as in UsageItem. */
  agentId: string | null;
  personId: string | null;
  /** The event's own levels (its path at its time): the actual spend is added to those that exist. */
  levels: readonly string[];
  actual: Quantity;
  now: Date;
}

/**
 * A counter change made inside the caller's transaction. The caller runs exactly one of the two after
 * the transaction ends (a PostgreSQL-only engine did everything inside it; both are then no-ops).
 */
export interface CounterWrite<T> {
  result: T;
  afterCommit(): Promise<void>;
  afterRollback(): Promise<void>;
}

/** See CountersEngine.recordUsageBefore. */
export interface UsageBefore {
  sql(first: number): string;
  params: readonly unknown[];
  settle(counted: unknown): Promise<{ result: { outcomes: (ReservationOutcome | null)[]; figures: LevelFigures[] }; afterCommit(): Promise<void> }>;
  afterRollback(): Promise<void>;
}

export type SetLimitResult =
  | { ok: true; figures: LevelFigures }
  /** The new limit is below what is spent plus held there. */
  | { ok: false; measure: 'amount' | 'tokens'; used: string; figures: LevelFigures };

export type TransferResult =
  | { ok: true; from: LevelFigures; to: LevelFigures }
  /** More than the unused allocation of `from` (limit - spent - held). */
  | { ok: false; measure: 'amount' | 'tokens'; unused: string; from: LevelFigures };

export type ReleaseResult = 'released' | 'unknown' | 'expired' | 'already_committed' | 'already_released';

export interface CountersEngine {
  readonly kind: 'redis' | 'postgres';

  /** One atomic check-and-hold across every level; expired holds of the account are released first. */
  hold(account: string, request: HoldRequest): Promise<HoldResult>;

  /**
   * An event that named a reservation: its actual spend replaces the hold (the rest is released). Runs
   * inside the ingest write's transaction `tx`; see CounterWrite.
   */
  commit(tx: Tx, account: string, request: CommitRequest): Promise<CounterWrite<ReservationOutcome>>;

  /**
   * The events of one ingest write, in one step inside its transaction `tx`: each named reservation
   * committed (in item order; a second event naming the same one finds it `already_committed`), every
   * item's spend added, and the figures of the `read` levels as they stand after them (for the readings).
   */
  recordUsage(
    tx: Tx,
    account: string,
    request: { items: readonly UsageItem[]; read: readonly string[]; now: Date },
  ): Promise<CounterWrite<{ outcomes: (ReservationOutcome | null)[]; figures: LevelFigures[] }>>;

  /**
   * recordUsage for an ingest write made as ONE statement without a transaction, where the engine can
   * (Redis; absent for the PostgreSQL engine, whose counters need the write's transaction): the spend is
   * counted now, before the statement; the statement carries `sql` (the reservations' commit and the
   * write's journal row, see ReservationsRepository.committedSql); then exactly one of settle (after its
   * commit, with its `counted` value) or afterRollback.
   */
  recordUsageBefore?(
    account: string,
    request: { items: readonly UsageItem[]; read: readonly string[]; now: Date },
  ): Promise<UsageBefore>;

  /** Usage is a fact: spend added to the levels that exist, with no check. Inside the ingest transaction. */
  addSpend(tx: Tx, account: string, request: { levels: readonly string[]; actual: Quantity; now: Date }): Promise<CounterWrite<void>>;

  /** Releases a hold (DELETE /v1/authorizations/:id). `agentId` must match the reservation's, or it is `unknown`. */
  release(account: string, reservationId: string, owner: { agentId: string | null; personId: string }, now: Date): Promise<ReleaseResult>;

  /**
   * Sets a level's limit, in the transaction that changes its owner's row (the budget, the cap); refuses
   * to go below spent + held unless `belowUsage` (caps may be cut at once). Not ok: roll back.
   */
  setLimit(tx: Tx, account: string, level: string, limit: Limit, now: Date, options?: { belowUsage?: boolean }): Promise<CounterWrite<SetLimitResult>>;

  /** Moves unused allocation (limit - spent - held) between levels, atomically with holds. Not ok: roll back. */
  transfer(tx: Tx, account: string, from: string, to: string, amount: Quantity, now: Date): Promise<CounterWrite<TransferResult>>;

  /** Figures of these levels (levels not loaded are loaded from PostgreSQL first). */
  read(account: string, levels: readonly string[], now: Date): Promise<LevelFigures[]>;

  /** Recomputes the account's counters from PostgreSQL. */
  rebuild(account: string, now: Date): Promise<void>;

  /**
   * Reads these levels' limits and spend again from PostgreSQL (held stays): for a limit that changed
   * without setLimit, e.g. the credit balance after a top-up or a grant expiry, or spend that changed
   * outside ingest (events priced or repriced later). Run after the change commits. Exact while writes go
   * on, as a rebuild is: the PostgreSQL engine recomputes the levels under the account's exclusive lock and
   * their row locks; the Redis engine loads them by the rebuild's protocol (redis-counters.ts), writes
   * pending or confirmed outside its snapshot added once.
   */
  refresh(account: string, levels: readonly string[], now: Date): Promise<void>;

  /**
   * refresh for spend that changed in the caller's transaction `tx` (events priced or repriced later), made
   * as crash-safe as ingest's writes (see CounterWrite): the PostgreSQL engine recomputes the levels inside
   * `tx`, under the account's exclusive lock, so they commit with the change; the Redis engine journals a
   * pending write of nothing in `tx` and refreshes after the commit, confirming that write only then, so a
   * process that dies in between (or a refresh that fails) leaves it past its deadline and the account is
   * rebuilt from PostgreSQL at its next call.
   */
  refreshWith(tx: Tx, account: string, levels: readonly string[], now: Date): Promise<CounterWrite<void>>;

  /** Releases every hold past its expiry (the sweeper job; holds also expire lazily on each call). */
  expireDue(now: Date): Promise<number>;
}

export const COUNTERS_ENGINE = Symbol('COUNTERS_ENGINE');

/**
 * Where a level's limit comes from, read inside `db` (one snapshot with the spend this engine reads from
 * the rollups). A level absent from the answer has no limit any more (its budget was deleted or made
 * soft). Budgets answer for `budget/...`, credits for `credits`, this helper for `agent/...` and
 * `sessioncap/...` (a `session/...` level has no limit of its own: it uses its context's cap).
 */
export interface LimitSource {
  readonly kinds: readonly LevelKind[];
  limits(db: Db, account: string, levels: readonly string[], now: Date): Promise<Map<string, Limit>>;
  /**
   * The spend of levels whose owner keeps it (the credit ledger for `credits`: usage burned from the grants
   * in force plus usage metered but not yet booked); without it, spend is read from the rollups.
   */
  spent?(db: Db, account: string, levels: readonly string[], now: Date): Promise<Map<string, Quantity>>;
}


/**
 * Which hard budgets are in force on a path, registered by the budgets module
 * (LimitRegistry.registerHardBudgets); their limits come through its LimitSource for `budget/...` levels,
 * and a node's spend in a period from the rollups (meter_daily_people for units and people, by the unit at
 * event time; meter_spend_daily for the account).
 */
export interface HardBudgetsPort {
  /** Levels of the hard budgets in force at `at` on these nodes (person, units up to account). */
  hardLevels(db: Db, account: string, nodes: readonly BudgetNode[], at: Date): Promise<string[]>;
}

/**
 * Levels every hold of an account names besides its path (the credit balance when the plan blocks
 * overage), registered by their owner (credits) with LimitRegistry.registerAccountLevels.
 */
export interface AccountLevelsPort {
  /** Read through `db` (a transaction's connection when called inside one). */
  accountLevels(db: Db, account: string, now: Date): Promise<string[]>;
}

/**
 * Runs `work` in a transaction and then, for every counter write it made, afterCommit (or afterRollback
 * when the transaction failed). A failed afterCommit is logged, not thrown: the change is committed, and
 * Redis is left stricter than PostgreSQL until the account is rebuilt (its pending write goes stale).
 */
export async function withCounterWrites<T>(
  transactions: { run<R>(work: (tx: Tx) => Promise<R>): Promise<R> },
  work: (tx: Tx, writes: CounterWrite<unknown>[]) => Promise<T>,
  onAfterCommitError: (error: unknown) => void,
): Promise<T> {
  const writes: CounterWrite<unknown>[] = [];
  let result: T;
  try {
    result = await transactions.run((tx) => work(tx, writes));
  } catch (error) {
    for (const w of writes) await w.afterRollback().catch(onAfterCommitError);
    throw error;
  }
  for (const w of writes) await w.afterCommit().catch(onAfterCommitError);
  return result;
}
