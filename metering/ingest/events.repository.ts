// Events on the ingest path: the monthly partitions, the group write (one statement, see event-write-sql.ts),
// events found by id, rollup moves of stored events (a relabel, a reprice), and the invoiced periods.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryPrepared, queryRows } from '../../src/database/sql.js';
import type { UnitMove } from './event-input.js';
import { eventArrayParams, type NewEventRow, type StoredEvent } from './event-row.js';
import { countedGuardParams, guardParams, relabelParams, taskUpdateParams, writeSql, type LabelChanges, type WriteGuard, type WriteShape } from './event-write-sql.js';
import { addToRollupsCtes } from './rollup-sql.js';

/** The period's included allowance, for the reading after each event. */
export interface Allowance {
  amount: string;
  periodStart: Date;
  periodEnd: Date;
}

/** Per new event (by id): the allowance left after it and the unit it was attributed to. */
export type Written = Map<string, { allowance_left: string | null; unit_id: string | null }>;

export function monthPartition(ts: Date): { name: string; from: string; to: string } {
  const y = ts.getUTCFullYear();
  const m = ts.getUTCMonth();
  const from = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
  const to = new Date(Date.UTC(y, m + 1, 1)).toISOString().slice(0, 10);
  return { name: `events_y${y}m${String(m + 1).padStart(2, '0')}`, from, to };
}

const PARTITION_LOCK = 7_310_002;

/** A group's write (see writeBatch). */
export interface Batch {
  events: readonly NewEventRow[];
  relabelled: { before: readonly StoredEvent[]; after: readonly StoredEvent[] } | null;
  labels: LabelChanges | null;
  allowance: Allowance | null;
  /** Tasks to create and ids that must be new, or the statement is refused (see WriteGuard). */
  guard?: WriteGuard;
}

@Injectable()
export class EventsRepository {
  /** Months (year * 12 + month) whose partition this process has made sure of. */
  private readonly months = new Set<number>();

  constructor(private readonly dataSource: DataSource) {}

  /** Creates the monthly partitions these timestamps need (once per process per month). */
  async ensurePartitions(timestamps: Iterable<Date>): Promise<void> {
    const needed = new Map<number, Date>();
    for (const ts of timestamps) {
      const month = ts.getUTCFullYear() * 12 + ts.getUTCMonth();
      if (!this.months.has(month) && !needed.has(month)) needed.set(month, ts);
    }
    for (const [month, ts] of needed) {
      const p = monthPartition(ts);
      await this.dataSource.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
        await tx.query(`CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF events FOR VALUES FROM ('${p.from}') TO ('${p.to}')`);
      });
      this.months.add(month);
    }
  }

  async findByIds(accountId: string, ids: readonly string[]): Promise<StoredEvent[]> {
    if (ids.length === 0) return [];
    return queryRows<StoredEvent>(
      this.dataSource,
      `SELECT e.* FROM event_keys k
         JOIN events e ON e.account_id = k.account_id AND e.ts = k.ts AND e.event_id = k.event_id
        WHERE k.account_id = $1 AND k.event_id = ANY($2::text[])`,
      [accountId, ids],
    );
  }

  /**
   * A group of events in ONE statement: claim the ids (a unique key per account, for ever; claimed in id
   * order, and a concurrent claimer of the same id is waited for), attribute each event without a unit to
   * its person's unit at the event's time, insert the events that were new with the allowance left after
   * each (in ingest order), add them (and any relabelled events: old version -1, new +1) to the rollups,
   * and write label and task changes. New events travel as one array per column (eventArrayParams).
   */
  async writeBatch(tx: Tx | null, accountId: string, batch: Batch): Promise<Written> {
    return (await this.write(tx, accountId, batch, null)).written;
  }

  /**
   * writeBatch as one autocommit statement that also carries the counters' part (their rows, as CTEs; see
   * UsageCountersStatement) and refuses itself unless every event is new and in the unit it was counted
   * under. Returns the part's `counted` value too.
   */
  async writeCounted(
    accountId: string,
    batch: Batch,
    counters: { units: ReadonlyMap<string, string | null>; sql(first: number): string; params: readonly unknown[] },
  ): Promise<{ written: Written; counted: unknown }> {
    return this.write(null, accountId, batch, counters);
  }

  private async write(
    tx: Tx | null,
    accountId: string,
    batch: Batch,
    counters: { units: ReadonlyMap<string, string | null>; sql(first: number): string; params: readonly unknown[] } | null,
  ): Promise<{ written: Written; counted: unknown }> {
    const moves = (batch.relabelled?.before.length ?? 0) > 0;
    const taskUpdates = (batch.labels?.taskUpdates.length ?? 0) > 0;
    const params: unknown[] = [
      accountId,
      batch.allowance?.amount ?? null,
      batch.allowance?.periodStart ?? null,
      batch.allowance?.periodEnd ?? null,
    ];
    /** Appends parameters; returns the number of the first. */
    const param = (...values: unknown[]) => params.push(...values) - values.length + 1;
    const arrays = params.length + 1;
    params.push(...eventArrayParams(batch.events));
    const shape: WriteShape = {
      arrays,
      before: moves ? param(JSON.stringify(batch.relabelled!.before)) : 0,
      after: moves ? param(JSON.stringify(batch.relabelled!.after)) : 0,
      labelChanges: moves ? param(...relabelParams(batch.labels?.relabelled ?? [])) : 0,
      taskChanges: taskUpdates ? param(...taskUpdateParams(batch.labels?.taskUpdates ?? [])) : 0,
      guarded: batch.guard ? param(...guardParams(batch.guard)) : 0,
      creates: (batch.guard?.newTasks.length ?? 0) > 0,
      counted: null,
    };
    if (counters) {
      const guard = param(...countedGuardParams(counters.units));
      shape.counted = { guard, ctes: counters.sql(param(...counters.params)) };
    }
    const rows = await queryPrepared<{ event_id: string | null; allowance_left: string | null; unit_id: string | null; counted?: string | null }>(
      tx ?? this.dataSource,
      writeSql(shape),
      params,
    );
    const written: Written = new Map();
    let counted: unknown = null;
    for (const r of rows) {
      if (r.event_id !== null) written.set(r.event_id, { allowance_left: r.allowance_left, unit_id: r.unit_id });
      else if (r.counted != null) counted = JSON.parse(r.counted) as unknown;
    }
    return { written, counted };
  }

  /**
   * Moves events in the rollups from how they were (`before`, taken away) to how they are (`after`,
   * added): a relabel, a reprice. One statement, the same grouping as ingest and rebuild.
   */
  async moveInRollups(tx: Tx, before: readonly StoredEvent[], after: readonly StoredEvent[]): Promise<void> {
    if (before.length === 0 && after.length === 0) return;
    await tx.query(
      `WITH contributions AS (
         SELECT *, -1 AS sign FROM json_populate_recordset(NULL::events, $1::json)
         UNION ALL SELECT *, 1 AS sign FROM json_populate_recordset(NULL::events, $2::json)),
       ${addToRollupsCtes('contributions')}
       SELECT 1`,
      [JSON.stringify(before), JSON.stringify(after)],
    );
  }

  /**
   * What checking the units events name needs (asked only when an event names one): which of `unitIds`
   * are units of the account, and the person's moves (unit and start, in time order) to tell their unit
   * at an event's time (unitAtTime). One round trip.
   */
  async namedUnits(accountId: string, personId: string, unitIds: readonly string[]): Promise<{ existing: Set<string>; moves: UnitMove[] }> {
    const [row] = await queryRows<{ existing: string[] | null; moves: { unit_id: string; from_us: number }[] | string | null }>(
      this.dataSource,
      `SELECT (SELECT array_agg(id) FROM units WHERE account_id = $1 AND id = ANY($3::text[])) AS existing,
              (SELECT json_agg(json_build_object('unit_id', unit_id, 'from_us', (extract(epoch FROM effective_from) * 1000000)::bigint) ORDER BY effective_from)
                 FROM person_unit_history WHERE account_id = $1 AND person_id = $2) AS moves`,
      [accountId, personId, unitIds],
    );
    const moves = typeof row?.moves === 'string' ? (JSON.parse(row.moves) as { unit_id: string; from_us: number }[]) : (row?.moves ?? []);
    return { existing: new Set(row?.existing ?? []), moves: moves.map((m) => ({ unit_id: m.unit_id, from_us: Number(m.from_us) })) };
  }

  async closedPeriods(accountId: string): Promise<{ period_start: Date; period_end: Date }[]> {
    return queryRows(this.dataSource, 'SELECT period_start, period_end FROM meter_closed_periods WHERE account_id = $1', [accountId]);
  }
}
