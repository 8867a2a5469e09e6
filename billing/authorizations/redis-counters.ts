// The counters engine with Redis: each operation is one Lua script over the account's keys (see
// redis-scripts.ts), PostgreSQL keeps the durable record (reservation rows, written by a group commit;
// the journal of counter writes). Redis is a cache that is always at least as strict as that record:
// room is used in Redis before the PostgreSQL write commits and freed after it (counters.ts). A missing
// account (a FLUSH, a fresh Redis) or level is loaded from PostgreSQL before it answers; a writer that
// died between its commit and its confirmation makes the account stale, and it is rebuilt.
//
// Rebuild (full) or load (some levels), exact while writes go on:
//  1. `rb` is set in Redis; from then on confirmations and releases are also written to the `d` list.
//  2. One REPEATABLE READ snapshot of PostgreSQL: limits, spend, held reservations (taken, by its first
//     statement, before step 3 reads anything from Redis).
//  3. Redis' pending and confirmed write ids, looked up in the same snapshot: which ones it holds.
//     Every write is pending in Redis before it commits, so a write the snapshot holds was pending or
//     confirmed by then, and any other write is not in the snapshot.
//  4. One script applies the snapshot plus what it does not hold: pending writes' early ops, confirmed
//     writes' ops, Redis' own reservations younger than RECENT_MS (their rows may still be on their way),
//     less releases seen in `d`. If another rebuild started meanwhile (its `rb` differs), start again.
import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../src/redis/redis-client.js';
import type { Counter, Histogram } from 'prom-client';
import { openCommitMark } from '../../src/database/commit-marks.js';
import type { Tx } from '../../src/database/data-source.js';
import type { TransactionRunner } from '../../src/database/transactions.js';
import { fromScaledInteger, microText, REDIS_MAX_LIMIT, redisLimit, REDIS_SCALE, toScaledInteger } from './counter-math.js';
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
  type UsageBefore,
  type UsageItem,
} from './counters.js';
import { HoldLeases, type LeaseStore } from './hold-leases.js';
import type { LeaseBroadcast } from './lease-broadcast.js';
import { DEFAULT_LEASE, type LeaseSettings } from './lease-policy.js';
import type { LimitRegistry } from './limit-registry.js';
import { namedReservations, newWriteId, outcomesOf, reservationRow, resolveForCommit, resolveForRelease, resolveManyForCommit } from './reservation-rules.js';
import type { ReservationWriter } from './reservation-writer.js';
import type { NewReservation, ReservationRow, ReservationsRepository } from './reservations.repository.js';
import { accountKeys, scriptSource, SCRIPTS, type ScriptName } from './redis-scripts.js';
import type { SpendRepository } from './spend.repository.js';

/** A write pending longer than this belongs to a process that died (PostgreSQL writes take milliseconds). */
export const PENDING_DEADLINE_MS = 30_000;
/** Redis' own reservations younger than this survive a rebuild that does not see their row yet. */
export const RECENT_MS = 120_000;

const up = (amount: string) => toScaledInteger(amount, REDIS_SCALE, 'up').toString();
/** Limits (and what a transfer adds to one): rounded down, at most 9 x 10^9 (counter-math.ts, redisLimit). */
const down = (amount: string) => redisLimit(amount).toString();
const text = (micro: string) => fromScaledInteger(BigInt(micro), REDIS_SCALE);

type Reply = (string | number)[];

interface Op {
  t: 'sp' | 'lv' | 'lmin' | 'ld';
  l: string | string[];
  a: string;
  k: string;
}

/** limit - spent - held of 10^-6 as text: in doubles when every step is a safe integer, else in BigInt. */
function leftText(limit: number, spent: number, held: number, ...raw: (string | number)[]): string {
  const first = limit - spent;
  const left = first - held;
  if (Number.isSafeInteger(limit) && Number.isSafeInteger(spent) && Number.isSafeInteger(held) && Number.isSafeInteger(first) && Number.isSafeInteger(left)) return microText(left);
  const [l, s, h] = raw.map((r) => BigInt(r));
  return fromScaledInteger(l! - s! - h!, REDIS_SCALE);
}

/** Six figures per level as the scripts return them: la, lt ('-' = none), sa, st, ha, ht (10^-6 and tokens). */
function figuresFrom(levels: readonly string[], reply: Reply, from: number): LevelFigures[] {
  const out: LevelFigures[] = new Array<LevelFigures>(levels.length);
  for (let i = 0; i < levels.length; i++) {
    const at = from + 6 * i;
    const la = reply[at]!;
    const lt = reply[at + 1]!;
    const sa = Number(reply[at + 2]);
    const st = Number(reply[at + 3]);
    const ha = Number(reply[at + 4]);
    const ht = Number(reply[at + 5]);
    const limitA = la === '-' ? null : Number(la);
    const limitT = lt === '-' ? null : Number(lt);
    out[i] = {
      level: levels[i]!,
      limit: { amount: limitA === null ? null : microText(limitA, la), tokens: limitT },
      spent: { amount: microText(sa, reply[at + 2]!), tokens: st },
      held: { amount: microText(ha, reply[at + 4]!), tokens: ht },
      left: { amount: limitA === null ? null : leftText(limitA, sa, ha, la, reply[at + 2]!, reply[at + 4]!), tokens: limitT === null ? null : limitT - st - ht },
    };
  }
  return out;
}

const noop = async () => undefined;

/**
 * Figures read while a write was pending, as they will be after its commit, when the committed
 * reservations' holds come off (an expired one's hold came off already: the script releases due holds first).
 */
function afterCommit(figures: readonly LevelFigures[], released: readonly Pick<ReservationRow, 'levels' | 'amount' | 'tokens' | 'expires_at'>[], now: Date): LevelFigures[] {
  // What the committed holds took off each level, summed once (not once per level and reservation).
  const off = new Map<string, { amount: bigint; tokens: number }>();
  for (const r of released) {
    if (r.expires_at.getTime() <= now.getTime()) continue;
    const amount = toScaledInteger(r.amount, REDIS_SCALE, 'up');
    const tokens = Number(r.tokens);
    for (const [i, l] of r.levels.entries()) {
      if (r.levels.indexOf(l) !== i) continue; // a level named twice comes off once
      const o = off.get(l);
      if (o === undefined) off.set(l, { amount, tokens });
      else {
        o.amount += amount;
        o.tokens += tokens;
      }
    }
  }
  if (off.size === 0) return [...figures];
  return figures.map((f) => {
    const o = off.get(f.level);
    if (o === undefined) return f;
    const heldAmount = toScaledInteger(f.held.amount, REDIS_SCALE, 'exact') - o.amount;
    const heldTokens = f.held.tokens - o.tokens;
    const held = { amount: fromScaledInteger(heldAmount, REDIS_SCALE), tokens: heldTokens };
    const limitA = f.limit.amount === null ? null : toScaledInteger(f.limit.amount, REDIS_SCALE, 'exact');
    const spentA = toScaledInteger(f.spent.amount, REDIS_SCALE, 'exact');
    return {
      ...f,
      held,
      left: {
        amount: limitA === null ? null : fromScaledInteger(limitA - spentA - heldAmount, REDIS_SCALE),
        tokens: f.limit.tokens === null ? null : f.limit.tokens - f.spent.tokens - heldTokens,
      },
    };
  });
}

/** One spend op per distinct path: the events of one agent mostly share theirs. */
function spendOps(items: readonly UsageItem[]): Op[] {
  const byPath = new Map<string, { levels: string[]; amount: bigint; tokens: number }>();
  for (const item of items) {
    if (item.levels.length === 0) continue;
    const key = item.levels.join('\u0000');
    const sum = byPath.get(key) ?? { levels: [...item.levels], amount: 0n, tokens: 0 };
    sum.amount += BigInt(up(item.actual.amount));
    sum.tokens += item.actual.tokens;
    byPath.set(key, sum);
  }
  return [...byPath.values()].map((p) => ({ t: 'sp', l: p.levels, a: p.amount.toString(), k: String(p.tokens) }));
}

/** The most holds one script call takes (its reply and arguments stay small). */
const MAX_HOLD_BATCH = 128;

interface HoldBatch {
  items: { req: HoldRequest; amount: string; resolve: (reply: Reply) => void; reject: (error: unknown) => void }[];
}

type Pended =
  | { refused: { measure: 'amount' | 'tokens'; figure: string } }
  | { reply: Reply; afterCommit: () => Promise<void>; afterRollback: () => Promise<void> };

export class RedisCounters implements CountersEngine {
  readonly kind = 'redis' as const;
  private readonly logger = new Logger('authorizations');
  /** Per account: the holds waiting for the next turn of the event loop (see batchedHold). */
  private readonly holdBatches = new Map<string, HoldBatch>();
  /** Per account: whether a load runs, and the one that will run next (requests merged into it). */
  private readonly loads = new Map<
    string,
    { running: boolean; queued: { full: boolean; levels: Set<string>; now: Date; promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null }
  >();

  constructor(
    private readonly redis: RedisClient,
    private readonly namespace: string,
    private readonly transactions: TransactionRunner,
    private readonly reservations: ReservationsRepository,
    private readonly writer: ReservationWriter,
    private readonly spend: SpendRepository,
    private readonly limits: LimitRegistry,
    /** Whether a hold waits for its reservation row (see AppConfig.authorizations). */
    private readonly answerAfter: 'row' | 'redis' = 'row',
    /** Holds per tmHold call (see batchedHold). */
    private readonly holdBatchSize?: Histogram,
    /** Budget leases (hold-leases.ts); holds 0 turns them off. */
    leaseSettings: LeaseSettings = DEFAULT_LEASE,
    leaseCounter?: Counter<'outcome'>,
    /** With several service processes: asks the others for their leases on a denial (lease-broadcast.ts). */
    private readonly broadcast?: LeaseBroadcast,
  ) {
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 7, lua: scriptSource(name) });
    }
    this.leases = leaseSettings.holds > 0 ? new HoldLeases(leaseSettings, this.leaseStore(), leaseCounter) : null;
    const leases = this.leases;
    if (leases && broadcast) void broadcast.start((account, now) => leases.releaseForOther(account, now));
  }

  private readonly leases: HoldLeases | null;

  /** What the leases do through this engine. */
  private leaseStore(): LeaseStore {
    return {
      hold: (account, req) => this.batchedHold(account, req),
      write: (id, ready) => this.writer.writeWhen(id, ready),
      carve: (account, args, now) => this.loaded(account, now, () => this.run('tmCarve', account, ...args)),
      release: async (account, id, owner, now) => {
        await this.release(account, id, owner, now);
      },
      unhold: async (account, id) => {
        await this.run('tmUnhold', account, id);
      },
      ...(this.broadcast ? { askOthers: (account: string, now: Date) => this.broadcast!.ask(account, now) } : {}),
    };
  }

  /** At shutdown, after quiesce: no more asks from or to the other processes. */
  async close(): Promise<void> {
    await this.broadcast?.close();
  }

  /** Every budget lease of this process released, then every reservation row still queued written (shutdown; tests). */
  async quiesce(): Promise<void> {
    await this.leases?.releaseAll();
    await this.writer.flush();
  }

  private run(name: ScriptName, account: string, ...args: (string | number)[]): Promise<unknown> {
    const command = (this.redis as unknown as Record<ScriptName, (...a: (string | number)[]) => Promise<unknown>>)[name];
    return command.call(this.redis, ...accountKeys(this.namespace, account), ...args);
  }

  /** Runs a script, loading what it says is missing and trying again. */
  private async loaded(account: string, now: Date, script: () => Promise<unknown>): Promise<Reply> {
    for (let attempt = 0; ; attempt++) {
      const reply = (await script()) as Reply | string;
      if (!Array.isArray(reply) || reply[0] !== 'missing') return reply as Reply;
      if (attempt >= 5) throw new Error(`counters of ${account} did not load`);
      const missing = reply.slice(1).map(String);
      await this.load(account, missing.includes('*') ? null : missing, now);
    }
  }

  async hold(account: string, req: HoldRequest): Promise<HoldResult> {
    // The estimate in Redis' integers (10^-6), as leases count it.
    const amount = this.leases ? Number(up(req.estimate.amount)) : 0;
    // A request with an Idempotency-Key (an open commit mark) commits its row in a transaction of its own,
    // which marks the key with it: see keyedRow.
    const keyed = openCommitMark() !== undefined;
    const leased = keyed ? null : this.leases?.take(account, req, amount);
    if (leased) return { allowed: true, reservationId: req.reservationId, expiresAt: req.expiresAt, levels: figuresFrom(req.levels, leased, 2) };
    let reply = await this.batchedHold(account, req);
    if (reply[0] === 'denied' && this.leases) {
      // Room leased (by this process or another) may be what is missing: the account's leases are released, and it is tried once more.
      if (await this.leases.releaseEverywhere(account, req.now)) reply = await this.batchedHold(account, req);
    }
    if (reply[1] === 1) this.rebuildSoon(account, req.now);
    if (reply[0] === 'denied') {
      const measure = reply[3] as 'amount' | 'tokens';
      const shortBy = measure === 'amount' ? text(String(reply[4])) : String(reply[4]);
      return { allowed: false, deniedBy: req.levels[Number(reply[2])]!, measure, shortBy, levels: figuresFrom(req.levels, reply, 5) };
    }
    const row = reservationRow(account, req);
    const written = (keyed ? this.keyedRow(row) : this.writer.write(row)).catch(async (error: unknown) => {
      // The hold has no durable row: take it back (and answer the failure, when the answer waits for it).
      await this.run('tmUnhold', account, req.reservationId);
      throw error;
    });
    if (this.answerAfter === 'row' || keyed) await written;
    else written.catch((error: unknown) => this.logger.error({ err: error, account }, 'a reservation row was not written; its hold was released'));
    this.leases?.allowed(account, req, amount, reply);
    return { allowed: true, reservationId: req.reservationId, expiresAt: req.expiresAt, levels: figuresFrom(req.levels, reply, 2) };
  }

  /**
   * The row of a hold asked for with an Idempotency-Key, written before the answer in a transaction of its own
   * rather than behind it: TransactionRunner writes the request's commit mark into that transaction, so a
   * process that dies after it and before the answer is kept leaves a key no retry takes over (409
   * idempotency_key_unanswered), never a second hold. The header is rare; the hot path stays write-behind.
   */
  private keyedRow(row: NewReservation): Promise<void> {
    return this.transactions.run((tx) => this.reservations.insertMany([row], tx));
  }

  /**
   * The holds of an account that arrive within one turn of the event loop go to Redis as one script call
   * (tmHold takes a batch; each hold in it is checked and held in order, atomically). Under load that is
   * several holds per call; alone, a batch of one, sent on the next turn as ioredis would anyway.
   */
  private batchedHold(account: string, req: HoldRequest): Promise<Reply> {
    const amount = up(req.estimate.amount);
    let batch = this.holdBatches.get(account);
    if (batch === undefined || batch.items.length >= MAX_HOLD_BATCH) {
      const fresh: HoldBatch = { items: [] };
      this.holdBatches.set(account, fresh);
      setImmediate(() => void this.runHolds(account, fresh));
      batch = fresh;
    }
    const items = batch.items;
    return new Promise<Reply>((resolve, reject) => items.push({ req, amount, resolve, reject }));
  }

  private async runHolds(account: string, batch: HoldBatch): Promise<void> {
    if (this.holdBatches.get(account) === batch) this.holdBatches.delete(account);
    this.holdBatchSize?.observe(batch.items.length);
    const args: (string | number)[] = [batch.items.length];
    let now = batch.items[0]!.req.now;
    for (const { req, amount } of batch.items) {
      if (req.now.getTime() > now.getTime()) now = req.now;
      args.push(req.now.getTime(), req.reservationId, req.expiresAt.getTime(), amount, req.estimate.tokens, req.agentId ?? '', req.personId, req.levels.length);
      for (const level of req.levels) args.push(level);
    }
    try {
      const replies = (await this.loaded(account, now, () => this.run('tmHold', account, ...args))) as unknown as Reply[];
      batch.items.forEach((item, i) => item.resolve(replies[i]!));
    } catch (error) {
      for (const item of batch.items) item.reject(error);
    }
  }

  async commit(tx: Tx, account: string, req: CommitRequest): Promise<CounterWrite<ReservationOutcome>> {
    await this.writer.written(req.reservationId);
    const { outcome, released } = await resolveForCommit(tx, this.reservations, account, req);
    const spend: Op = { t: 'sp', l: [...req.levels], a: up(req.actual.amount), k: String(req.actual.tokens) };
    const write = await this.pend(tx, account, req.now, { pre: [spend], post: [] }, [], released ? [released.id] : []);
    return { result: outcome, ...write };
  }

  async recordUsage(
    tx: Tx,
    account: string,
    req: { items: readonly UsageItem[]; read: readonly string[]; now: Date },
  ): Promise<CounterWrite<{ outcomes: (ReservationOutcome | null)[]; figures: LevelFigures[] }>> {
    const rows = this.writer.writtenAll(req.items.map((i) => i.reservationId));
    if (rows !== null) await rows;
    const { outcomes, released } = await resolveManyForCommit(tx, this.reservations, account, req.items, req.now);
    const write = await this.pendChecked(tx, account, req.now, { pre: spendOps(req.items), post: [] }, req.read, released.map((r) => r.id));
    if ('refused' in write) throw new Error('an unchecked write was refused');
    const figures = afterCommit(await this.figuresOf(account, req.read, write.reply, req.now), released, req.now);
    return { result: { outcomes, figures }, afterCommit: write.afterCommit, afterRollback: write.afterRollback };
  }

  async recordUsageBefore(account: string, req: { items: readonly UsageItem[]; read: readonly string[]; now: Date }): Promise<UsageBefore> {
    const rows = this.writer.writtenAll(req.items.map((i) => i.reservationId));
    if (rows !== null) await rows;
    const writeId = newWriteId();
    const reply = await this.pendInRedis(account, writeId, req.now, { pre: spendOps(req.items), post: [] }, req.read);
    if (reply[0] === 'refused') throw new Error('an unchecked write was refused');
    // Read while the write is pending, as recordUsage does: a load now counts it once, from Redis.
    const before = await this.figuresOf(account, req.read, reply, req.now);
    const named = namedReservations(req.items);
    return {
      sql: (first) => this.reservations.committedSql(first),
      params: this.reservations.committedParams(account, writeId, named, req.now),
      settle: async (counted) => {
        const { outcomes, released } = outcomesOf(req.items, this.reservations.committedFrom(counted));
        const figures = afterCommit(before, released, req.now);
        return {
          result: { outcomes, figures },
          afterCommit: async () => {
            await this.run('tmConfirm', account, writeId, ...released.map((r) => r.id));
          },
        };
      },
      afterRollback: async () => {
        await this.run('tmRollback', account, writeId);
      },
    };
  }

  /** The figures of `read` from a pend's reply; levels not loaded (a flushed account) are loaded now, the load counting the pending write. */
  private async figuresOf(account: string, read: readonly string[], reply: Reply, now: Date): Promise<LevelFigures[]> {
    return reply.length === 1 + 6 * read.length ? figuresFrom(read, reply, 1) : await this.read(account, read, now);
  }

  async addSpend(tx: Tx, account: string, req: { levels: readonly string[]; actual: Quantity; now: Date }): Promise<CounterWrite<void>> {
    const spend: Op = { t: 'sp', l: [...req.levels], a: up(req.actual.amount), k: String(req.actual.tokens) };
    const write = await this.pend(tx, account, req.now, { pre: [spend], post: [] }, [], []);
    return { result: undefined, ...write };
  }

  async release(account: string, reservationId: string, owner: { agentId: string | null; personId: string }, now: Date): Promise<ReleaseResult> {
    await this.writer.written(reservationId);
    const { result, released } = await this.transactions.run((tx) => resolveForRelease(tx, this.reservations, account, reservationId, owner, now));
    if (released) await this.run('tmUnhold', account, released.id);
    return result;
  }

  async setLimit(tx: Tx, account: string, level: string, limit: Limit, now: Date, options: { belowUsage?: boolean } = {}): Promise<CounterWrite<SetLimitResult>> {
    const a = limit.amount === null ? '-' : down(limit.amount);
    const k = limit.tokens === null ? '-' : String(limit.tokens);
    const entry = {
      pre: [{ t: 'lmin', l: level, a, k }],
      post: [{ t: 'lv', l: level, a, k }],
      needs: [level],
      ...(options.belowUsage ? {} : { check: { t: 'limit', l: level, a, k } }),
    };
    const write = await this.checkedWithoutLeases(tx, account, now, entry, [level]);
    if ('refused' in write) {
      const [figures] = await this.read(account, [level], now);
      return { result: { ok: false, measure: write.refused.measure, used: write.refused.figure, figures: figures! }, afterCommit: noop, afterRollback: noop };
    }
    // The figures as they will be once the new limit is in (a raised limit reaches Redis after the commit).
    const reply = [...write.reply];
    reply[1] = a;
    reply[2] = k;
    const [figures] = figuresFrom([level], reply, 1);
    return { result: { ok: true, figures: figures! }, afterCommit: write.afterCommit, afterRollback: write.afterRollback };
  }

  async transfer(tx: Tx, account: string, from: string, to: string, amount: Quantity, now: Date): Promise<CounterWrite<TransferResult>> {
    const a = up(amount.amount);
    const k = String(amount.tokens);
    const entry = {
      pre: [{ t: 'ld', l: from, a: `-${a}`, k: `-${k}` }],
      post: [{ t: 'ld', l: to, a: down(amount.amount), k }],
      needs: [from, to],
      check: { t: 'unused', l: from, a, k },
    };
    const write = await this.checkedWithoutLeases(tx, account, now, entry, [from, to]);
    if ('refused' in write) {
      const [figures] = await this.read(account, [from], now);
      return { result: { ok: false, measure: write.refused.measure, unused: write.refused.figure, from: figures! }, afterCommit: noop, afterRollback: noop };
    }
    // As they will be after the commit: the receiving side's limit grows then (at most to REDIS_MAX_LIMIT).
    const reply = [...write.reply];
    // A limit Redis keeps at its maximum stands for a larger one in PostgreSQL: a transfer out of it, or one
    // that takes a limit past it, leaves figures that only a reload from PostgreSQL makes what a rebuild
    // would (redisLimit of the new limits), so both levels are read again after the commit.
    const atMax = (v: string | number | undefined) => v !== undefined && v !== '-' && BigInt(v) >= REDIS_MAX_LIMIT;
    const clamped = atMax(reply[1]) || (reply[7] !== '-' && BigInt(reply[7]!) + BigInt(down(amount.amount)) >= REDIS_MAX_LIMIT);
    if (reply[7] !== '-') {
      const raised = BigInt(reply[7]!) + BigInt(down(amount.amount));
      reply[7] = (raised > REDIS_MAX_LIMIT ? REDIS_MAX_LIMIT : raised).toString();
    }
    else if (amount.amount !== '0') reply[7] = down(amount.amount);
    if (reply[8] !== '-') reply[8] = String(Number(reply[8]) + amount.tokens);
    else if (amount.tokens !== 0) reply[8] = k;
    const [f, t] = figuresFrom([from, to], reply, 1);
    const afterCommit = clamped
      ? async () => {
          await write.afterCommit();
          await this.refresh(account, [from, to], now);
        }
      : write.afterCommit;
    return { result: { ok: true, from: f!, to: t! }, afterCommit, afterRollback: write.afterRollback };
  }

  async read(account: string, levels: readonly string[], now: Date): Promise<LevelFigures[]> {
    const reply = await this.loaded(account, now, () => this.run('tmRead', account, now.getTime(), ...levels));
    if (reply[1] === 1) this.rebuildSoon(account, now);
    return figuresFrom(levels, reply, 2);
  }

  async rebuild(account: string, now: Date): Promise<void> {
    await this.load(account, null, now);
  }

  async refresh(account: string, levels: readonly string[], now: Date): Promise<void> {
    await this.load(account, levels, now);
  }

  async refreshWith(tx: Tx, account: string, levels: readonly string[], now: Date): Promise<CounterWrite<void>> {
    // A write of nothing, pending from before the commit until the refresh has run: see CountersEngine.refreshWith.
    const marker = await this.addSpend(tx, account, { levels: [], actual: { amount: '0', tokens: 0 }, now });
    return {
      result: undefined,
      afterCommit: async () => {
        await this.refresh(account, levels, now);
        await marker.afterCommit();
      },
      afterRollback: marker.afterRollback,
    };
  }

  async expireDue(now: Date): Promise<number> {
    // Rows this process answered but has not written yet (write-behind) are written first, so the sweep sees them.
    await this.writer.flush();
    let total = 0;
    for (;;) {
      const expired: ReservationRow[] = await this.transactions.run((tx) => this.reservations.expireDue(tx, now, 500));
      const byAccount = new Map<string, string[]>();
      for (const r of expired) byAccount.set(r.account_id, [...(byAccount.get(r.account_id) ?? []), r.id]);
      for (const [account, ids] of byAccount) await this.run('tmUnhold', account, ...ids);
      total += expired.length;
      if (expired.length < 500) return total;
    }
  }

  /**
   * Registers a write before its commit (journalled in `tx`, its early ops applied in Redis) and returns
   * what to run after the transaction. A write that must see its levels loaded loads them first.
   */
  private async pend(tx: Tx, account: string, now: Date, entry: { pre: Op[]; post: Op[] }, levels: readonly string[], releaseIds: readonly string[]) {
    const write = await this.pendChecked(tx, account, now, entry, levels, releaseIds);
    if ('refused' in write) throw new Error('an unchecked write was refused');
    return { afterCommit: write.afterCommit, afterRollback: write.afterRollback };
  }

  /** pendChecked, tried once more after the leases on the account (this process's and the others') were released when they may be what refused it. */
  private async checkedWithoutLeases(tx: Tx, account: string, now: Date, entry: object, levels: readonly string[]): Promise<Pended> {
    const write = await this.pendChecked(tx, account, now, entry, levels);
    if (!('refused' in write) || !this.leases || !(await this.leases.releaseEverywhere(account, now))) return write;
    return this.pendChecked(tx, account, now, entry, levels);
  }

  /** A write registered as pending in Redis, its early ops applied (loading what it needs first). */
  private pendInRedis(account: string, writeId: string, now: Date, entry: object, levels: readonly string[]): Promise<Reply> {
    const deadline = now.getTime() + PENDING_DEADLINE_MS;
    return this.loaded(account, now, () => this.run('tmPend', account, writeId, deadline, now.getTime(), JSON.stringify(entry), ...levels));
  }

  private async pendChecked(tx: Tx, account: string, now: Date, entry: object, levels: readonly string[], releaseIds: readonly string[] = []): Promise<Pended> {
    const writeId = newWriteId();
    const reply = await this.pendInRedis(account, writeId, now, entry, levels);
    if (reply[0] === 'refused') {
      const measure = reply[1] as 'amount' | 'tokens';
      const raw = String(reply[2]);
      return { refused: { measure, figure: raw === '-' ? 'unlimited' : measure === 'amount' ? text(raw) : raw } };
    }
    await this.reservations.recordWrite(tx, account, writeId, now);
    return {
      reply,
      afterCommit: async () => {
        await this.run('tmConfirm', account, writeId, ...releaseIds);
      },
      afterRollback: async () => {
        await this.run('tmRollback', account, writeId);
      },
    };
  }

  /**
   * Loads these levels (null: rebuilds the whole account). One load per account runs at a time in this
   * process; requests that arrive meanwhile are merged into the next one, which starts when it ends.
   */
  private load(account: string, levels: readonly string[] | null, now: Date): Promise<void> {
    let state = this.loads.get(account);
    if (!state) {
      state = { running: false, queued: null };
      this.loads.set(account, state);
    }
    if (!state.queued) {
      let settle!: { resolve: () => void; reject: (e: unknown) => void };
      const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      state.queued = { full: false, levels: new Set(), now, promise, ...settle };
    }
    const queued = state.queued;
    if (levels === null) queued.full = true;
    else for (const l of levels) queued.levels.add(l);
    if (now.getTime() > queued.now.getTime()) queued.now = now;
    this.pump(account);
    return queued.promise;
  }

  private pump(account: string): void {
    const state = this.loads.get(account);
    if (!state || state.running || !state.queued) return;
    const q = state.queued;
    state.queued = null;
    state.running = true;
    this.loadNow(account, q.full ? null : [...q.levels], q.now, [...q.levels])
      .then(q.resolve, q.reject)
      .finally(() => {
        state.running = false;
        if (state.queued) this.pump(account);
        else this.loads.delete(account);
      });
  }

  private rebuildSoon(account: string, now: Date): void {
    if (this.loads.has(account)) return;
    this.load(account, null, now).catch((error: unknown) => this.logger.error({ err: error, account }, 'rebuild failed'));
  }

  /** One load or rebuild (only: null), with `extra` levels loaded too in a rebuild. */
  private async loadNow(account: string, only: string[] | null, now: Date, extra: readonly string[]): Promise<void> {
    const full = only === null;
    // Rows this process answered and has not written yet (write-behind) go in first: after a FLUSH, Redis no
    // longer has their holds, and a snapshot without their rows would lose them. (Not the rows of leased
    // holds still being carved, whose carve may be what waits for this load: their lease's row counts them.)
    if (full) await this.writer.flushQueued();
    for (let attempt = 0; attempt < 10; attempt++) {
      const token = randomBytes(9).toString('base64url');
      await this.run('tmRebuildBegin', account, token);
      const reply = await this.transactions.readSnapshot(async (tx) => {
        // PostgreSQL takes the snapshot at the transaction's first statement, which must run before Redis'
        // write ids are read (step 3): a write that pended after that read and committed before the
        // snapshot would be in the snapshot and replayed too, counted twice until the next full rebuild.
        // A full rebuild's first statement reads the held reservations; a load of some levels (a refresh)
        // reads nothing before, so it takes the snapshot on its own.
        const active = full ? await this.reservations.active(tx, account, now) : [];
        if (!full) await tx.query('SELECT 1');
        const [idsJson, levelsJson, youngJson] = (await this.run('tmRebuildState', account, now.getTime(), RECENT_MS)) as [string, string, string];
        const ids = arrayOf(idsJson);
        const resolved = full ? await this.reservations.resolvedAmong(tx, account, arrayOf(youngJson)) : [];
        const levels = new Set<string>(full ? [...arrayOf(levelsJson), ...active.flatMap((r) => r.levels), ...extra] : only);
        for (const l of [...levels]) levels.add(limitLevelOf(l));
        const list = [...levels];
        const limits = await this.limits.limits(tx, account, list, now);
        const spent = await this.limits.withOwnedSpend(tx, account, list, now, await this.spend.spentOf(tx, account, list));
        const insnap = await this.reservations.committedWrites(tx, account, ids);
        const data = {
          levels: Object.fromEntries(
            list.map((l) => {
              const limit = limits.get(l);
              const s = spent.get(l)!;
              return [l, [limit?.amount == null ? '-' : down(limit.amount), limit?.tokens == null ? '-' : String(limit.tokens), up(s.amount), String(s.tokens)]];
            }),
          ),
          active: active.map((r) => [r.id, String(r.expires_at.getTime()), up(r.amount), r.tokens, String(r.created_at.getTime()), r.agent_id ?? '', r.person_id, ...r.levels]),
          insnap: [...insnap],
          resolved,
        };
        return this.run('tmRebuildApply', account, token, now.getTime(), full ? 'full' : 'part', RECENT_MS, JSON.stringify(data));
      });
      if (reply === 'ok') return;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
    }
    throw new Error(`counters of ${account} could not be rebuilt: other rebuilds kept taking over`);
  }
}

/** A JSON array from Lua's cjson, which writes an empty table as `{}`. */
function arrayOf(json: string): string[] {
  const value = JSON.parse(json) as unknown;
  return Array.isArray(value) ? (value as string[]) : [];
}
