// Only this file touches authorization_reservations (the durable record of every hold) and
// authorization_counter_writes (the journal a Redis rebuild reads).
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { pgArray, queryPrepared, queryRows, type Db } from '../../src/database/sql.js';
import { mayCommit, type NamedReservation } from './commit-rule.js';

export type ReservationStatus = 'held' | 'committed' | 'released' | 'expired';

export interface NewReservation {
  account_id: string;
  id: string;
  agent_id: string | null;
  person_id: string;
  session_id: string | null;
  session_context: 'internal' | 'external' | null;
  levels: readonly string[];
  /** Exact decimal string. */
  amount: string;
  tokens: number;
  estimate: Record<string, unknown>;
  created_at: Date;
  expires_at: Date;
  /** A hold answered from a lease (hold-leases.ts): its row takes as much off the lease's row. */
  lease_id?: string;
}

export interface ReservationRow {
  account_id: string;
  id: string;
  agent_id: string | null;
  person_id: string;
  levels: string[];
  amount: string;
  tokens: string;
  status: ReservationStatus;
  created_at: Date;
  expires_at: Date;
}

/** What a statement that resolves reservations needs of each (see committedFrom). */
export type ResolvedRow = Pick<ReservationRow, 'id' | 'agent_id' | 'person_id' | 'status' | 'levels' | 'amount' | 'tokens' | 'expires_at'>;

/**
 * reservation-rules.ts's mayCommit in SQL, over a named item `c` (its agent and person) and the reservation
 * `h` it names: the reservation's own agent, or its person when the reservation has no agent (a member's).
 */
const MAY_COMMIT = `(h.agent_id IS NOT DISTINCT FROM c.agent OR (h.agent_id IS NULL AND h.person_id = c.person))`;

// Statements that resolve reservations by id test `status IS NOT DISTINCT FROM 'held'` (the same, status
// being NOT NULL), never `status = 'held'`: that form lets the planner use the partial indexes on held
// rows (authorization_reservations_held, _due), and after statistics taken while few rows were held (say,
// once a burst of holds was committed) it reads EVERY held reservation of the account into a hash for a
// statement that resolves fifty by primary key (4 to 11 ms instead of 0.6 ms with 12,500 held; see
// BENCHMARKS.md). The other form cannot match an index predicate; and the ids are also given to the
// reservations' scan itself (`r.id = ANY(...)`), so that it probes the primary key for them rather than
// read the whole table and filter (which the estimate of `held` rows, near zero, made look cheap).
const COLUMNS = 'account_id, id, agent_id, person_id, levels, amount::text AS amount, tokens::text AS tokens, status, created_at, expires_at';

// Rows travel as parallel arrays (one parameter per column) and levels as one JSON array per row. A hold
// answered from a budget lease names it in lease_id (what the lease's row still holds is its amount less its
// carved rows', see active()); other rows carry null there.
const INSERT_MANY = `
  INSERT INTO authorization_reservations (account_id, id, agent_id, person_id, session_id, session_context, levels, amount, tokens,
                                          estimate, status, created_at, expires_at, lease_id)
  SELECT u.account_id, u.id, u.agent_id, u.person_id, u.session_id, u.session_context,
         ARRAY(SELECT jsonb_array_elements_text(u.levels)), u.amount, u.tokens, u.estimate, 'held',
         timestamptz 'epoch' + u.created_ms * interval '1 millisecond', timestamptz 'epoch' + u.expires_ms * interval '1 millisecond', u.lease_id
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::numeric[], $9::int8[],
                $10::jsonb[], $11::int8[], $12::int8[], $13::text[])
         AS u(account_id, id, agent_id, person_id, session_id, session_context, levels, amount, tokens, estimate, created_ms, expires_ms, lease_id)`;

/**
 * committedSql's `counted` value: the write ids journalled, the rows resolved (id and agent first, person
 * last: committedFrom), the other rows named (id, agent, status, person).
 */
interface CountedValue {
  journalled: string[] | null;
  resolved: [string, string | null, ...unknown[]][];
  others: [string, string | null, ReservationStatus, string][];
}

/**
 * The parameters of ONE committedSql for several writes (each with committedParams' parameters, in the
 * order their events are in the statement): every write journalled, every named reservation in order, each
 * judged at its own write's time. `now` is the statement's (the journal's time).
 */
export function combinedParams(writes: readonly (readonly unknown[])[], now: Date): unknown[] {
  const column = (i: number) => writes.flatMap((w) => w[i] as unknown[]);
  return [writes[0]![0], now, column(2), column(3), column(4), column(5), column(6), column(7), column(8)];
}

/**
 * A combined statement's `counted` value cut into each write's own, as if each had been a statement of its
 * own run in order: a reservation resolved goes to the first write naming it with the agent it was
 * resolved for; every other write naming it sees it as it was before (held: resolved by another write).
 */
export function splitCounted(counted: unknown, writes: readonly (readonly unknown[])[]): unknown[] {
  const value = counted as CountedValue;
  const journalled = new Set(value?.journalled ?? []);
  const resolved = new Map(value.resolved.map((r) => [r[0], r]));
  // Whether write w names the reservation with an event that may commit it (mayCommit: its agent, or its
  // person when it has no agent).
  const names = (w: readonly unknown[], id: string, agent: string | null, person: string) =>
    (w[3] as string[]).some(
      (x, j) => x === id && mayCommit({ agent_id: agent, person_id: person }, { agentId: (w[4] as (string | null)[])[j]!, personId: (w[8] as (string | null)[])[j]! }),
    );
  // A resolved row is [id, agent, status, levels, amount, tokens, expires_at, person] (committedSql).
  const personOf = (r: CountedValue['resolved'][number]) => r[7] as string;
  const owner = new Map([...resolved].map(([id, r]) => [id, writes.findIndex((w) => names(w, id, r[1], personOf(r)))]));
  return writes.map((w, k): CountedValue => {
    const ids = new Set(w[3] as string[]);
    const own: CountedValue = { journalled: (w[2] as string[]).filter((id) => journalled.has(id)), resolved: [], others: [] };
    for (const id of ids) {
      const r = resolved.get(id);
      if (r === undefined) continue;
      const by = owner.get(id)!;
      // Before the write that resolved it, it was held; after it, as that write left it.
      if (by === k) own.resolved.push(r);
      else own.others.push([r[0], r[1], k < by ? 'held' : (r[2] as ReservationStatus), personOf(r)]);
    }
    for (const o of value.others) if (ids.has(o[0])) own.others.push(o);
    return own;
  });
}

/** A connection of its own that writes reservation rows without waiting for the WAL flush (see openSink). */
export interface ReservationSink {
  insertMany(rows: readonly NewReservation[]): Promise<void>;
}

@Injectable()
export class ReservationsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * A sink for the Redis engine's group commit: one pooled connection kept for it, with
   * synchronous_commit off, so a hold is answered once PostgreSQL has its row (in its WAL buffer) without
   * waiting for the disk (a commit's fsync was 3 ms at the median and 16 to 50 ms at p99 on the benchmark
   * machine). Only a crash of the PostgreSQL server can lose the last few hundred milliseconds of rows;
   * Redis still holds them (it is stricter than the record), and the events that commit them are metered
   * whatever happened to their reservation. A connection that fails is replaced on the next write.
   */
  openSink(): ReservationSink {
    let runner: ReturnType<DataSource['createQueryRunner']> | null = null;
    const connected = async () => {
      if (runner === null || runner.isReleased) {
        const r = this.dataSource.createQueryRunner();
        await r.connect();
        await r.query('SET synchronous_commit = off');
        runner = r;
      }
      return runner;
    };
    return {
      insertMany: async (rows) => {
        const r = await connected();
        try {
          await this.insertMany(rows, r.manager);
        } catch (error) {
          await r.release().catch(() => undefined);
          runner = null;
          throw error;
        }
      },
    };
  }

  /** Many reservations in one statement (the Redis engine's group commit). */
  async insertMany(rows: readonly NewReservation[], db: Db = this.dataSource): Promise<void> {
    if (rows.length === 0) return;
    await queryPrepared(db, INSERT_MANY, [
      pgArray(rows, true, (r) => r.account_id),
      pgArray(rows, true, (r) => r.id),
      pgArray(rows, true, (r) => r.agent_id),
      pgArray(rows, true, (r) => r.person_id),
      pgArray(rows, true, (r) => r.session_id),
      pgArray(rows, true, (r) => r.session_context),
      pgArray(rows, true, (r) => JSON.stringify(r.levels)),
      pgArray(rows, false, (r) => r.amount),
      pgArray(rows, false, (r) => r.tokens),
      pgArray(rows, true, (r) => JSON.stringify(r.estimate)),
      pgArray(rows, false, (r) => r.created_at.getTime()),
      pgArray(rows, false, (r) => r.expires_at.getTime()),
      pgArray(rows, true, (r) => r.lease_id),
    ]);
  }

  async find(db: Db, account: string, id: string, forUpdate = false): Promise<ReservationRow | null> {
    const rows = await queryRows<ReservationRow>(
      db,
      `SELECT ${COLUMNS} FROM authorization_reservations WHERE account_id = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
      [account, id],
    );
    return rows[0] ?? null;
  }

  /**
   * The reservations events name, resolved in ONE statement: each held one committed with its actual
   * spend (expired, when already due) by the first event that names it and may commit it (its own agent's,
   * or its person's own hold: reservation-rules.ts, mayCommit, and MAY_COMMIT here). Every named reservation
   * that exists comes back as it was before, with what this statement made of it (null: nothing).
   */
  async commitNamed(tx: Tx, account: string, named: readonly NamedReservation[], now: Date): Promise<{ row: ReservationRow; to: 'committed' | 'expired' | null }[]> {
    if (named.length === 0) return [];
    const rows = await queryPrepared<ReservationRow & { resolved_to: 'committed' | 'expired' | null }>(
      tx,
      `WITH c AS (
         SELECT DISTINCT ON (c.id) c.id, c.amount, c.tokens
           FROM unnest($3::text[], $4::text[], $7::text[], $5::numeric[], $6::bigint[]) WITH ORDINALITY AS c(id, agent, person, amount, tokens, n)
           JOIN authorization_reservations h ON h.account_id = $1 AND h.id = ANY($3::text[]) AND h.id = c.id
          WHERE ${MAY_COMMIT}
          ORDER BY c.id, c.n),
       upd AS (
         UPDATE authorization_reservations r
            SET status = CASE WHEN r.expires_at <= $2 THEN 'expired' ELSE 'committed' END, resolved_at = $2,
                actual_amount = CASE WHEN r.expires_at <= $2 THEN NULL ELSE c.amount END,
                actual_tokens = CASE WHEN r.expires_at <= $2 THEN NULL ELSE c.tokens END
           FROM c
          WHERE r.account_id = $1 AND r.id = ANY($3::text[]) AND r.id = c.id AND r.status IS NOT DISTINCT FROM 'held'
         RETURNING r.id, r.status)
       SELECT r.account_id, r.id, r.agent_id, r.person_id, r.levels, r.amount::text AS amount, r.tokens::text AS tokens, r.status,
              r.created_at, r.expires_at, u.status AS resolved_to
         FROM authorization_reservations r LEFT JOIN upd u ON u.id = r.id
        WHERE r.account_id = $1 AND r.id = ANY($3::text[])`,
      [account, now, named.map((n) => n.id), named.map((n) => n.agentId), named.map((n) => n.amount), named.map((n) => n.tokens), named.map((n) => n.personId)],
    );
    return rows.map(({ resolved_to, ...row }) => ({ row, to: resolved_to }));
  }

  /**
   * commitNamed and recordWrite as CTEs of another statement (an ingest write made as one statement, see
   * UsageCountersStatement), parameters from $p (committedParams, or combinedParams for several writes in
   * one statement). Each named reservation is judged against its own write's time (expired when due by
   * then). The CTE `counted` yields one json value, read back with committedFrom (splitCounted first for
   * several writes): the write ids journalled, the rows this statement resolved (held before it), and the
   * others named as they are.
   */
  committedSql(p: number): string {
    return `counters_named AS (
         SELECT DISTINCT ON (c.id) c.id, c.amount, c.tokens, c.at
           FROM unnest($${p + 3}::text[], $${p + 4}::text[], $${p + 8}::text[], $${p + 5}::numeric[], $${p + 6}::bigint[], $${p + 7}::timestamptz[])
                WITH ORDINALITY AS c(id, agent, person, amount, tokens, at, n)
           JOIN authorization_reservations h ON h.account_id = $${p}::text AND h.id = ANY($${p + 3}::text[]) AND h.id = c.id
          WHERE ${MAY_COMMIT}
          ORDER BY c.id, c.n),
       counters_resolved AS (
         UPDATE authorization_reservations r
            SET status = CASE WHEN r.expires_at <= c.at THEN 'expired' ELSE 'committed' END, resolved_at = c.at,
                actual_amount = CASE WHEN r.expires_at <= c.at THEN NULL ELSE c.amount END,
                actual_tokens = CASE WHEN r.expires_at <= c.at THEN NULL ELSE c.tokens END
           FROM counters_named c
          WHERE r.account_id = $${p}::text AND r.id = ANY($${p + 3}::text[]) AND r.id = c.id
            AND r.status IS NOT DISTINCT FROM 'held'
         RETURNING r.id, r.agent_id, r.levels, r.amount, r.tokens, r.expires_at, r.status, r.person_id),
       counters_journal AS (
         INSERT INTO authorization_counter_writes (account_id, write_id, recorded_at)
         SELECT $${p}::text, w, $${p + 1}::timestamptz FROM unnest($${p + 2}::text[]) AS w
         RETURNING write_id),
       counted AS (
         SELECT json_build_object(
                  'journalled', (SELECT json_agg(write_id) FROM counters_journal),
                  'resolved', coalesce((SELECT json_agg(json_build_array(u.id, u.agent_id, u.status, u.levels, u.amount::text, u.tokens::text, u.expires_at, u.person_id))
                                          FROM counters_resolved u), '[]'::json),
                  'others', coalesce((SELECT json_agg(json_build_array(r.id, r.agent_id, r.status, r.person_id))
                                        FROM authorization_reservations r
                                       WHERE r.account_id = $${p}::text
                                         AND r.id = ANY(ARRAY(SELECT unnest($${p + 3}::text[]) EXCEPT SELECT id FROM counters_resolved))), '[]'::json)) AS counted)`;
  }

  committedParams(account: string, writeId: string, named: readonly NamedReservation[], now: Date): unknown[] {
    return [
      account,
      now,
      [writeId],
      named.map((n) => n.id),
      named.map((n) => n.agentId),
      named.map((n) => n.amount),
      named.map((n) => n.tokens),
      named.map(() => now),
      named.map((n) => n.personId),
    ];
  }

  /** committedSql's `counted` value as commitNamed answers it (only the resolved rows need their levels and amounts). */
  committedFrom(counted: unknown): { row: ResolvedRow; to: 'committed' | 'expired' | null }[] {
    type Resolved = [string, string | null, 'committed' | 'expired', string[], string, string, string, string];
    const value = counted as Omit<CountedValue, 'resolved'> & { resolved: Resolved[] };
    if (value?.journalled?.length !== 1) throw new Error('the counters part of a write was not journalled');
    return [
      ...value.resolved.map(([id, agent_id, to, levels, amount, tokens, expires_at, person_id]) => ({
        row: { id, agent_id, person_id, status: 'held' as const, levels, amount, tokens, expires_at: new Date(expires_at) },
        to,
      })),
      ...value.others.map(([id, agent_id, status, person_id]) => ({
        row: { id, agent_id, person_id, status, levels: [], amount: '0', tokens: '0', expires_at: new Date(0) },
        to: null,
      })),
    ];
  }

  /** Marks a held reservation resolved; returns it as it was, or null when it was not held. */
  async resolve(
    tx: Tx,
    account: string,
    id: string,
    to: Exclude<ReservationStatus, 'held'>,
    now: Date,
    actual: { amount: string; tokens: number } | null = null,
  ): Promise<ReservationRow | null> {
    const rows = await queryRows<ReservationRow>(
      tx,
      `UPDATE authorization_reservations SET status = $3, resolved_at = $4, actual_amount = $5, actual_tokens = $6
        WHERE account_id = $1 AND id = $2 AND status IS NOT DISTINCT FROM 'held'
        RETURNING ${COLUMNS}`,
      [account, id, to, now, actual?.amount ?? null, actual?.tokens ?? null],
    );
    return rows[0] ?? null;
  }

  /**
   * The reservations held and not yet due, for a rebuild. A budget lease's own row (hold-leases.ts) holds
   * its amount less what its holds' rows took from it, whatever became of them since.
   */
  async active(db: Db, account: string, now: Date): Promise<ReservationRow[]> {
    return queryRows<ReservationRow>(
      db,
      `SELECT r.account_id, r.id, r.agent_id, r.person_id, r.levels, greatest(r.amount - coalesce(c.amount, 0), 0)::text AS amount,
              greatest(r.tokens - coalesce(c.tokens, 0), 0)::text AS tokens, r.status, r.created_at, r.expires_at
         FROM authorization_reservations r
         LEFT JOIN LATERAL (SELECT sum(x.amount) AS amount, sum(x.tokens) AS tokens FROM authorization_reservations x
                             WHERE r.id LIKE 'lease\\_%' AND x.account_id = r.account_id AND x.lease_id = r.id) c ON true
        WHERE r.account_id = $1 AND r.status = 'held' AND r.expires_at > $2`,
      [account, now],
    );
  }

  /** Which of these reservations are no longer held (committed, released or expired). */
  async resolvedAmong(db: Db, account: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await queryRows<{ id: string }>(
      db,
      `SELECT id FROM authorization_reservations WHERE account_id = $1 AND id = ANY($2::text[]) AND status <> 'held'`,
      [account, ids],
    );
    return rows.map((r) => r.id);
  }

  /** Held reservations past their expiry, marked expired (at most `limit`, oldest first; skips locked rows). */
  async expireDue(db: Db, now: Date, limit: number, account: string | null = null): Promise<ReservationRow[]> {
    return queryRows<ReservationRow>(
      db,
      `UPDATE authorization_reservations r SET status = 'expired', resolved_at = $1
         FROM (SELECT account_id, id FROM authorization_reservations
                WHERE status = 'held' AND expires_at <= $1 AND ($3::text IS NULL OR account_id = $3)
                ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
        WHERE r.account_id = due.account_id AND r.id = due.id
        RETURNING r.account_id, r.id, r.agent_id, r.person_id, r.levels, r.amount::text AS amount, r.tokens::text AS tokens,
                  r.status, r.created_at, r.expires_at`,
      [now, limit, account],
    );
  }

  /** Journals a counter write in the transaction that makes it. */
  async recordWrite(tx: Tx, account: string, writeId: string, now: Date): Promise<void> {
    await tx.query('INSERT INTO authorization_counter_writes (account_id, write_id, recorded_at) VALUES ($1, $2, $3)', [account, writeId, now]);
  }

  /** Which of these writes committed. */
  async committedWrites(db: Db, account: string, writeIds: readonly string[]): Promise<Set<string>> {
    if (writeIds.length === 0) return new Set();
    const rows = await queryRows<{ write_id: string }>(
      db,
      'SELECT write_id FROM authorization_counter_writes WHERE account_id = $1 AND write_id = ANY($2::text[])',
      [account, writeIds],
    );
    return new Set(rows.map((r) => r.write_id));
  }

  async pruneWrites(before: Date): Promise<number> {
    const rows = await queryRows<{ n: number }>(
      this.dataSource,
      `WITH gone AS (DELETE FROM authorization_counter_writes WHERE recorded_at < $1 RETURNING 1) SELECT count(*)::int AS n FROM gone`,
      [before],
    );
    return rows[0]?.n ?? 0;
  }
}
