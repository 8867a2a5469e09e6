// The meter rollups' compaction. Concurrent ingest writers add to rows of their own shard (rollup-sql.ts),
// so a busy hour holds up to eight rows per key and a reading sums them all. Once an hour is closed its
// rows change only by late events and relabels; every hour this job folds the closed hours and days of
// the lookback into one row per key (COMPACTED_SHARD), so a month's reading sums about one row per key
// (`meter_hours`, a row an hour, over every closed hour: tableWindow).
// Readings are the same before and after: every key's sum over shards is kept (test/compaction.e2e-spec.ts).
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { AccountsService } from '../../src/accounts/accounts.service.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { Metrics } from '../../src/health/metrics.js';
import { defineJob, JobHandler } from '../../src/jobs/jobs.js';
import { JobsService } from '../../src/jobs/jobs.service.js';
import { ROLLUP_TABLES } from '../ingest/rollup-sql.js';
import { compactionWindow, DEFAULT_LOOKBACK_HOURS, tableWindow } from './compaction-window.js';
import { CompactionRepository } from './compaction.repository.js';

export const compactRollups = defineJob<{ period: string }>('meter.compact');

/** Rows moved per transaction: a short transaction, and the locks of one batch at a time. */
const BATCH = 5_000;

export interface CompactionReport {
  accounts: number;
  /** Accounts left for the next run because a rebuild held their rollups. */
  skipped: number;
  /** Rows taken out of the writers' shards, and compacted rows written (inserted or added to). */
  moved: number;
  written: number;
  tables: Record<string, { moved: number; written: number }>;
}

@Injectable()
export class CompactionService implements OnModuleInit {
  private readonly logger = new Logger('compaction');

  constructor(
    private readonly repository: CompactionRepository,
    private readonly accounts: AccountsService,
    private readonly jobs: JobsService,
    private readonly metrics: Metrics,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.jobs.repeat(compactRollups, 'hour');
  }

  @JobHandler(compactRollups)
  async run(_: { period: string }): Promise<CompactionReport> {
    return this.compact();
  }

  /** `lookbackHours` null folds every closed bucket (after an upgrade, or a long stop of the jobs). */
  async compact(options: { account?: string; lookbackHours?: number | null; batch?: number } = {}): Promise<CompactionReport> {
    const started = performance.now();
    const window = compactionWindow(this.clock.now(), options.lookbackHours === undefined ? DEFAULT_LOOKBACK_HOURS : options.lookbackHours);
    if (options.account !== undefined) await this.accounts.getAccount(options.account); // account_not_found
    const accounts = options.account !== undefined ? [options.account] : await this.repository.accounts();
    const report: CompactionReport = { accounts: accounts.length, skipped: 0, moved: 0, written: 0, tables: {} };
    for (const account of accounts) {
      for (const table of ROLLUP_TABLES) {
        const done = await this.repository.compactTable(account, table, tableWindow(table, window), options.batch ?? BATCH);
        if (done === null) {
          report.skipped++;
          break;
        }
        const sums = (report.tables[table] ??= { moved: 0, written: 0 });
        sums.moved += done.moved;
        sums.written += done.written;
        report.moved += done.moved;
        report.written += done.written;
        if (done.moved > 0) this.metrics.meterCompactedRows.inc({ table }, done.moved);
      }
    }
    const ms = Math.round(performance.now() - started);
    this.logger.log(`compacted ${report.moved} rollup rows into ${report.written} for ${report.accounts} accounts in ${ms} ms${report.skipped ? ` (${report.skipped} being rebuilt, left for the next run)` : ''}`);
    return report;
  }
}
