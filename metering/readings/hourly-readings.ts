// The account-wide reading by hour (`group_by=hour`, no filter, a key that sees the whole account), with
// its closed hours remembered. A month of it is ~700 rows and 170 KB of JSON; turning rows into that JSON
// was most of its time and nearly all of its garbage (BENCHMARKS.md), while the hours it is made of stop
// changing once the hourly compaction has folded them into COMPACTED_SHARD. So this process remembers,
// per account and range start, the JSON of the hours before the first one that still has rows in a
// writer's shard, and answers from it plus a read of the later hours (usually the current one or two).
//
// Why a remembered piece is never stale. Ingest, relabels and reprices only add to the writers' shards
// (0-7); only the compaction and the rebuild rewrite other rows, and each counts one in meter_rewrites
// in its own transaction. The statement reading the later hours also reads, in the same snapshot, the
// account's count of rewrites, the first hour with rows in a writer's shard and the number of rows before
// it. The piece is used only if all three are what they were when it was read: then no row of its hours
// was added to (that would put a row in a writer's shard before the first one), moved or replaced (a
// rewrite), or dropped (the number). Otherwise the reading is read whole and remembered afresh. Every
// process checks for itself against PostgreSQL, so several API processes need nothing shared.
//
// The last answer made from a piece is kept with it and sent again while the later hours read the same
// (an account polled with nothing new since): a new 170 KB answer per reading is memory outside V8's heap,
// and allocating it on every reading made V8 run a full mark-compact every ~150 readings, each a 10-25 ms
// pause that was most of the reading's p99 (BENCHMARKS.md, stop 22).
import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { APP_CONFIG, type AppConfig } from '../../src/config/config.js';
import { Metrics } from '../../src/health/metrics.js';
import type { JsonOf } from '../../src/http/openapi.js';
import { hourlyBody, hourlyPiece, type HourlyPiece } from './hourly-body.js';
import type { KeyedSumRow, MeterReading } from './meter-sums.js';
import type { MeterQuery, RollupPart, VisibilityScope } from './reading-query.js';
import { ReadingsRepository, type HourlyCheck } from './readings.repository.js';

interface Remembered {
  check: HourlyCheck;
  /** The piece covers the hours before this instant (ms): the first sharded hour, else the range's end then. */
  until: number;
  piece: HourlyPiece;
  /** The last answer made with the piece: its range's end, the later hours' rows as read, and its bytes. */
  last?: { to: string; later: string; body: JsonOf<MeterReading> };
}

/** The later hours' rows as the statement answered them, as one text: equal texts make equal answers. */
const rowsText = (rows: readonly KeyedSumRow[]): string => rows.map((r) => `${r.k_hour} ${r.sums}`).join('\n');

@Injectable()
export class HourlyReadings {
  private readonly remembered: LRUCache<string, Remembered> | null;

  constructor(
    private readonly repository: ReadingsRepository,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.remembered =
      config.readingCacheMb === 0
        ? null
        : new LRUCache<string, Remembered>({ maxSize: config.readingCacheMb * 1024 * 1024, sizeCalculation: (r) => 2 * r.piece.rowsJson.length + 1024 });
  }

  /** Whether this answers the reading: the account's hours, nothing filtered, read from the meter_hours rollup alone. */
  answers(q: MeterQuery, scope: VisibilityScope | null, parts: readonly RollupPart[]): boolean {
    return (
      this.remembered !== null &&
      scope === null &&
      q.groupBy.length === 1 &&
      q.groupBy[0] === 'hour' &&
      Object.keys(q.filters).length === 0 &&
      parts.length === 1 &&
      parts[0]!.rollup === 'hours' &&
      parts[0]!.sign === 1
    );
  }

  /** The reading's JSON (what JSON.stringify of ReadingsService's reading would be). */
  async body(accountId: string, q: MeterQuery): Promise<JsonOf<MeterReading>> {
    const from = q.from.toISOString();
    const to = q.to.toISOString();
    const key = `${accountId}\n${from}`;
    const kept = this.remembered!.get(key);
    if (kept !== undefined && kept.until <= q.to.getTime()) {
      const { check, rows } = await this.repository.hourlyRows(accountId, q.from, q.to, new Date(kept.until));
      if (check.generation === kept.check.generation && check.sharded === kept.check.sharded && check.before === kept.check.before) {
        this.metrics.meterHourlyReadings.inc({ outcome: 'hit' });
        const later = rowsText(rows);
        if (kept.last?.to === to && kept.last.later === later) return kept.last.body;
        const body = hourlyBody(from, to, kept.piece, hourlyPiece(rows));
        kept.last = { to, later, body };
        return body;
      }
      this.metrics.meterHourlyReadings.inc({ outcome: 'stale' });
    } else {
      this.metrics.meterHourlyReadings.inc({ outcome: 'miss' });
    }
    const { check, rows } = await this.repository.hourlyRows(accountId, q.from, q.to, q.from);
    const until = check.sharded === null ? q.to.getTime() : Date.parse(check.sharded);
    const untilText = new Date(until).toISOString();
    let split = rows.findIndex((r) => r.k_hour! >= untilText);
    if (split < 0) split = rows.length;
    const piece = hourlyPiece(rows.slice(0, split));
    const body = hourlyBody(from, to, piece, hourlyPiece(rows.slice(split)));
    this.remembered!.set(key, { check, until, piece, last: { to, later: rowsText(rows.slice(split)), body } });
    return body;
  }
}
