// Budget leases (Redis engine). A process that keeps holding on the same path of levels (an agent in a
// session: its caps, its person's budgets up the tree, the credits) holds a slice of every level on it at
// once, as one reservation of its own (`lease_...`) in Redis and in PostgreSQL, and answers the next holds
// on that path from memory until the slice runs out or its time is up. Each hold answered so is then made a
// reservation of its own, as any other: in Redis by tmCarve, which moves what it holds out of the lease's
// entry (the levels' figures do not change), then its row, which names the lease (what a lease's row still
// holds is its amount less its carved rows'). A hold answered from a lease waits for neither: the answer is
// in memory, its row written behind, as every hold's is with TOKENMETER_AUTHORIZE_ANSWER_AFTER=redis (the
// only mode with leases).
//
// Why no hard limit can be passed:
// - the slice is held in Redis (and recorded in PostgreSQL) before the first hold is answered from it, so
//   every other process, and this one's other paths, see it as used;
// - a hold is answered from a lease only when it fits what is left of the slice (lease-policy.ts);
// - a rebuild (a FLUSH, a writer that died) reads the lease's row: what it still holds there (its amount
//   less its carved rows') counts every hold answered from it that has no row yet. A carve that lands after
//   the rebuild moves it out of the lease again; one that landed before left the hold's entry in Redis
//   naming its lease, and the rebuild, which keeps that entry (it is young and PostgreSQL has no row for it),
//   takes it out of the lease's figure (redis-scripts.ts, REBUILD_APPLY), so it is counted once;
// - a lease answers for useMs and is released once the rows of its holds are written; its own hold expires
//   graceMs later, so a process that dies leaves the room held that long at most. Only a process stalled
//   past the grace between answering and carving could carve from a lease already expired: tmCarve then
//   adds the holds to the levels anyway (they were answered) and this is logged.
// Only busy paths are leased (busyHolds holds through Redis within busyMs), and a lease idle for busyMs is
// released. Where leases would keep room from others: a hold denied on an account releases this process's
// leases there (waiting for those being taken) and asks the other processes to release theirs
// (lease-broadcast.ts, at most once per useMs per account), then is tried once more; no lease is taken on
// that account for useMs after a denial or an ask, nor when the slice would be under two estimates or over
// 1/share of what is left (so near a limit every hold goes through Redis, where it is exact).
import { Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import type { Counter } from 'prom-client';
import { fromScaledInteger, REDIS_SCALE } from './counter-math.js';
import { busyAfter, fits, leasedFigures, sliceFor, type Busy, type LeaseSettings, type Slice } from './lease-policy.js';
import type { HoldRequest } from './counters.js';
import { randomFromPool, reservationRow } from './reservation-rules.js';
import type { NewReservation } from './reservations.repository.js';

type Reply = (string | number)[];

/** What leases need of the engine. */
export interface LeaseStore {
  /** A hold through Redis (the engine's batched tmHold), its reply. */
  hold(account: string, req: HoldRequest): Promise<Reply>;
  /** Writes a row behind; `ready` resolves once it may be written (its carve is in Redis). */
  write(id: string, ready: Promise<NewReservation>): Promise<void>;
  /** tmCarve of holds answered from a lease. */
  carve(account: string, args: (string | number)[], now: Date): Promise<Reply>;
  /** Releases a hold (its row resolved, then Redis), as DELETE /v1/authorizations/:id does. */
  release(account: string, id: string, owner: { agentId: string | null; personId: string }, now: Date): Promise<void>;
  /** Takes a hold off Redis whose row was never written. */
  unhold(account: string, id: string): Promise<void>;
  /** Asks the other service processes to give back their leases on the account (lease-broadcast.ts); whether any had one. */
  askOthers?(account: string, now: Date): Promise<boolean>;
}

function newLeaseId(): string {
  return `lease_${randomFromPool(15).toString('base64url')}`;
}


interface Lease {
  id: string;
  account: string;
  key: string;
  levels: readonly string[];
  owner: { agentId: string | null; personId: string };
  slice: Slice;
  left: Slice;
  /** The latest clock time of a hold it answered (ms): its release is dated so. */
  lastNow: number;
  /** performance.now() of the last hold it answered (or of its taking). */
  lastTake: number;
  /** The lease's own tmHold reply: the figures after its slice was held. */
  reply: Reply;
  /** The clock's ms until which it answers. */
  useUntil: number;
  /** Rows (after their carve) of the holds it answered, not yet settled. */
  rows: Set<Promise<void>>;
  retired: boolean;
  timer: NodeJS.Timeout | null;
}

/** The holds of an account answered from its leases in one turn of the event loop, for one tmCarve call. */
interface CarveBatch {
  /** Per lease, its holds' tmCarve arguments (7 each). */
  leases: Map<Lease, (string | number)[]>;
  now: number;
  done: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Path {
  lease: Lease | null;
  /** A lease being taken for this path. */
  taking: Promise<void> | null;
  /** Its holds through Redis lately. */
  busy: Busy;
}

export class HoldLeases {
  private readonly logger = new Logger('authorizations');
  /** Per account, per path (its levels joined). */
  private readonly accounts = new Map<string, Map<string, Path>>();
  /** Per account: the holds waiting for their tmCarve call. */
  private readonly carving = new Map<string, CarveBatch>();
  /** Per account: the clock's ms of its last denial (no lease is taken for useMs after it). */
  private readonly denied = new Map<string, number>();
  /** Per account: releases under way (a retired lease still holds its room until its rows are written and it is released). */
  private readonly releasing = new Map<string, Set<Promise<void>>>();
  /** Per account: the clock's ms when the other processes were last asked for their leases (by this one or another). */
  private readonly asked = new Map<string, number>();
  /** Per account: an ask of the other processes under way. */
  private readonly asking = new Map<string, Promise<boolean>>();

  constructor(
    private readonly settings: LeaseSettings,
    private readonly store: LeaseStore,
    private readonly counter?: Counter<'outcome'>,
  ) {}

  /**
   * A hold answered from this path's lease (the tmHold-shaped reply: 'ok', 0, figures), or null when
   * there is none or it does not fit (the hold then goes through Redis).
   */
  take(account: string, req: HoldRequest, amount: number): Reply | null {
    const path = this.accounts.get(account)?.get(pathKey(req.levels));
    const lease = path?.lease;
    if (!lease) return null;
    const now = req.now.getTime();
    const estimate = { a: amount, k: req.estimate.tokens };
    if (now >= lease.useUntil || !fits(lease.left, estimate)) {
      this.retire(lease);
      return null;
    }
    lease.left = { a: lease.left.a - estimate.a, k: lease.left.k - estimate.k };
    const row = reservationRow(account, req);
    const carved = this.carve(lease, req, amount);
    const written = this.store.write(req.reservationId, carved.then(() => ({ ...row, lease_id: lease.id })));
    lease.rows.add(written);
    const settle = () => lease.rows.delete(written);
    written.then(settle, async (error: unknown) => {
      settle();
      // No row: the hold comes off Redis (if its carve reached it; else it is still inside the lease, released with it).
      await this.store.unhold(account, req.reservationId).catch(() => undefined);
      this.logger.error({ err: error, account }, 'a reservation row of a leased hold was not written; its hold was released');
    });
    lease.lastNow = Math.max(lease.lastNow, now);
    lease.lastTake = performance.now();
    this.counter?.inc({ outcome: 'answered' });
    // Three quarters of it used, or of its time: the next one is taken now, so the holds after this one need not wait for it.
    if (lease.left.a < lease.slice.a / 4 || lease.left.k < lease.slice.k / 4 || now >= lease.useUntil - this.settings.useMs / 4) {
      this.renew(account, lease.key, path, req, amount, lease.reply);
    }
    return leasedFigures(lease.reply, 2, req.levels.length, lease.left);
  }

  /**
   * After a hold through Redis was allowed: a path with busyHolds such holds within busyMs gets a lease,
   * sized from the figures this hold left (taken in the background; the holds meanwhile go through Redis).
   */
  allowed(account: string, req: HoldRequest, amount: number, reply: Reply): void {
    let paths = this.accounts.get(account);
    if (!paths) this.accounts.set(account, (paths = new Map()));
    const key = pathKey(req.levels);
    let path = paths.get(key);
    if (!path) paths.set(key, (path = { lease: null, taking: null, busy: { since: -Infinity, holds: 0 } }));
    if (busyAfter(this.settings, path.busy, req.now.getTime()) && !path.lease) this.renew(account, key, path, req, amount, reply);
  }

  /** Starts taking a lease for the path (unless one is being taken, or the account had a denial lately). */
  private renew(account: string, key: string, path: Path, req: HoldRequest, amount: number, figures: Reply): void {
    if (path.taking) return;
    if (req.now.getTime() - (this.denied.get(account) ?? -Infinity) < this.settings.useMs) return;
    const slice = sliceFor(this.settings, { a: amount, k: req.estimate.tokens }, figures, 2, req.levels.length);
    if (!slice) return;
    const taking = this.takeLease(account, key, path, req, slice)
      .catch((error: unknown) => this.logger.error({ err: error, account }, 'a budget lease could not be taken'))
      .finally(() => {
        if (path.taking === taking) path.taking = null;
      });
    path.taking = taking;
  }

  /** Whether this process has a lease on the account (being taken, in use, or being released). */
  private holdsAny(account: string): boolean {
    if ((this.releasing.get(account)?.size ?? 0) > 0) return true;
    const paths = this.accounts.get(account);
    if (!paths) return false;
    for (const p of paths.values()) if (p.lease || p.taking) return true;
    return false;
  }

  /**
   * A hold was denied (or a limit change or transfer refused) on the account: no lease is taken on it for
   * useMs, the leases being taken are waited for, and every lease of the account is released.
   */
  private async releaseAccount(account: string, now: Date): Promise<void> {
    this.denied.set(account, now.getTime());
    const paths = this.accounts.get(account);
    if (!paths) return;
    await Promise.allSettled([...paths.values()].map((p) => p.taking));
    for (const p of paths.values()) if (p.lease) void this.retire(p.lease);
    await Promise.allSettled([...(this.releasing.get(account) ?? [])]);
  }

  /**
   * A hold denied, or a limit change or transfer refused, on the account: releaseAccount here and, with
   * several processes, in the others, which are asked unless they were within useMs (each then takes no
   * lease on the account for useMs, so a second ask would find none). An ask under way is waited for.
   * Whether any room may have come back, so that trying once more is worth it.
   */
  async releaseEverywhere(account: string, now: Date): Promise<boolean> {
    const mine = this.holdsAny(account);
    let theirs = this.asking.get(account) ?? null;
    const last = this.asked.get(account) ?? -Infinity;
    if (theirs === null && this.store.askOthers && (now.getTime() - last >= this.settings.useMs || now.getTime() < last)) {
      this.asked.set(account, now.getTime());
      const asking = this.store.askOthers(account, now);
      this.asking.set(account, asking);
      void asking.finally(() => this.asking.delete(account)).catch(() => undefined);
      theirs = asking;
    }
    const [, had] = await Promise.all([this.releaseAccount(account, now), theirs ?? Promise.resolve(false)]);
    return mine || had;
  }

  /** Another process asks for this one's leases on the account (see releaseEverywhere); whether it had any. */
  async releaseForOther(account: string, now: Date): Promise<boolean> {
    this.asked.set(account, Math.max(this.asked.get(account) ?? -Infinity, now.getTime()));
    const had = this.holdsAny(account);
    await this.releaseAccount(account, now);
    return had;
  }

  /** Every lease released (shutdown). */
  async releaseAll(): Promise<void> {
    for (const paths of this.accounts.values()) {
      await Promise.allSettled([...paths.values()].map((p) => p.taking));
      for (const p of paths.values()) if (p.lease) void this.retire(p.lease);
    }
    await Promise.allSettled([...this.releasing.values()].flatMap((r) => [...r]));
  }

  private async takeLease(account: string, key: string, path: Path, req: HoldRequest, slice: Slice): Promise<void> {
    const now = req.now;
    const id = newLeaseId();
    const leaseReq: HoldRequest = {
      reservationId: id,
      levels: req.levels,
      estimate: { amount: fromScaledInteger(BigInt(slice.a), REDIS_SCALE), tokens: slice.k },
      expiresAt: new Date(now.getTime() + this.settings.useMs + this.settings.graceMs),
      agentId: req.agentId,
      personId: req.personId,
      session: req.session,
      detail: { lease: true, holds_up_to: this.settings.holds },
      now,
    };
    const started = now.getTime();
    const reply = await this.store.hold(account, leaseReq);
    if (reply[0] !== 'ok') {
      this.counter?.inc({ outcome: 'refused' });
      return;
    }
    try {
      await this.store.write(id, Promise.resolve(reservationRow(account, leaseReq)));
    } catch (error) {
      await this.store.unhold(account, id);
      throw error;
    }
    const lease: Lease = {
      id,
      account,
      key,
      levels: req.levels,
      owner: { agentId: req.agentId, personId: req.personId },
      slice,
      left: slice,
      lastNow: started,
      lastTake: performance.now(),
      reply,
      useUntil: started + this.settings.useMs,
      rows: new Set(),
      retired: false,
      timer: null,
    };
    this.counter?.inc({ outcome: 'taken' });
    // A denial since it was asked for: give it back at once.
    if ((this.denied.get(account) ?? -Infinity) >= started || this.accounts.get(account)?.get(key) !== path) {
      await this.retire(lease);
      return;
    }
    if (path.lease) void this.retire(path.lease);
    path.lease = lease;
    this.watch(lease, performance.now());
  }

  /**
   * Retires the lease once its path had no hold for busyMs (so room does not sit idle in it), or after
   * useMs whatever the clock says (a frozen test clock, say); both in real time.
   */
  private watch(lease: Lease, since: number): void {
    const idle = performance.now() - lease.lastTake;
    if (lease.retired) return;
    if (performance.now() - since >= this.settings.useMs || idle >= this.settings.busyMs) {
      void this.retire(lease);
      return;
    }
    lease.timer = setTimeout(() => this.watch(lease, since), Math.max(10, this.settings.busyMs - idle));
    lease.timer.unref();
  }

  /** Holds answered within carveDelayMs go to Redis as one tmCarve call per account, whatever their leases. */
  private carve(lease: Lease, req: HoldRequest, amount: number): Promise<void> {
    let batch = this.carving.get(lease.account);
    if (!batch) {
      let settle!: { resolve: () => void; reject: (e: unknown) => void };
      const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      const fresh: CarveBatch = { leases: new Map(), now: lease.lastNow, done, ...settle };
      this.carving.set(lease.account, fresh);
      // Sent after carveDelayMs (the rows' own write delay): one call for the holds of that while, not one a turn.
      if (this.settings.carveDelayMs > 0) setTimeout(() => this.sendCarves(lease.account, fresh), this.settings.carveDelayMs);
      else setImmediate(() => this.sendCarves(lease.account, fresh));
      batch = fresh;
    }
    let holds = batch.leases.get(lease);
    if (!holds) batch.leases.set(lease, (holds = []));
    holds.push(req.reservationId, req.expiresAt.getTime(), amount, req.estimate.tokens, req.now.getTime(), req.agentId ?? '', req.personId);
    batch.now = Math.max(batch.now, req.now.getTime());
    return batch.done;
  }

  private sendCarves(account: string, batch: CarveBatch): void {
    if (this.carving.get(account) === batch) this.carving.delete(account);
    const args: (string | number)[] = [batch.leases.size];
    for (const [lease, holds] of batch.leases) args.push(lease.id, holds.length / 7, lease.levels.length, ...lease.levels, ...holds);
    this.store.carve(account, args, new Date(batch.now)).then((reply) => {
      if (Number(reply[1]) > 0) this.logger.warn({ account }, 'holds answered from a lease that had expired were added to their levels');
      batch.resolve();
    }, batch.reject);
  }

  /** No more holds from it; once the rows of those it answered are written, what is left of it is released. */
  private retire(lease: Lease): Promise<void> {
    if (lease.retired) return Promise.resolve();
    lease.retired = true;
    if (lease.timer) clearTimeout(lease.timer);
    const path = this.accounts.get(lease.account)?.get(lease.key);
    if (path?.lease === lease) path.lease = null;
    const release = (async () => {
      await Promise.allSettled([...lease.rows]);
      await this.store.release(lease.account, lease.id, lease.owner, new Date(lease.lastNow));
      this.counter?.inc({ outcome: 'released' });
    })().catch((error: unknown) => this.logger.error({ err: error, account: lease.account }, 'a budget lease could not be released; it expires on its own'));
    let releasing = this.releasing.get(lease.account);
    if (!releasing) this.releasing.set(lease.account, (releasing = new Set()));
    releasing.add(release);
    void release.finally(() => {
      releasing.delete(release);
      if (releasing.size === 0 && this.releasing.get(lease.account) === releasing) this.releasing.delete(lease.account);
    });
    return release;
  }
}

function pathKey(levels: readonly string[]): string {
  return levels.join('\u0000');
}
