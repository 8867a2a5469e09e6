// Only this file touches the credit tables: grants, movements and their entries, the usage booked per day,
// top-ups, restored invoices. Every write takes the caller's transaction; `lock` serialises an account's
// ledger writes (the grants' remainders are derived from the entries, so two writers must not interleave).
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { firstRow, queryRows, type Db } from '../../src/database/sql.js';
import { Dec } from '../../tiers/pricing/decimal.js';
import { entriesOf, markInRange, xid32, type GrantKind, type GrantState, type Movement, type MovementKind, type SettleLookMark, type SettleProbe } from './ledger.js';

/** pg_advisory_xact_lock(class, key) class of the credit ledger (authorizations use another). */
const LOCK_CLASS = 7202;

/**
 * The first UTC day a grant of the account covers (an aggregate over its `credit_grants` rows): usage before
 * it has nothing to burn. The settle books from it and its look compares from it, so both say it alike.
 */
const FIRST_GRANT_DAY = `(min(granted_at) AT TIME ZONE 'UTC')::date`;

/** Whether the row was written by a transaction not older than the 32-bit xid in `param` (settleProbes). */
const writtenSince = (param: string) => `age(xmin) <= age(${param}::xid)`;

export interface GrantRow {
  account_id: string;
  id: string;
  kind: GrantKind;
  amount: string;
  priority: number;
  granted_at: Date;
  expires_at: Date | null;
  expired_at: Date | null;
  period_start: Date | null;
  invoice_id: string | null;
  topup_id: string | null;
  reason: string | null;
  created_by: string | null;
  created_at: Date;
  /** Derived: the sum of the grant's entries. */
  remaining: string;
}

export interface MovementRow {
  id: string;
  kind: MovementKind;
  grant_id: string;
  amount: string;
  at: Date;
  usage_day: string | null;
  invoice_id: string | null;
  memo: string | null;
  entries: { ledger_account: string; amount: string }[];
}

export interface TopupRow {
  account_id: string;
  id: string;
  pack_id: string;
  allowance: string;
  price: string;
  currency: string;
  validity_days: number;
  status: 'pending' | 'granted';
  grant_id: string | null;
  bought_by: string | null;
  bought_at: Date;
  granted_at: Date | null;
}

export interface NewGrant {
  id: string;
  kind: GrantKind;
  amount: string;
  priority: number;
  grantedAt: Date;
  expiresAt: Date | null;
  periodStart?: Date | null;
  invoiceId?: string | null;
  topupId?: string | null;
  reason?: string | null;
  createdBy?: string | null;
}

export interface MovementMeta {
  at: Date;
  usageDay?: string | null;
  invoiceId?: string | null;
  memo?: string | null;
}

const GRANT_FIELDS = `g.account_id, g.id, g.kind, g.amount::text AS amount, g.priority, g.granted_at, g.expires_at, g.expired_at, g.period_start,
  g.invoice_id, g.topup_id, g.reason, g.created_by, g.created_at`;
/** A grant row with what it holds: the sum of its entries. */
const GRANT_COLUMNS = `${GRANT_FIELDS},
  (SELECT coalesce(sum(e.amount), 0) FROM credit_entries e WHERE e.account_id = g.account_id AND e.grant_id = g.id)::text AS remaining`;
/** What grant `g`'s movements left in `expired`: its expiries less what was put back (an allowance in force again, late usage). */
const EXPIRED_OF_GRANT = `(SELECT coalesce(sum(e.amount), 0) FROM credit_entries e JOIN credit_movements m ON m.id = e.movement_id
    WHERE m.account_id = g.account_id AND m.grant_id = g.id AND e.ledger_account = 'expired')`;

const TOPUP_COLUMNS = `account_id, id, pack_id, allowance::text AS allowance, price::text AS price, currency, validity_days, status, grant_id, bought_by, bought_at, granted_at`;

export function grantState(row: GrantRow): GrantState {
  return { id: row.id, priority: row.priority, grantedAt: row.granted_at, expiresAt: row.expires_at, remaining: new Dec(row.remaining) };
}

@Injectable()
export class CreditsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Reads outside a transaction. */
  get db(): Db {
    return this.dataSource;
  }

  /** Serialises the account's ledger writes until `tx` ends. */
  async lock(tx: Tx, account: string): Promise<void> {
    await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, account]);
  }

  /** Grants that have not expired (expired_at unset), with what each has left. */
  liveGrants(db: Db, account: string): Promise<GrantRow[]> {
    return queryRows<GrantRow>(db, `SELECT ${GRANT_COLUMNS} FROM credit_grants g WHERE g.account_id = $1 AND g.expired_at IS NULL ORDER BY g.granted_at, g.id`, [account]);
  }

  /** Grants newest first, keyset-paged by (created_at, id). */
  listGrants(db: Db, account: string, limit: number, after: { at: Date; id: string } | null): Promise<GrantRow[]> {
    return queryRows<GrantRow>(
      db,
      `SELECT ${GRANT_COLUMNS} FROM credit_grants g WHERE g.account_id = $1 ${after ? 'AND (g.created_at, g.id) < ($3, $4)' : ''}
        ORDER BY g.created_at DESC, g.id DESC LIMIT $2`,
      after ? [account, limit, after.at, after.id] : [account, limit],
    );
  }

  findGrant(db: Db, account: string, id: string): Promise<GrantRow | null> {
    return firstRow<GrantRow>(db, `SELECT ${GRANT_COLUMNS} FROM credit_grants g WHERE g.account_id = $1 AND g.id = $2`, [account, id]);
  }

  allowanceGrant(db: Db, account: string, periodStart: Date): Promise<GrantRow | null> {
    return firstRow<GrantRow>(db, `SELECT ${GRANT_COLUMNS} FROM credit_grants g WHERE g.account_id = $1 AND g.kind = 'allowance' AND g.period_start = $2`, [account, periodStart]);
  }

  /** Whether the account has usage metered on a day in [fromDay, toDay). */
  async meteredWithin(db: Db, account: string, fromDay: string, toDay: string): Promise<boolean> {
    const row = await firstRow<{ day: string }>(db, `SELECT day::text AS day FROM meter_spend_daily WHERE account_id = $1 AND day >= $2::date AND day < $3::date AND cost > 0 LIMIT 1`, [
      account,
      fromDay,
      toDay,
    ]);
    return row !== null;
  }

  /**
   * The account's period allowances of periods that do not start on `anchorDay` (ledger.ts, onGrid) and are
   * in force or paid for some usage (burns less restores): those the settle releases (CreditLedger.releaseOffGrid).
   * With `subscribedFrom` (the running subscription's start), only those that run past it: an allowance that ended
   * before it is an earlier subscription's, whose periods the anchor of this one does not make again.
   */
  allowancesToRelease(db: Db, account: string, anchorDay: number, subscribedFrom: Date | null): Promise<GrantRow[]> {
    return queryRows<GrantRow>(
      db,
      `SELECT ${GRANT_COLUMNS} FROM credit_grants g
        WHERE g.account_id = $1 AND g.kind = 'allowance' AND g.period_start IS NOT NULL
          AND extract(day FROM g.period_start AT TIME ZONE 'UTC') <> $2
          AND ($3::timestamptz IS NULL OR g.expires_at > $3::timestamptz)
          AND (g.expired_at IS NULL
               OR (SELECT coalesce(sum(CASE WHEN m.kind = 'burn' THEN m.amount ELSE -m.amount END), 0) FROM credit_movements m
                    WHERE m.account_id = g.account_id AND m.grant_id = g.id AND m.kind IN ('burn', 'restore')) > 0)
        ORDER BY g.granted_at, g.id`,
      [account, anchorDay, subscribedFrom],
    );
  }

  /** The usage days the given grants paid for (burns less restores more than nothing), in order. */
  async daysPaidBy(tx: Tx, account: string, grants: readonly string[]): Promise<string[]> {
    const rows = await queryRows<{ day: string }>(
      tx,
      `SELECT usage_day::text AS day FROM credit_movements
        WHERE account_id = $1 AND grant_id = ANY($2::text[]) AND kind IN ('burn', 'restore')
        GROUP BY usage_day HAVING sum(CASE WHEN kind = 'burn' THEN amount ELSE -amount END) > 0 ORDER BY usage_day`,
      [account, grants],
    );
    return rows.map((r) => r.day);
  }

  ineffectiveCreditGrant(db: Db, account: string, invoiceId: string): Promise<GrantRow | null> {
    return firstRow<GrantRow>(db, `SELECT ${GRANT_COLUMNS} FROM credit_grants g WHERE g.account_id = $1 AND g.kind = 'ineffective_credit' AND g.invoice_id = $2`, [account, invoiceId]);
  }

  async insertGrant(tx: Tx, account: string, g: NewGrant, now: Date): Promise<void> {
    await tx.query(
      `INSERT INTO credit_grants (account_id, id, kind, amount, priority, granted_at, expires_at, period_start, invoice_id, topup_id, reason, created_by, created_at)
       VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [account, g.id, g.kind, g.amount, g.priority, g.grantedAt, g.expiresAt, g.periodStart ?? null, g.invoiceId ?? null, g.topupId ?? null, g.reason ?? null, g.createdBy ?? null, now],
    );
  }

  async markExpired(tx: Tx, account: string, grantIds: readonly string[], at: Date): Promise<void> {
    if (grantIds.length === 0) return;
    await tx.query('UPDATE credit_grants SET expired_at = $3 WHERE account_id = $1 AND id = ANY($2::text[]) AND expired_at IS NULL', [account, grantIds, at]);
  }

  /** Grants ended before their expiry (ledger.ts, endGrants): their expiry moves to when they ended, and they are expired. */
  async endGrants(tx: Tx, account: string, grants: readonly { id: string; expiresAt: Date | null }[], at: Date): Promise<void> {
    for (const g of grants) {
      await tx.query('UPDATE credit_grants SET expires_at = $3, expired_at = $4 WHERE account_id = $1 AND id = $2 AND expired_at IS NULL', [account, g.id, g.expiresAt, at]);
    }
  }

  /** What the grant's movements left in `expired` (its expiries less what was put back: an allowance ended early holds it). */
  async expiredOf(tx: Tx, account: string, id: string): Promise<string> {
    const row = await firstRow<{ amount: string }>(tx, `SELECT ${EXPIRED_OF_GRANT}::text AS amount FROM credit_grants g WHERE g.account_id = $1 AND g.id = $2`, [account, id]);
    return row?.amount ?? '0';
  }

  /**
   * Grants expired after `from` that hold something in `expired` (what they held when they expired, less what
   * late usage took back since): with the day's live grants, what a day from `from` on is burned from
   * (ledger.ts, burnInForce). `remaining` is that part.
   */
  lapsedGrants(tx: Tx, account: string, from: Date): Promise<GrantRow[]> {
    return queryRows<GrantRow>(
      tx,
      `SELECT * FROM (
         SELECT ${GRANT_FIELDS}, ${EXPIRED_OF_GRANT}::text AS remaining
           FROM credit_grants g WHERE g.account_id = $1 AND g.expired_at IS NOT NULL AND g.expires_at > $2) lapsed
        WHERE remaining::numeric > 0 ORDER BY granted_at, id`,
      [account, from],
    );
  }

  /** An ended grant in force again until `expiresAt` (CreditLedger.reopenAllowance). */
  async reopenGrant(tx: Tx, account: string, id: string, expiresAt: Date): Promise<void> {
    await tx.query('UPDATE credit_grants SET expires_at = $3, expired_at = NULL WHERE account_id = $1 AND id = $2', [account, id, expiresAt]);
  }

  /** Books movements: one movement row and its two entries each. */
  async book(tx: Tx, account: string, movements: readonly Movement[], meta: MovementMeta): Promise<void> {
    for (const m of movements) {
      const [{ id }] = await queryRows<{ id: string }>(
        tx,
        `INSERT INTO credit_movements (account_id, kind, grant_id, amount, at, usage_day, invoice_id, memo)
         VALUES ($1, $2, $3, $4::numeric, $5, $6::date, $7, $8) RETURNING id::text AS id`,
        [account, m.kind, m.grantId, m.amount.toFixed(), meta.at, meta.usageDay ?? null, meta.invoiceId ?? null, meta.memo ?? null],
      ) as [{ id: string }];
      const [a, b] = entriesOf(m);
      await tx.query(
        `INSERT INTO credit_entries (movement_id, account_id, ledger_account, grant_id, amount)
         VALUES ($1, $2, $3, $4, $5::numeric), ($1, $2, $6, $7, $8::numeric)`,
        [id, account, a.ledgerAccount, a.grantId, a.amount.toFixed(), b.ledgerAccount, b.grantId, b.amount.toFixed()],
      );
    }
  }

  /** Movements newest first with their entries, keyset-paged by id. */
  async listMovements(db: Db, account: string, limit: number, before: string | null): Promise<MovementRow[]> {
    return queryRows<MovementRow>(
      db,
      `SELECT m.id::text AS id, m.kind, m.grant_id, m.amount::text AS amount, m.at, m.usage_day::text AS usage_day, m.invoice_id, m.memo,
              (SELECT json_agg(json_build_object('ledger_account', e.ledger_account, 'amount', e.amount::text) ORDER BY e.id)
                 FROM credit_entries e WHERE e.movement_id = m.id) AS entries
         FROM credit_movements m WHERE m.account_id = $1 ${before ? 'AND m.id < $3::bigint' : ''}
        ORDER BY m.id DESC LIMIT $2`,
      before ? [account, limit, before] : [account, limit],
    );
  }

  /** Balance of every ledger account of the account (sum of its entries), and the sum of all of them. */
  async ledgerBalances(db: Db, account: string): Promise<{ ledger_account: string; amount: string }[]> {
    return queryRows(db, 'SELECT ledger_account, sum(amount)::text AS amount FROM credit_entries WHERE account_id = $1 GROUP BY ledger_account ORDER BY ledger_account', [account]);
  }

  /**
   * Days whose metered cost differs from what was booked, from the first day a grant could cover on:
   * the metered cost (meter_spend_daily) and what is booked.
   */
  unbookedDays(db: Db, account: string, fromDay: string): Promise<{ day: string; cost: string; booked: string }[]> {
    return queryRows(
      db,
      `WITH metered AS (
         SELECT day, sum(cost) AS cost FROM meter_spend_daily WHERE account_id = $1 AND day >= $2::date GROUP BY day)
       SELECT coalesce(m.day, b.day)::text AS day, coalesce(m.cost, 0)::text AS cost, coalesce(b.booked, 0)::text AS booked
         FROM metered m FULL JOIN (SELECT day, booked FROM credit_usage_days WHERE account_id = $1 AND day >= $2::date) b ON b.day = m.day
        WHERE coalesce(m.cost, 0) <> coalesce(b.booked, 0)
        ORDER BY 1`,
      [account, fromDay],
    );
  }

  async setBooked(tx: Tx, account: string, day: string, booked: string, uncoveredDelta: string): Promise<void> {
    await tx.query(
      `INSERT INTO credit_usage_days (account_id, day, booked, uncovered) VALUES ($1, $2::date, $3::numeric, greatest(0, $4::numeric))
       ON CONFLICT (account_id, day) DO UPDATE SET booked = $3::numeric, uncovered = greatest(0, credit_usage_days.uncovered + $4::numeric)`,
      [account, day, booked, uncoveredDelta],
    );
  }

  /** Usage days in [fromDay, toDay) something is booked on (burned from grants or left uncovered), oldest first. */
  async bookedDays(db: Db, account: string, fromDay: string, toDay: string): Promise<string[]> {
    const rows = await queryRows<{ day: string }>(
      db,
      `SELECT day::text AS day FROM credit_usage_days
        WHERE account_id = $1 AND day >= $2::date AND day < $3::date AND (booked <> 0 OR uncovered <> 0) ORDER BY day`,
      [account, fromDay, toDay],
    );
    return rows.map((r) => r.day);
  }

  /** A grant's amount as given (a period allowance its period's terms changed: CreditLedger.followAllowance). */
  async setGrantAmount(tx: Tx, account: string, id: string, amount: string): Promise<void> {
    await tx.query('UPDATE credit_grants SET amount = $3::numeric WHERE account_id = $1 AND id = $2', [account, id, amount]);
  }

  async uncoveredOf(db: Db, account: string, day: string): Promise<string> {
    const row = await firstRow<{ uncovered: string }>(db, 'SELECT uncovered::text AS uncovered FROM credit_usage_days WHERE account_id = $1 AND day = $2::date', [account, day]);
    return row?.uncovered ?? '0';
  }

  /** Net usage burned from each grant for usage days in [fromDay, toDay): burns less restores, oldest first. */
  netBurns(db: Db, account: string, fromDay: string, toDay: string | null): Promise<{ grant_id: string; amount: string }[]> {
    return queryRows(
      db,
      `SELECT grant_id, sum(CASE WHEN kind = 'burn' THEN amount ELSE -amount END)::text AS amount
         FROM credit_movements
        WHERE account_id = $1 AND kind IN ('burn', 'restore') AND usage_day >= $2::date ${toDay ? 'AND usage_day < $3::date' : ''}
        GROUP BY grant_id HAVING sum(CASE WHEN kind = 'burn' THEN amount ELSE -amount END) > 0
        ORDER BY max(id)`,
      toDay ? [account, fromDay, toDay] : [account, fromDay],
    );
  }

  /**
   * Net burns (burns less restores) of grants other than the period allowance, per usage day in [fromDay,
   * toDay): what invoices bill as credits applied. A voided invoice's restore (the one restore that names an
   * invoice) is left out: the voided invoice keeps what it applied as billed, so a later invoice adjusting
   * that period counts only what burned since, and never takes back the credits the void gave back.
   */
  grantBurnsByDay(db: Db, account: string, fromDay: string, toDay: string): Promise<{ day: string; amount: string }[]> {
    return queryRows(
      db,
      `SELECT m.usage_day::text AS day, sum(CASE WHEN m.kind = 'burn' THEN m.amount ELSE -m.amount END)::text AS amount
         FROM credit_movements m JOIN credit_grants g ON g.account_id = m.account_id AND g.id = m.grant_id
        WHERE m.account_id = $1 AND m.kind IN ('burn', 'restore') AND m.usage_day >= $2::date AND m.usage_day < $3::date
          AND g.kind <> 'allowance' AND NOT (m.kind = 'restore' AND m.invoice_id IS NOT NULL)
        GROUP BY m.usage_day`,
      [account, fromDay, toDay],
    );
  }

  /** Usage metered but not yet booked (what the next settle will burn), from `fromDay` on. */
  async unbookedUsage(db: Db, account: string, fromDay: string): Promise<string> {
    const row = await firstRow<{ amount: string }>(
      db,
      `SELECT ((SELECT coalesce(sum(cost), 0) FROM meter_spend_daily WHERE account_id = $1 AND day >= $2::date)
             - (SELECT coalesce(sum(booked), 0) FROM credit_usage_days WHERE account_id = $1 AND day >= $2::date))::text AS amount`,
      [account, fromDay],
    );
    return row?.amount ?? '0';
  }

  /** What grants in force at `now` hold together, but `excluding` (allowances a pending one replaces). */
  async availableAt(db: Db, account: string, now: Date, excluding: readonly string[] = []): Promise<{ available: string; first_day: string | null }> {
    const row = await firstRow<{ available: string; first_day: string | null }>(
      db,
      `SELECT (SELECT coalesce(sum(e.amount), 0) FROM credit_entries e JOIN credit_grants g ON g.account_id = e.account_id AND g.id = e.grant_id
                WHERE e.account_id = $1 AND g.expired_at IS NULL AND g.granted_at <= $2 AND (g.expires_at IS NULL OR g.expires_at > $2)
                  AND NOT (g.id = ANY($3::text[])))::text AS available,
              (SELECT ${FIRST_GRANT_DAY}::text FROM credit_grants WHERE account_id = $1) AS first_day`,
      [account, now, excluding],
    );
    return row ?? { available: '0', first_day: null };
  }

  /**
   * The grants in force at `now` (as availableAt counts them): what they were given, less what was taken
   * back (every entry but burns and restores), and what they paid for usage (burns less restores); but
   * `excluding` (allowances a pending one replaces).
   */
  async inForceFigures(db: Db, account: string, now: Date, excluding: readonly string[] = []): Promise<{ granted: string; burned: string }> {
    const row = await firstRow<{ granted: string; burned: string }>(
      db,
      `SELECT coalesce(sum(e.amount) FILTER (WHERE m.kind NOT IN ('burn', 'restore')), 0)::text AS granted,
              coalesce(-sum(e.amount) FILTER (WHERE m.kind IN ('burn', 'restore')), 0)::text AS burned
         FROM credit_entries e
         JOIN credit_grants g ON g.account_id = e.account_id AND g.id = e.grant_id
         JOIN credit_movements m ON m.id = e.movement_id
        WHERE e.account_id = $1 AND g.expired_at IS NULL AND g.granted_at <= $2 AND (g.expires_at IS NULL OR g.expires_at > $2)
          AND NOT (g.id = ANY($3::text[]))`,
      [account, now, excluding],
    );
    return row ?? { granted: '0', burned: '0' };
  }

  /** The earliest day a grant of the account covers (usage before it has nothing to burn). */
  async firstGrantDay(db: Db, account: string): Promise<string | null> {
    const row = await firstRow<{ day: string | null }>(db, `SELECT ${FIRST_GRANT_DAY}::text AS day FROM credit_grants WHERE account_id = $1`, [account]);
    return row?.day ?? null;
  }

  /**
   * The settle job's look at every account with grants (ledger.ts, SettleProbe): per account, whether some
   * usage day since its first grant is not booked as metered and whether a grant is due to expire; then the
   * allowance grants in force or of a period started in the last 66 days. An account without grants has no
   * probe (it has nothing to book or expire). Call it in a read snapshot (TransactionRunner.readSnapshot), so
   * the reads agree.
   *
   * Without `since`, every account's days are compared (the full look: `unbookedDays`' comparison, day by day
   * over each account's own rows, so it stays in memory however long the history). With `since`, what an
   * earlier look (or a settle after it) left balanced is taken as still balanced unless a row it depends on
   * was written after that look's snapshot: only the days with a `meter_spend_daily` or `credit_usage_days`
   * row written since are compared, and every day of the accounts in `since.recheck` and of those whose grants
   * were written since (a grant can move the first day covered). "Written since" is the row's `xmin` from a
   * transaction the earlier snapshot did not see (its xmin on: `age(xmin) <= age(mark)`, both counted back
   * from the same transaction id, so wraparound cancels out while the mark is under 2^31 transactions old;
   * an older mark, or one this database has not reached, as after a restore from a backup, gets a full look).
   * A row deleted without a row written in its place on the same day is not seen: nothing but a rebuild of
   * rollups that had drifted does that, and the caller's periodic full look finds it.
   *
   * Returns the probes, `mark`, this snapshot's xmin (a 64-bit transaction id as text) for the next look, and
   * whether this look was a full one.
   */
  async settleProbes(tx: Tx, now: Date, since: SettleLookMark | null = null): Promise<{ probes: Map<string, SettleProbe>; mark: string; full: boolean }> {
    // PostgreSQL's JIT would compile these plans every minute (the full look's cost grows with the usage
    // history), and the compiling costs more than it saves: 1.0-1.3 s with it, 0.8-0.9 s without, over 1,000
    // accounts of a year's days each (BENCHMARKS, stop 38).
    await tx.query('SET LOCAL jit = off');
    const mark = (await firstRow<{ xmin: string }>(tx, 'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin'))!.xmin;
    // A mark this database has not reached (it was restored from a backup, or is another one) or that
    // 32-bit ids no longer tell apart: a full look.
    const after = since !== null && markInRange(since.mark, mark) ? since : null;
    const xid = after === null ? null : xid32(after.mark);
    const grants = await queryRows<{ account_id: string; due: boolean; written: boolean }>(
      tx,
      `SELECT account_id, bool_or(expired_at IS NULL AND expires_at <= $1) AS due, ${xid === null ? 'true' : `bool_or(${writtenSince('$2')})`} AS written
         FROM credit_grants GROUP BY account_id`,
      xid === null ? [now] : [now, xid],
    );
    let unbooked: Set<string>;
    if (after === null) unbooked = await this.accountsOffBalance(tx, null);
    else {
      const whole = grants.filter((g) => g.written || after.recheck.has(g.account_id)).map((g) => g.account_id);
      unbooked = new Set([...(await this.accountsWithDaysOffBalance(tx, xid!)), ...(whole.length > 0 ? await this.accountsOffBalance(tx, whole) : [])]);
    }
    const allowances = await queryRows<{ account_id: string; id: string; amount: string; granted_at: Date; expires_at: Date | null; expired_at: Date | null; period_start: Date }>(
      tx,
      `SELECT account_id, id, amount::text AS amount, granted_at, expires_at, expired_at, period_start FROM credit_grants
        WHERE kind = 'allowance' AND period_start IS NOT NULL AND (expired_at IS NULL OR period_start >= $1::timestamptz - interval '66 days')`,
      [now],
    );
    const probes = new Map<string, SettleProbe & { allowances: SettleProbe['allowances'][number][] }>();
    for (const g of grants) probes.set(g.account_id, { unbookedUsage: unbooked.has(g.account_id), expiryDue: g.due, allowances: [] });
    for (const g of allowances) {
      probes.get(g.account_id)!.allowances.push({ id: g.id, amount: new Dec(g.amount), periodStart: g.period_start, grantedAt: g.granted_at, expiresAt: g.expires_at, expiredAt: g.expired_at });
    }
    return { probes, mark, full: after === null };
  }

  /** The accounts (all with grants, or those of `only`) with some usage day since their first grant not booked as metered. */
  private async accountsOffBalance(tx: Tx, only: readonly string[] | null): Promise<Set<string>> {
    // Accounts in id order: their rows' index pages are then read one after another, and mostly found in
    // shared buffers. In the order of a hash aggregate, 5,000 accounts of a year's days read 1.2 million
    // pages from outside them and took 8.9-9.0 s, against 41,000 and 3.3 s (BENCHMARKS, stop 39).
    const rows = await queryRows<{ account_id: string }>(
      tx,
      `WITH first AS (
              SELECT account_id, ${FIRST_GRANT_DAY} AS day FROM credit_grants
               ${only === null ? '' : 'WHERE account_id = ANY($1::text[])'} GROUP BY account_id ORDER BY account_id)
       SELECT f.account_id FROM first f WHERE EXISTS (
                SELECT 1 FROM (
                    SELECT day, cost AS amount FROM meter_spend_daily WHERE account_id = f.account_id AND day >= f.day
                    UNION ALL
                    SELECT day, -booked FROM credit_usage_days WHERE account_id = f.account_id AND day >= f.day) d
                 GROUP BY day HAVING sum(amount) <> 0)`,
      only === null ? [] : [only],
    );
    return new Set(rows.map((r) => r.account_id));
  }

  /**
   * The accounts with a usage day, since their first grant, not booked as metered, among the days with a
   * metered or booked row written by a transaction not older than `xid` (a 32-bit transaction id).
   */
  private async accountsWithDaysOffBalance(tx: Tx, xid: string): Promise<string[]> {
    const rows = await queryRows<{ account_id: string }>(
      tx,
      `WITH written AS (
              SELECT account_id, day FROM meter_spend_daily WHERE ${writtenSince('$1')}
              UNION
              SELECT account_id, day FROM credit_usage_days WHERE ${writtenSince('$1')}),
            first AS (
              SELECT account_id, ${FIRST_GRANT_DAY} AS day FROM credit_grants GROUP BY account_id)
       SELECT DISTINCT w.account_id FROM written w JOIN first f ON f.account_id = w.account_id AND w.day >= f.day
        WHERE (SELECT coalesce(sum(cost), 0) FROM meter_spend_daily m WHERE m.account_id = w.account_id AND m.day = w.day)
           <> (SELECT coalesce(sum(booked), 0) FROM credit_usage_days u WHERE u.account_id = w.account_id AND u.day = w.day)`,
      [xid],
    );
    return rows.map((r) => r.account_id);
  }

  // ---- Top-ups

  findTopup(db: Db, account: string, id: string, forUpdate = false): Promise<TopupRow | null> {
    return firstRow<TopupRow>(db, `SELECT ${TOPUP_COLUMNS} FROM credit_topups WHERE account_id = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`, [account, id]);
  }

  async insertTopup(tx: Tx, t: Omit<TopupRow, 'grant_id' | 'granted_at'>): Promise<void> {
    await tx.query(
      `INSERT INTO credit_topups (account_id, id, pack_id, allowance, price, currency, validity_days, status, bought_by, bought_at)
       VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6, $7, $8, $9, $10)`,
      [t.account_id, t.id, t.pack_id, t.allowance, t.price, t.currency, t.validity_days, t.status, t.bought_by, t.bought_at],
    );
  }

  async markTopupGranted(tx: Tx, account: string, id: string, grantId: string, at: Date): Promise<void> {
    await tx.query(`UPDATE credit_topups SET status = 'granted', grant_id = $3, granted_at = $4 WHERE account_id = $1 AND id = $2`, [account, id, grantId, at]);
  }

  /** Top-ups bought (ordered) in [from, to), oldest first, pending or granted. */
  topupsBought(db: Db, account: string, from: Date, to: Date): Promise<TopupRow[]> {
    return queryRows<TopupRow>(db, `SELECT ${TOPUP_COLUMNS} FROM credit_topups WHERE account_id = $1 AND bought_at >= $2 AND bought_at < $3 ORDER BY bought_at, id`, [account, from, to]);
  }

  // ---- Restores of voided invoices

  /**
   * What an invoice's credits applied through each grant: the balance its `apply`/`unapply` movements left
   * on `invoiced` (positive: credit given; negative: credit taken back), with the grant's kind.
   */
  appliedToInvoice(db: Db, account: string, invoiceId: string): Promise<{ grant_id: string; kind: GrantKind; net: string }[]> {
    return queryRows(
      db,
      `SELECT m.grant_id, g.kind, sum(e.amount)::text AS net
         FROM credit_movements m
         JOIN credit_entries e ON e.movement_id = m.id AND e.ledger_account = 'invoiced'
         JOIN credit_grants g ON g.account_id = m.account_id AND g.id = m.grant_id
        WHERE m.account_id = $1 AND m.invoice_id = $2 AND m.kind IN ('apply', 'unapply')
        GROUP BY m.grant_id, g.kind HAVING sum(e.amount) <> 0
        ORDER BY m.grant_id`,
      [account, invoiceId],
    );
  }

  async findRestore(db: Db, account: string, invoiceId: string): Promise<{ amount: string; at: Date } | null> {
    return firstRow(db, 'SELECT amount::text AS amount, at FROM credit_invoice_restores WHERE account_id = $1 AND invoice_id = $2', [account, invoiceId]);
  }

  async insertRestore(tx: Tx, account: string, invoiceId: string, amount: string, at: Date): Promise<void> {
    await tx.query('INSERT INTO credit_invoice_restores (account_id, invoice_id, amount, at) VALUES ($1, $2, $3::numeric, $4)', [account, invoiceId, amount, at]);
  }
}
