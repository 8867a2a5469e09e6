// The rules every engine applies to a reservation's durable row: who may release it, what an event that
// names it does to it, and the row an allowed hold writes.
import { randomBytes } from 'node:crypto';
import type { Tx } from '../../src/database/data-source.js';
import type { CommitRequest, HoldRequest, ReleaseResult, ReservationOutcome, UsageItem } from './counters.js';
import { mayCommit, type NamedReservation } from './commit-rule.js';
import type { NewReservation, ReservationRow, ReservationsRepository } from './reservations.repository.js';

// Ids take their bytes from a pool the CSPRNG fills 4 KiB at a time: one call into it per ~270 ids instead
// of one per id (a synchronous call that was 3% of the service's time at 50 callers; randomUUID pools alike).
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = POOL_BYTES;

/** `n` fresh random bytes (never handed out twice). */
export function randomFromPool(n: number): Buffer {
  if (used + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    used = 0;
  }
  const bytes = pool.subarray(used, used + n);
  used += n;
  return bytes;
}

export function newReservationId(): string {
  return `res_${randomFromPool(15).toString('base64url')}`;
}

/**
 * The reservations an event may name: never a budget lease's own (`lease_...`, hold-leases.ts), which no
 * caller is given; an event naming one finds it `unknown`.
 */
export const committable = (id: string): boolean => !id.startsWith('lease_');

/** The reservations the items of a write name (those an event may name), with their actual spend. */
export function namedReservations(items: readonly UsageItem[]): NamedReservation[] {
  return items.flatMap((i) =>
    i.reservationId === null || !committable(i.reservationId)
      ? []
      : [{ id: i.reservationId, agentId: i.agentId, personId: i.personId, amount: i.actual.amount, tokens: i.actual.tokens }],
  );
}

export function newWriteId(): string {
  return randomFromPool(12).toString('base64url');
}

export function reservationRow(account: string, req: HoldRequest): NewReservation {
  return {
    account_id: account,
    id: req.reservationId,
    agent_id: req.agentId,
    person_id: req.personId,
    session_id: req.session?.id ?? null,
    session_context: req.session?.context ?? null,
    levels: req.levels,
    amount: req.estimate.amount,
    tokens: req.estimate.tokens,
    estimate: req.detail,
    created_at: req.now,
    expires_at: req.expiresAt,
  };
}

/** Whether the caller may release a reservation: the agent that made it, or the person for their own. */
export function ownedBy(r: Pick<ReservationRow, 'agent_id' | 'person_id'>, owner: { agentId: string | null; personId: string }): boolean {
  return r.agent_id === owner.agentId && (owner.agentId !== null || r.person_id === owner.personId);
}

/**
 * Marks the named reservation committed (or expired, when it ran out) if the event may commit it, and
 * says what happened; `released` is the row whose hold comes off the counters.
 */
export async function resolveForCommit(
  tx: Tx,
  reservations: ReservationsRepository,
  account: string,
  req: CommitRequest,
): Promise<{ outcome: ReservationOutcome; released: ReservationRow | null }> {
  const found = committable(req.reservationId) ? await reservations.find(tx, account, req.reservationId, true) : null;
  if (!found) return { outcome: 'unknown', released: null };
  if (found.status !== 'held') return { outcome: found.status === 'committed' ? 'already_committed' : found.status, released: null };
  if (!mayCommit(found, req)) return { outcome: 'foreign', released: null };
  if (found.expires_at.getTime() <= req.now.getTime()) {
    return { outcome: 'expired', released: await reservations.resolve(tx, account, req.reservationId, 'expired', req.now) };
  }
  return { outcome: 'committed', released: await reservations.resolve(tx, account, req.reservationId, 'committed', req.now, req.actual) };
}

/**
 * resolveForCommit for the events of one write, in item order, in one statement: per item its outcome
 * (null when it names no reservation), and the rows whose holds come off the counters.
 */
export async function resolveManyForCommit(
  tx: Tx,
  reservations: ReservationsRepository,
  account: string,
  items: readonly UsageItem[],
  now: Date,
): Promise<{ outcomes: (ReservationOutcome | null)[]; released: ReservationRow[] }> {
  return outcomesOf(items, await reservations.commitNamed(tx, account, namedReservations(items), now));
}

/**
 * Each item's outcome, in item order, from what the one statement found and did (commitNamed): a
 * reservation goes to the first item that may commit it (mayCommit); a later item naming it finds it
 * already committed (or expired); any other item finds it foreign while it is held. `released`: the rows
 * whose holds come off the counters, once each.
 */
export function outcomesOf<R extends Pick<ReservationRow, 'id' | 'agent_id' | 'person_id' | 'status'>>(
  items: readonly Pick<UsageItem, 'reservationId' | 'agentId' | 'personId'>[],
  named: readonly { row: R; to: 'committed' | 'expired' | null }[],
): { outcomes: (ReservationOutcome | null)[]; released: R[] } {
  const found = new Map(named.map((f) => [f.row.id, f]));
  const released: R[] = [];
  const resolved = new Map<string, 'committed' | 'expired'>();
  const outcomes = items.map((item): ReservationOutcome | null => {
    const id = item.reservationId;
    if (id === null) return null;
    const earlier = resolved.get(id);
    if (earlier !== undefined) return earlier === 'committed' ? 'already_committed' : 'expired';
    const f = found.get(id);
    if (!f) return 'unknown';
    if (f.to !== null && mayCommit(f.row, item)) {
      resolved.set(id, f.to);
      released.push(f.row);
      return f.to;
    }
    if (f.row.status !== 'held') return f.row.status === 'committed' ? 'already_committed' : f.row.status;
    if (!mayCommit(f.row, item)) return 'foreign';
    // Held and this item's to commit, yet not resolved here: another write resolved it meanwhile.
    return 'already_committed';
  });
  return { outcomes, released };
}

/** Marks the reservation released (or expired, when it already ran out) for its owner; `released` comes off the counters. */
export async function resolveForRelease(
  tx: Tx,
  reservations: ReservationsRepository,
  account: string,
  id: string,
  owner: { agentId: string | null; personId: string },
  now: Date,
): Promise<{ result: ReleaseResult; released: ReservationRow | null }> {
  const found = await reservations.find(tx, account, id, true);
  if (!found || !ownedBy(found, owner)) return { result: 'unknown', released: null };
  if (found.status !== 'held') {
    return { result: found.status === 'committed' ? 'already_committed' : found.status === 'released' ? 'already_released' : 'expired', released: null };
  }
  const to = found.expires_at.getTime() <= now.getTime() ? 'expired' : 'released';
  return { result: to, released: await reservations.resolve(tx, account, id, to, now) };
}
