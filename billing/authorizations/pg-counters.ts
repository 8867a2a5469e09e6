// The counters engine without Redis: every operation is one PostgreSQL transaction that locks the counter
// rows it touches (in level order, so lockers never deadlock) and keeps them exact (numeric, no scaling).
// Lock order everywhere: the account's advisory lock, then reservation rows, then counter rows.
import type { Tx } from '../../src/database/data-source.js';
import type { TransactionRunner } from '../../src/database/transactions.js';
import { decideHold, EXACT_SCALE, fromScaledInteger, leftOf, toScaledInteger, type ScaledCounter } from './counter-math.js';
import {
  limitLevelOf,
  type CommitRequest,
  type CounterWrite,
  type CountersEngine,
  type HoldRequest,
  type HoldResult,
  type LevelFigures,
  type Limit,
  type Quantity,
  type ReleaseResult,
  type ReservationOutcome,
  type SetLimitResult,
  type TransferResult,
  type UsageItem,
} from './counters.js';
import type { CounterRow, CountersRepository } from './counters.repository.js';
import type { LimitRegistry } from './limit-registry.js';
import type { ReservationRow, ReservationsRepository } from './reservations.repository.js';
import { reservationRow, resolveForCommit, resolveForRelease, resolveManyForCommit } from './reservation-rules.js';
import type { SpendRepository } from './spend.repository.js';

const S = EXACT_SCALE;
const amountOf = (text: string) => toScaledInteger(text, S, 'up');
const limitOf = (text: string | null) => (text === null ? null : toScaledInteger(text, S, 'down'));
const tokensOf = (text: string | null) => (text === null ? null : BigInt(text));
const text = (n: bigint) => fromScaledInteger(n, S);

export type Counter = ScaledCounter;

export function counterOf(row: CounterRow): Counter {
  return {
    limitAmount: limitOf(row.limit_amount),
    limitTokens: tokensOf(row.limit_tokens),
    spentAmount: amountOf(row.spent_amount),
    spentTokens: BigInt(row.spent_tokens),
    heldAmount: amountOf(row.held_amount),
    heldTokens: BigInt(row.held_tokens),
  };
}

function rowOf(level: string, c: Counter): CounterRow {
  return {
    level,
    limit_amount: c.limitAmount === null ? null : text(c.limitAmount),
    limit_tokens: c.limitTokens === null ? null : String(c.limitTokens),
    spent_amount: text(c.spentAmount),
    spent_tokens: String(c.spentTokens),
    held_amount: text(c.heldAmount),
    held_tokens: String(c.heldTokens),
  };
}

const EMPTY: Counter = { limitAmount: null, limitTokens: null, spentAmount: 0n, spentTokens: 0n, heldAmount: 0n, heldTokens: 0n };

/** A level's counter with the limit it answers to (a session's is its context cap's). */
export function effective(level: string, counters: ReadonlyMap<string, Counter>): Counter {
  const own = counters.get(level) ?? EMPTY;
  const limitLevel = limitLevelOf(level);
  if (limitLevel === level) return own;
  const cap = counters.get(limitLevel) ?? EMPTY;
  return { ...own, limitAmount: cap.limitAmount, limitTokens: cap.limitTokens };
}

export function figuresOf(level: string, c: Counter, scale: number): LevelFigures {
  const t = (n: bigint) => fromScaledInteger(n, scale);
  const leftAmount = leftOf(c.limitAmount, c.spentAmount, c.heldAmount);
  const leftTokens = leftOf(c.limitTokens, c.spentTokens, c.heldTokens);
  return {
    level,
    limit: { amount: c.limitAmount === null ? null : t(c.limitAmount), tokens: c.limitTokens === null ? null : Number(c.limitTokens) },
    spent: { amount: t(c.spentAmount), tokens: Number(c.spentTokens) },
    held: { amount: t(c.heldAmount), tokens: Number(c.heldTokens) },
    left: { amount: leftAmount === null ? null : t(leftAmount), tokens: leftTokens === null ? null : Number(leftTokens) },
  };
}

const unique = (items: Iterable<string>) => [...new Set(items)];
const withLimitLevels = (levels: readonly string[]) => unique([...levels, ...levels.map(limitLevelOf)]);

function done<T>(result: T): CounterWrite<T> {
  return { result, afterCommit: async () => undefined, afterRollback: async () => undefined };
}

export class PgCounters implements CountersEngine {
  readonly kind = 'postgres' as const;

  constructor(
    private readonly transactions: TransactionRunner,
    private readonly counters: CountersRepository,
    private readonly reservations: ReservationsRepository,
    private readonly spend: SpendRepository,
    private readonly limits: LimitRegistry,
  ) {}

  hold(account: string, req: HoldRequest): Promise<HoldResult> {
    return this.transactions.run(async (tx) => {
      await this.counters.commitWithoutFlush(tx);
      await this.ensure(tx, account, req.levels, req.now);
      const rows = await this.lockExpiring(tx, account, withLimitLevels(req.levels), req.now);
      const estimate = { amount: amountOf(req.estimate.amount), tokens: BigInt(req.estimate.tokens) };
      const decision = decideHold(req.levels.map((l) => effective(l, rows)), estimate);
      if (decision.allowed) {
        for (const level of req.levels) {
          const c = rows.get(level)!;
          rows.set(level, { ...c, heldAmount: c.heldAmount + estimate.amount, heldTokens: c.heldTokens + estimate.tokens });
        }
        await this.reservations.insertMany([reservationRow(account, req)], tx);
      }
      await this.save(tx, account, rows);
      const figures = req.levels.map((l) => figuresOf(l, effective(l, rows), S));
      if (!decision.allowed) {
        const shortBy = decision.measure === 'amount' ? text(decision.shortBy) : String(decision.shortBy);
        return { allowed: false, deniedBy: req.levels[decision.index]!, measure: decision.measure, shortBy, levels: figures };
      }
      return { allowed: true, reservationId: req.reservationId, expiresAt: req.expiresAt, levels: figures };
    });
  }

  async commit(tx: Tx, account: string, req: CommitRequest): Promise<CounterWrite<ReservationOutcome>> {
    await this.counters.lockAccount(tx, account, 'shared');
    const { outcome, released } = await resolveForCommit(tx, this.reservations, account, req);
    const rows = await this.lock(tx, account, [...req.levels, ...(released?.levels ?? [])]);
    if (released) this.unhold(rows, released);
    this.addSpent(rows, req.levels, req.actual);
    await this.save(tx, account, rows);
    return done(outcome);
  }

  async recordUsage(
    tx: Tx,
    account: string,
    req: { items: readonly UsageItem[]; read: readonly string[]; now: Date },
  ): Promise<CounterWrite<{ outcomes: (ReservationOutcome | null)[]; figures: LevelFigures[] }>> {
    // A read level without a counter is made now, from the record as this transaction sees it: with this
    // write's events already in the rollups (so its spend is not added again) and its reservations still held.
    const wanted = withLimitLevels(req.read);
    const had = await this.counters.existing(tx, account, wanted);
    if (had.size < wanted.length) await this.ensure(tx, account, req.read, req.now);
    await this.counters.lockAccount(tx, account, 'shared');
    const { outcomes, released } = await resolveManyForCommit(tx, this.reservations, account, req.items, req.now);
    const rows = await this.lock(tx, account, [...wanted, ...req.items.flatMap((i) => i.levels), ...released.flatMap((r) => r.levels)]);
    for (const r of released) this.unhold(rows, r);
    const counted = new Map([...rows].filter(([level]) => had.has(level) || !wanted.includes(level)));
    for (const item of req.items) this.addSpent(counted, item.levels, item.actual);
    for (const [level, c] of counted) rows.set(level, c);
    await this.save(tx, account, rows);
    return done({ outcomes, figures: req.read.map((l) => figuresOf(l, effective(l, rows), S)) });
  }

  async addSpend(tx: Tx, account: string, req: { levels: readonly string[]; actual: Quantity; now: Date }): Promise<CounterWrite<void>> {
    await this.counters.lockAccount(tx, account, 'shared');
    const rows = await this.lock(tx, account, req.levels);
    this.addSpent(rows, req.levels, req.actual);
    await this.save(tx, account, rows);
    return done(undefined);
  }

  release(account: string, reservationId: string, owner: { agentId: string | null; personId: string }, now: Date): Promise<ReleaseResult> {
    return this.transactions.run(async (tx) => {
      const { result, released } = await resolveForRelease(tx, this.reservations, account, reservationId, owner, now);
      if (released) {
        const rows = await this.lock(tx, account, released.levels);
        this.unhold(rows, released);
        await this.save(tx, account, rows);
      }
      return result;
    });
  }

  async setLimit(tx: Tx, account: string, level: string, limit: Limit, now: Date, options: { belowUsage?: boolean } = {}): Promise<CounterWrite<SetLimitResult>> {
    await this.ensure(tx, account, [level], now);
    await this.counters.lockAccount(tx, account, 'shared');
    const rows = await this.lockExpiring(tx, account, [level], now);
    const c = rows.get(level)!;
    const next: Counter = { ...c, limitAmount: limitOf(limit.amount), limitTokens: tokensOf(limit.tokens === null ? null : String(limit.tokens)) };
    if (!options.belowUsage) {
      if (next.limitAmount !== null && next.limitAmount < c.spentAmount + c.heldAmount) {
        return done({ ok: false, measure: 'amount', used: text(c.spentAmount + c.heldAmount), figures: figuresOf(level, c, S) });
      }
      if (next.limitTokens !== null && next.limitTokens < c.spentTokens + c.heldTokens) {
        return done({ ok: false, measure: 'tokens', used: String(c.spentTokens + c.heldTokens), figures: figuresOf(level, c, S) });
      }
    }
    rows.set(level, next);
    await this.save(tx, account, rows);
    return done({ ok: true, figures: figuresOf(level, next, S) });
  }

  async transfer(tx: Tx, account: string, from: string, to: string, amount: Quantity, now: Date): Promise<CounterWrite<TransferResult>> {
    await this.ensure(tx, account, [from, to], now);
    await this.counters.lockAccount(tx, account, 'shared');
    const rows = await this.lockExpiring(tx, account, [from, to], now);
    const a = rows.get(from)!;
    const b = rows.get(to)!;
    const move = { amount: amountOf(amount.amount), tokens: BigInt(amount.tokens) };
    const unusedAmount = leftOf(a.limitAmount, a.spentAmount, a.heldAmount);
    const unusedTokens = leftOf(a.limitTokens, a.spentTokens, a.heldTokens);
    if (move.amount > 0n && (unusedAmount === null || move.amount > unusedAmount)) {
      return done({ ok: false, measure: 'amount', unused: unusedAmount === null ? 'unlimited' : text(unusedAmount), from: figuresOf(from, a, S) });
    }
    if (move.tokens > 0n && (unusedTokens === null || move.tokens > unusedTokens)) {
      return done({ ok: false, measure: 'tokens', unused: unusedTokens === null ? 'unlimited' : String(unusedTokens), from: figuresOf(from, a, S) });
    }
    const na: Counter = {
      ...a,
      limitAmount: a.limitAmount === null ? null : a.limitAmount - move.amount,
      limitTokens: a.limitTokens === null ? null : a.limitTokens - move.tokens,
    };
    const nb: Counter = {
      ...b,
      limitAmount: move.amount > 0n ? (b.limitAmount ?? 0n) + move.amount : b.limitAmount,
      limitTokens: move.tokens > 0n ? (b.limitTokens ?? 0n) + move.tokens : b.limitTokens,
    };
    rows.set(from, na);
    rows.set(to, nb);
    await this.save(tx, account, rows);
    return done({ ok: true, from: figuresOf(from, na, S), to: figuresOf(to, nb, S) });
  }

  read(account: string, levels: readonly string[], now: Date): Promise<LevelFigures[]> {
    return this.transactions.run(async (tx) => {
      await this.ensure(tx, account, levels, now);
      const rows = await this.lockExpiring(tx, account, withLimitLevels(levels), now);
      return levels.map((l) => figuresOf(l, effective(l, rows), S));
    });
  }

  rebuild(account: string, now: Date): Promise<void> {
    return this.recompute(account, null, now);
  }

  refresh(account: string, levels: readonly string[], now: Date): Promise<void> {
    return this.recompute(account, levels, now);
  }

  /** The levels recomputed inside the caller's transaction, which sees its own change: they commit with it. */
  async refreshWith(tx: Tx, account: string, levels: readonly string[], now: Date): Promise<CounterWrite<void>> {
    await this.counters.lockAccount(tx, account, 'exclusive');
    await this.counters.lock(tx, account, levels);
    await this.counters.upsert(tx, account, await this.compute(tx, account, levels, now));
    return done(undefined);
  }

  /**
   * Counters recomputed from the record. The exclusive lock keeps out writers of spend and limits, the
   * row locks keep out holds; what committed before is read after both are taken.
   */
  private recompute(account: string, only: readonly string[] | null, now: Date): Promise<void> {
    return this.transactions.run(async (tx) => {
      await this.counters.lockAccount(tx, account, 'exclusive');
      const levels = only ?? (await this.counters.allLevels(tx, account));
      await this.counters.lock(tx, account, levels);
      await this.counters.upsert(tx, account, await this.compute(tx, account, levels, now));
    });
  }

  async expireDue(now: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.transactions.run(async (tx) => {
        const expired = await this.reservations.expireDue(tx, now, 500);
        const byAccount = new Map<string, ReservationRow[]>();
        for (const r of expired) byAccount.set(r.account_id, [...(byAccount.get(r.account_id) ?? []), r]);
        for (const [account, list] of [...byAccount].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
          const rows = await this.lock(tx, account, list.flatMap((r) => r.levels));
          for (const r of list) this.unhold(rows, r);
          await this.save(tx, account, rows);
        }
        return expired.length;
      });
      total += n;
      if (n < 500) return total;
    }
  }

  /** Creates the counter rows of levels that have none, from PostgreSQL's record, under the exclusive lock. */
  private async ensure(tx: Tx, account: string, levels: readonly string[], now: Date): Promise<void> {
    const wanted = withLimitLevels(levels);
    if ((await this.counters.existing(tx, account, wanted)).size === wanted.length) return;
    await this.counters.lockAccount(tx, account, 'exclusive');
    const have = await this.counters.existing(tx, account, wanted);
    const missing = wanted.filter((l) => !have.has(l));
    await this.counters.upsert(tx, account, await this.compute(tx, account, missing, now));
  }

  /** Counters as PostgreSQL's record says: limits from their owners, spend from the rollups, held from reservations. */
  private async compute(tx: Tx, account: string, levels: readonly string[], now: Date): Promise<CounterRow[]> {
    if (levels.length === 0) return [];
    const limits = await this.limits.limits(tx, account, levels, now);
    const spent = await this.limits.withOwnedSpend(tx, account, levels, now, await this.spend.spentOf(tx, account, levels));
    const held = await this.counters.heldFromReservations(tx, account, levels);
    return levels.map((level) => ({
      level,
      limit_amount: limits.get(level)?.amount ?? null,
      limit_tokens: limits.get(level)?.tokens === undefined || limits.get(level)?.tokens === null ? null : String(limits.get(level)!.tokens),
      spent_amount: spent.get(level)!.amount,
      spent_tokens: String(spent.get(level)!.tokens),
      held_amount: held.get(level)?.amount ?? '0',
      held_tokens: held.get(level)?.tokens ?? '0',
    }));
  }

  /**
   * Locks these levels' counters after releasing the account's holds that are due at `now` (as the Redis
   * engine does on every call that answers with figures), so figures never count an expired hold.
   */
  private async lockExpiring(tx: Tx, account: string, levels: readonly string[], now: Date): Promise<Map<string, Counter>> {
    const expired = await this.reservations.expireDue(tx, now, 1000, account);
    const rows = await this.lock(tx, account, [...levels, ...expired.flatMap((r) => r.levels)]);
    for (const r of expired) this.unhold(rows, r);
    if (expired.length > 0) await this.save(tx, account, rows);
    return rows;
  }

  private async lock(tx: Tx, account: string, levels: readonly string[]): Promise<Map<string, Counter>> {
    const rows = await this.counters.lock(tx, account, unique(levels));
    return new Map([...rows].map(([level, row]) => [level, counterOf(row)]));
  }

  private async save(tx: Tx, account: string, rows: ReadonlyMap<string, Counter>): Promise<void> {
    await this.counters.upsert(tx, account, [...rows].map(([level, c]) => rowOf(level, c)));
  }

  private unhold(rows: Map<string, Counter>, r: Pick<ReservationRow, 'levels' | 'amount' | 'tokens'>): void {
    const amount = amountOf(r.amount);
    const tokens = BigInt(r.tokens);
    for (const level of r.levels) {
      const c = rows.get(level);
      if (c) rows.set(level, { ...c, heldAmount: c.heldAmount - amount, heldTokens: c.heldTokens - tokens });
    }
  }

  private addSpent(rows: Map<string, Counter>, levels: readonly string[], actual: Quantity): void {
    const amount = amountOf(actual.amount);
    const tokens = BigInt(actual.tokens);
    for (const level of unique(levels)) {
      const c = rows.get(level);
      if (c) rows.set(level, { ...c, spentAmount: c.spentAmount + amount, spentTokens: c.spentTokens + tokens });
    }
  }
}

