// The invoices phase (BENCH_PHASES=invoices): the account's ingested events copied into the previous month
// until that month holds the target count, the rollups recomputed, the subscription moved to start then,
// and that period closed through POST .../invoices/close while the service's memory is sampled; then the
// preview of the open period timed. The close must read rollups, not events: its time and the service's
// memory stay flat as the month grows, and the rows it writes follow its lines, not its events.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { monthPartition } from '../../metering/ingest/events.repository.js';
import { tableColumns } from './ceiling.js';
import type { HttpClient } from './http.js';
import { measureReading, recomputeRollups, type ReadingResult } from './readings.js';

/** Rows one fill statement copies. */
const COPY_ROWS = 250_000;

export interface InvoicesRun {
  /** Events stored in the closed period. */
  events: number;
  fillMs: number;
  closeMs: number;
  closeStatus: number;
  /** The service's resident memory before the close and the most sampled during it (MiB). */
  rssBeforeMiB: number | null;
  rssPeakMiB: number | null;
  lines: number;
  usageRows: number;
  total: string | null;
  preview: ReadingResult;
}

function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

export async function runInvoices(
  db: pg.Pool,
  api: HttpClient,
  keys: { admin: string; finance: string },
  account: string,
  target: number,
  pid: number,
  monthStart: Date,
  previewRequests: number,
  previewBudgetMs: number,
  log: (line: string) => void,
): Promise<InvoicesRun> {
  const prev = new Date(Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() - 1, 1));
  const p = monthPartition(prev);
  await db.query(`CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF events FOR VALUES FROM ('${p.from}') TO ('${p.to}')`);
  const fillStarted = performance.now();
  const inPrev = async () =>
    Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM events WHERE account_id = $1 AND ts >= $2 AND ts < $3', [account, prev, monthStart])).rows[0]!.n);
  const originals = Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM events WHERE account_id = $1 AND strpos(event_id, '~') = 0`, [account])).rows[0]!.n);
  if (originals === 0) throw new Error('invoices: no ingested events to copy');
  const columns = (await tableColumns(db, 'events')).map((c) => c.name);
  // Copy k of the originals takes id suffix ~i<k>; one statement copies up to COPY_ROWS rows (many copies of
  // each original), and the count goes on from what each statement inserted (a count(*) of the growing
  // month after each step made the fill quadratic: an hour for 5 million).
  const expr: Record<string, string> = {
    event_id: `e.event_id || '~i' || g.k`,
    ts: `$4::timestamptz + random() * ($5::timestamptz - $4::timestamptz)`,
    task_id: `e.task_id || '~i' || g.k`,
    attempt_id: `e.attempt_id || '~i' || g.k`,
    learned_from: `(SELECT jsonb_agg(x || '~i' || g.k) FROM jsonb_array_elements_text(e.learned_from) AS x)`,
  };
  const select = columns.map((c) => expr[c] ?? `e.${c}`).join(', ');
  let stored = await inPrev();
  // Copies an earlier run made (to a smaller count) took suffixes 1.. up to this one's first.
  let nextCopy = Math.floor(stored / originals) + 1;
  while (stored < target) {
    const n = Math.min(COPY_ROWS, target - stored);
    const copies = Math.ceil(n / originals);
    const res = await db.query(
      `WITH copied AS (
         INSERT INTO events (${columns.join(', ')})
         SELECT ${select}
           FROM generate_series($3::int, $6::int) AS g(k)
          CROSS JOIN (SELECT * FROM events WHERE account_id = $1 AND strpos(event_id, '~') = 0 ORDER BY event_id LIMIT ${originals}) e
          LIMIT $2
         ON CONFLICT DO NOTHING
         RETURNING account_id, event_id, ts, content_hash)
       INSERT INTO event_keys (account_id, event_id, ts, content_hash) SELECT * FROM copied ON CONFLICT DO NOTHING`,
      [account, n, nextCopy, prev, monthStart, nextCopy + copies - 1],
    );
    nextCopy += copies;
    stored += res.rowCount ?? 0;
    if ((res.rowCount ?? 0) === 0) throw new Error('invoices: a copy step inserted nothing');
    log(`  invoices: ${stored.toLocaleString('en')} / ${target.toLocaleString('en')} events in ${p.from}`);
  }
  if ((await inPrev()) !== stored) throw new Error('invoices: the month holds another count than the copies made');
  log(`  invoices: recomputing ${p.from}'s rollups with SQL over 8 shards`);
  await recomputeRollups(db, account, { from: prev, to: monthStart });
  for (const table of ['events', 'event_keys', 'meter_daily_models']) await db.query(`VACUUM (ANALYZE) ${table}`);
  const fillMs = performance.now() - fillStarted;
  await api.json('PUT', `/v1/accounts/${account}/subscription`, keys.admin, { plan_id: 'bench', start_date: prev.toISOString().slice(0, 10), billing_anchor_day: 1 });

  const rssBefore = rssMiB(pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    const now = rssMiB(pid);
    if (now !== null && (rssPeak === null || now > rssPeak)) rssPeak = now;
  }, 20);
  const started = performance.now();
  const close = await api.request('POST', `/v1/accounts/${account}/invoices/close`, { key: keys.finance, body: Buffer.from(JSON.stringify({ finalize: true })) });
  const closeMs = performance.now() - started;
  clearInterval(sampler);
  const body = close.status === 201 ? (JSON.parse(close.body.toString('utf8')) as { id: string; total: string; lines: unknown[] }) : null;
  if (body === null) log(`  invoices: close answered ${close.status}: ${close.body.toString('utf8').slice(0, 300)}`);
  const counts = body
    ? (
        await db.query<{ lines: string; usage: string }>(
          `SELECT (SELECT count(*) FROM invoice_lines WHERE invoice_id = $1)::text AS lines, (SELECT count(*) FROM invoice_usage WHERE invoice_id = $1)::text AS usage`,
          [body.id],
        )
      ).rows[0]!
    : { lines: '0', usage: '0' };
  const preview = await measureReading(api, 'invoices/upcoming', `/v1/accounts/${account}/invoices/upcoming`, keys.finance, previewRequests, previewBudgetMs);
  return {
    events: stored,
    fillMs,
    closeMs,
    closeStatus: close.status,
    rssBeforeMiB: rssBefore,
    rssPeakMiB: rssPeak,
    lines: Number(counts.lines),
    usageRows: Number(counts.usage),
    total: body?.total ?? null,
    preview,
  };
}
