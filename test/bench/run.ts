// `npm run bench`: ingest throughput and latency end to end against the configured PostgreSQL (and Redis),
// the bare-insert ceiling of the same rows in the same run, and meter readings over a month of events.
// See BENCHMARKS.md for the figures and how to read them.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ROLLUP_NAMES } from '../../metering/ingest/rollup-sql.js';
import { endOfHour } from '../../metering/readings/reading-query.js';
import { describeWal } from './wal.js';
import { BUDGETS_HOLDS, runBudgets, type BudgetsHolds, type BudgetsOutcome } from './ingest-budgets.js';
import { AUTHORIZE_STORES, ROUTE_TITLES, runAuthorize, type AuthorizeRun, type AuthorizeStore } from './authorize.js';
import { addCpu, cpuBetween, cpuSnapshot, describeCpu, type CpuUse } from './cpu.js';
import {
  CEILING_KINDS,
  CEILING_TITLES,
  Ceiling,
  ceilingColumns,
  parseCeilingKinds,
  prepareCeilingBatches,
  tableColumns,
  type CeilingKind,
  type CeilingResult,
  type Column,
} from './ceiling.js';
import { groupCounters, groupReport, type GroupCounters, type GroupReport } from './groups.js';
import { HttpClient } from './http.js';
import { RawClient } from './raw-http.js';
import { addIngest, runIngest, type IngestBatch, type IngestResult } from './ingest-load.js';
import { runInvoices, type InvoicesRun } from './invoices.js';
import { checkRollups, measureReading, ROLLUP_MODES, type ReadingClient, rollupWrites, topUp, type ReadingResult, type RollupCheck, type RollupMode, type TopUp } from './readings.js';
import { readmeReadings } from './readme-readings.js';
import { runReport, type ReportRun } from './report.js';
import { createDatabase, databaseUrl, dropDatabase, newKeys, runRebuild, Service, setUp } from './service.js';
import { ratePerSecond, round, Samples, type Summary } from './stats.js';
import { sampleWaits } from './waits.js';
import { agentOf, batchBody, batchEvents, eventRow, makeOrg, type Workload } from './workload.js';

interface Options {
  databaseUrl: string;
  redisUrl: string | null;
  events: number;
  batchSize: number;
  concurrency: number;
  warmupBatches: number;
  ceilingEvents: number;
  /** Which ceilings run (BENCH_CEILINGS): the issue's bare insert and the database work ingest cannot skip. */
  ceilings: CeilingKind[];
  /** Stored events to measure readings at (BENCH_STORED, a comma list): the first is the report's, then each larger one. */
  stored: number[];
  readings: number;
  readingSeconds: number;
  /** The ceiling and the ingest load alternate in this many slices. */
  slices: number;
  phases: Set<string>;
  keep: boolean;
  /** BENCH_DATABASE: a database an earlier BENCH_KEEP=1 run left, read again instead of a new one (kept after). */
  reuse: string | null;
  report: string | null;
  /** Extra node flags for the service process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  serviceArgs: string[];
  /** BENCH_BUDGETS_HOLDS: the budgets phase's holds (see BudgetsOptions.holds). */
  budgetsHolds: BudgetsHolds;
  /** BENCH_STATEMENTS: where the budgets phase writes its top statements (see BudgetsOptions.statementsFile). */
  budgetsStatements: string | null;
  rollups: RollupMode;
  /** The authorize phase: seconds measured per caller count, and the engines it runs on. */
  authorizeSeconds: number;
  authorizeStores: AuthorizeStore[];
  /** The authorize phase's client (BENCH_AUTHORIZE_CLIENT: raw, the default, or node). */
  authorizeClient: 'raw' | 'node';
  /** The readings' client (BENCH_READINGS_CLIENT: raw, the default since 2 December 2026, or node). */
  readingsClient: 'raw' | 'node';
  /** The report phase: events in the JSON Lines file `tokenmeter report` sends (BENCH_REPORT_EVENTS). */
  reportEvents: number;
  /**
   * BENCH_NOW: the instant the workload takes as "now" (default: the real one). Events fall between its
   * month's start and it, and the readings ask for the range the meter's default period would be at that
   * instant (its month's start to the end of its hour), so a run early in a month still reads a full month.
   */
  pinnedNow: Date | null;
  /** BENCH_READINGS_MATCH: only the readings whose name this regular expression finds (A/B runs of a few). */
  readingsMatch: RegExp | null;
}

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`bench: ${name} must be a whole number, got "${raw}"`);
    process.exit(2);
  }
  return n;
}

function options(): Options {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error(
      'bench: DATABASE_URL is not set. The benchmark measures the service on a real PostgreSQL server (the embedded\n' +
        'store is a single connection); set DATABASE_URL (and REDIS_URL to include Redis), e.g.\n' +
        '  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 npm run bench',
    );
    process.exit(2);
  }
  const batchSize = positive('BENCH_BATCH', 50);
  const events = positive('BENCH_EVENTS', 2_000_000);
  const phases = new Set((process.env.BENCH_PHASES ?? 'ceiling,ingest,readings').split(',').map((s) => s.trim()));
  return {
    databaseUrl,
    redisUrl: process.env.REDIS_URL || null,
    events,
    batchSize: Math.min(1000, Math.max(1, batchSize)),
    concurrency: Math.max(1, positive('BENCH_CONCURRENCY', 8)),
    warmupBatches: positive('BENCH_WARMUP_BATCHES', 100),
    ceilingEvents: positive('BENCH_CEILING_EVENTS', events),
    ceilings: ceilingKinds(),
    stored: storedLevels(),
    readings: positive('BENCH_READINGS', 2000),
    readingSeconds: positive('BENCH_READING_SECONDS', 60),
    slices: positive('BENCH_SLICES', 4),
    phases,
    keep: process.env.BENCH_KEEP === '1' || Boolean(process.env.BENCH_DATABASE),
    reuse: process.env.BENCH_DATABASE || null,
    report: process.env.BENCH_REPORT || null,
    serviceArgs: (process.env.BENCH_SERVICE_ARGS ?? '').split(' ').filter(Boolean),
    budgetsHolds: budgetsHolds(),
    budgetsStatements: process.env.BENCH_STATEMENTS || null,
    rollups: rollupMode(),
    authorizeSeconds: Math.max(1, positive('BENCH_AUTHORIZE_SECONDS', 15)),
    authorizeStores: authorizeStores(process.env.REDIS_URL || null),
    authorizeClient: clientChoice('BENCH_AUTHORIZE_CLIENT'),
    readingsClient: clientChoice('BENCH_READINGS_CLIENT'),
    reportEvents: Math.max(1, positive('BENCH_REPORT_EVENTS', 1_000_000)),
    pinnedNow: pinnedNow(),
    readingsMatch: process.env.BENCH_READINGS_MATCH ? new RegExp(process.env.BENCH_READINGS_MATCH) : null,
  };
}

function clientChoice(name: string): 'raw' | 'node' {
  const raw = process.env[name] || 'raw';
  if (raw !== 'raw' && raw !== 'node') {
    console.error(`bench: ${name} is raw or node, got "${raw}"`);
    process.exit(2);
  }
  return raw;
}

function pinnedNow(): Date | null {
  const raw = process.env.BENCH_NOW;
  if (raw === undefined || raw === '') return null;
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z$/.test(raw) ? new Date(raw) : new Date(NaN);
  if (Number.isNaN(at.getTime()) || at.getTime() > Date.now()) {
    console.error(`bench: BENCH_NOW must be a past UTC instant such as 2026-11-30T14:30:00Z (events may not be in the future), got "${raw}"`);
    process.exit(2);
  }
  return at;
}

function authorizeStores(redisUrl: string | null): AuthorizeStore[] {
  const raw = process.env.BENCH_AUTHORIZE_STORES || (redisUrl ? 'redis,redis-unleased,redis-row,postgres,embedded' : 'postgres,embedded');
  const stores = raw.split(',').map((s) => s.trim());
  for (const s of stores) {
    if (!(AUTHORIZE_STORES as readonly string[]).includes(s)) {
      console.error(`bench: BENCH_AUTHORIZE_STORES lists ${AUTHORIZE_STORES.join(', ')}, got "${s}"`);
      process.exit(2);
    }
    if (s.startsWith('redis') && !redisUrl) {
      console.error('bench: BENCH_AUTHORIZE_STORES has redis but REDIS_URL is not set');
      process.exit(2);
    }
  }
  return stores as AuthorizeStore[];
}

function storedLevels(): number[] {
  const raw = process.env.BENCH_STORED || '5000000';
  const levels = raw.split(',').map((part) => Number(part.trim().replace(/_/g, '')));
  if (levels.some((n) => !Number.isSafeInteger(n) || n < 0) || levels.some((n, i) => i > 0 && n <= levels[i - 1]!)) {
    console.error(`bench: BENCH_STORED must be whole numbers, increasing, separated by commas, got "${raw}"`);
    process.exit(2);
  }
  return levels;
}

function ceilingKinds(): CeilingKind[] {
  try {
    return parseCeilingKinds(process.env.BENCH_CEILINGS || undefined);
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`);
    process.exit(2);
  }
}

/** How each BENCH_ROLLUPS mode recomputes the rollups, for the report. */
const ROLLUPS_DONE_BY: Readonly<Record<RollupMode, string>> = {
  rebuild: '`npm run rebuild bench`, which writes the closed hours and days folded, as the hourly job leaves them, and the open ones into shard 0',
  sql: 'SQL GROUP BY spread over the 8 shards concurrent ingest writes',
  compacted:
    'SQL GROUP BY spread over the 8 shards concurrent ingest writes, then the compaction\'s statements folding every hour and day closed at the workload\'s "now" into one row per key, as the hourly job leaves them',
};

function budgetsHolds(): BudgetsHolds {
  const raw = process.env.BENCH_BUDGETS_HOLDS || 'named';
  const holds = BUDGETS_HOLDS.find((h) => h === raw);
  if (holds === undefined) {
    console.error(`bench: BENCH_BUDGETS_HOLDS must be ${BUDGETS_HOLDS.join(', ')}, got "${raw}"`);
    process.exit(2);
  }
  return holds;
}

function rollupMode(): RollupMode {
  const raw = process.env.BENCH_ROLLUPS || 'rebuild';
  const mode = ROLLUP_MODES.find((m) => m === raw);
  if (mode === undefined) {
    console.error(`bench: BENCH_ROLLUPS must be ${ROLLUP_MODES.join(', ')}, got "${raw}"`);
    process.exit(2);
  }
  return mode;
}

const t0 = performance.now();
function log(line: string): void {
  const s = ((performance.now() - t0) / 1000).toFixed(1).padStart(7);
  console.log(`[${s}s] ${line}`);
}

const fmt = (n: number) => (Number.isFinite(n) ? round(n).toLocaleString('en') : 'n/a');
const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : `${round(n)} ms`);

interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  postgres: string;
  postgresSettings: Record<string, string>;
  redis: string | null;
  os: string;
  /** The code measured: `git rev-parse --short HEAD`, marked when tracked files differ from it. */
  commit: string;
}

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head} with uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

async function machine(opts: Options): Promise<Machine> {
  const client = new pg.Client({ connectionString: opts.databaseUrl });
  await client.connect();
  const settings: Record<string, string> = {};
  let postgres: string;
  try {
    postgres = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    for (const name of ['shared_buffers', 'synchronous_commit', 'wal_level', 'max_wal_size', 'max_connections', 'autovacuum']) {
      settings[name] = (await client.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name]!;
    }
  } finally {
    await client.end();
  }
  let redis: string | null = null;
  if (opts.redisUrl) {
    const r = new Redis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await r.connect();
      redis = /redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? 'unknown';
    } catch (error) {
      redis = `unreachable (${(error as Error).message})`;
    } finally {
      r.disconnect();
    }
  }
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    postgres,
    postgresSettings: settings,
    redis,
    os: `${os.type()} ${os.release()}`,
    commit: commit(),
  };
}

type CeilingOutcome = CeilingResult & { rate: number; cpu: CpuUse | null; written: Awaited<ReturnType<Ceiling['written']>> };

/** The issue's ceiling (the bare insert), when it ran. */
function bareCeiling(o: Outcome): CeilingOutcome | null {
  return o.ceilings.find((c) => c.kind === 'insert') ?? null;
}

interface Outcome {
  date: string;
  command: string;
  machine: Machine;
  options: Omit<Options, 'budgetsStatements' | 'databaseUrl' | 'redisUrl' | 'phases' | 'report' | 'serviceArgs' | 'reuse' | 'pinnedNow' | 'readingsMatch'> & { redis: boolean; phases: string[]; now: string | null };
  /** The ceilings that ran, in CEILING_KINDS order. */
  ceilings: CeilingOutcome[];
  warmup: IngestResult | null;
  ingest: (IngestResult & { rate: number; cpu: CpuUse | null; waits: Record<string, number>; groups: GroupReport | null }) | null;
  rollups: RollupCheck | null;
  /** Rows written into each rollup per ingested event (warm-up included). */
  rollupWrites: Record<string, number> | null;
  topUp: TopUp | null;
  readings: ReadingResult[];
  authorize: AuthorizeRun[];
  /** BENCH_PHASES=budgets: ingest with budgets on every path and reservations on half the events, against plain. */
  budgets: BudgetsOutcome | null;
  report: ReportRun | null;
  /** The same readings again at each further BENCH_STORED level. */
  more: { topUp: TopUp; readings: ReadingResult[] }[];
  /** The invoices phase: closing a period of BENCH_STORED's first level of events, and the preview. */
  invoices: InvoicesRun | null;
}

async function main(): Promise<void> {
  const opts = options();
  const run = Date.now().toString(36);
  const dbName = opts.reuse ?? `tokenmeter_bench_${run}`;
  const now = opts.pinnedNow?.getTime() ?? Date.now();
  const monthStart = new Date(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1));
  const org = makeOrg('bench');
  const w: Workload = { run, org, batchSize: opts.batchSize, from: monthStart.getTime(), to: now };
  const measuredBatches = Math.ceil(opts.events / opts.batchSize);
  const ceilingBatches = Math.ceil(opts.ceilingEvents / opts.batchSize);
  const first = opts.warmupBatches; // batches [0, warmup) warm the service up; the measured ones follow.

  const info = await machine(opts);
  log(`machine: ${info.cpus} CPUs (${info.cpuModel}), ${info.memoryGiB} GiB, Node ${info.node}, PostgreSQL ${info.postgres}, Redis ${info.redis ?? 'not configured'}`);
  log(`database ${dbName}; ${measuredBatches * opts.batchSize} events in batches of ${opts.batchSize} over ${opts.concurrency} connections`);
  const dbUrl = opts.reuse ? databaseUrl(opts.databaseUrl, dbName) : await createDatabase(opts.databaseUrl, dbName);
  let service: Service | null = null;
  let api: HttpClient | null = null;
  const outcome: Outcome = {
    date: new Date().toISOString(),
    command: commandLine(opts),
    machine: info,
    options: {
      events: measuredBatches * opts.batchSize,
      batchSize: opts.batchSize,
      concurrency: opts.concurrency,
      warmupBatches: opts.warmupBatches,
      ceilingEvents: ceilingBatches * opts.batchSize,
      ceilings: opts.ceilings,
      stored: opts.stored,
      readings: opts.readings,
      readingSeconds: opts.readingSeconds,
      slices: opts.slices,
      keep: opts.keep,
      rollups: opts.rollups,
      budgetsHolds: opts.budgetsHolds,
      authorizeSeconds: opts.authorizeSeconds,
      authorizeStores: opts.authorizeStores,
      authorizeClient: opts.authorizeClient,
      readingsClient: opts.readingsClient,
      reportEvents: opts.reportEvents,
      redis: opts.redisUrl !== null,
      phases: [...opts.phases],
      now: opts.pinnedNow?.toISOString() ?? null,
    },
    ceilings: [],
    warmup: null,
    ingest: null,
    rollups: null,
    rollupWrites: null,
    topUp: null,
    readings: [],
    authorize: [],
    budgets: null,
    report: null,
    more: [],
    invoices: null,
  };
  let failed = false;
  try {
    service = await Service.start({ databaseUrl: dbUrl, redisUrl: opts.redisUrl, queuePrefix: `{tmbench_${run}}`, nodeArgs: opts.serviceArgs });
    api = new HttpClient(service.url, opts.concurrency);
    log(`service up at ${service.url.origin} (pid ${service.child.pid})`);
    const keys = opts.reuse ? await newKeys(api, service.adminKey, org) : await setUp(api, service.adminKey, org, monthStart);
    log(`${opts.reuse ? 'reused (new keys only)' : 'set up'}: 3 models, a price book, plan "bench", account "${org.account}", ${org.people.length} people, ${org.agents.length} agent keys`);

    const db = new pg.Pool({ connectionString: dbUrl, max: 2, idleTimeoutMillis: 0 });
    try {
      // The ceiling and the ingest load run in alternating slices (ceiling 1, ingest 1, ceiling 2, ...), each
      // slice after a CHECKPOINT, so both see the machine in the same state: on a shared host its speed
      // drifts by a fifth within half an hour, which a ceiling measured only before the load would skew.
      const ceilingOn = opts.phases.has('ceiling');
      const ingestOn = opts.phases.has('ingest');
      const slices = opts.slices;
      const sliceOf = (n: number, k: number) => [first + Math.floor((n * k) / slices), first + Math.floor((n * (k + 1)) / slices)] as const;
      const pid = service.child.pid;
      const receivedAt = new Date();
      const ceilings: Ceiling[] = [];
      const ceilingErrors: string[] = [];
      let loadDone = false;
      let ceilingColumnsUsed: Column[] = [];
      const ceilingCpu = new Map<CeilingKind, CpuUse | null>();
      let ingest: IngestResult | null = null;
      let ingestCpu: CpuUse | null = null;
      const ingestSamples = new Samples(measuredBatches);
      let countersBefore: GroupCounters | null = null;
      let sampler: ReturnType<typeof sampleWaits> | null = null;
      const bodiesOf = (from: number, to: number): IngestBatch[] => {
        const out: IngestBatch[] = [];
        for (let b = from; b < to; b++) {
          const events = batchEvents(w, b);
          out.push({ body: batchBody(events), key: keys.agents[org.agents.indexOf(agentOf(w, b))]!, events: events.length });
        }
        return out;
      };
      try {
        if (ceilingOn) {
          const generated = new Set(Object.keys(eventRow(w, batchEvents(w, 0)[0]!, 0, new Date(), 0)));
          ceilingColumnsUsed = ceilingColumns(await tableColumns(db, 'events'), generated);
          for (const kind of opts.ceilings) ceilings.push(await Ceiling.open(dbUrl, kind, w, ceilingColumnsUsed, opts.concurrency));
          log(`ceiling: bare INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING into a copy of events (${ceilingColumnsUsed.length} columns), ${ceilingBatches.toLocaleString('en')} batches; ceilings run: ${opts.ceilings.map((k) => CEILING_TITLES[k]).join(', ')}`);
        }
        if (ingestOn) {
          const sample = bodiesOf(first, first + Math.min(measuredBatches, 200));
          log(`ingest: POST /v1/events, ${(measuredBatches * opts.batchSize).toLocaleString('en')} events, ${fmt(sample.reduce((n, b) => n + b.body.length, 0) / sample.length / opts.batchSize)} bytes of JSON per event`);
          if (first > 0) {
            outcome.warmup = await runIngest(api, bodiesOf(0, first), opts.concurrency, () => undefined);
            log(`warm-up: ${first} batches, ${fmt(ratePerSecond(outcome.warmup.events, outcome.warmup.ms))} events/s`);
          }
          countersBefore = await groupCounters(api);
          sampler = sampleWaits(opts.databaseUrl, dbName, 100, true);
        }
        for (let k = 0; k < slices; k++) {
          const tag = slices > 1 ? ` (slice ${k + 1}/${slices})` : '';
          if (ceilings.length > 0) {
            const [from, to] = sliceOf(ceilingBatches, k);
            const prepared = prepareCeilingBatches(w, from, to, ceilingColumnsUsed, receivedAt);
            for (const ceiling of ceilings) {
              await db.query('CHECKPOINT');
              const start = cpuSnapshot(pid);
              await ceiling.run(prepared, (done, t) => log(`  ceiling ${ceiling.kind}${tag} ${done.toLocaleString('en')} rows, ${fmt(ratePerSecond(done, t))} rows/s`));
              ceilingCpu.set(ceiling.kind, addCpu(ceilingCpu.get(ceiling.kind) ?? null, cpuBetween(start, cpuSnapshot(pid))));
            }
          }
          if (ingestOn) {
            const [from, to] = sliceOf(measuredBatches, k);
            const bodies = bodiesOf(from, to);
            await db.query('CHECKPOINT');
            const start = cpuSnapshot(pid);
            sampler!.resume();
            const result = await runIngest(api, bodies, opts.concurrency, (done, t) =>
              log(`  ingest${tag} ${done.toLocaleString('en')} events, ${fmt(ratePerSecond(done, t))} events/s`), ingestSamples);
            sampler!.pause();
            ingestCpu = addCpu(ingestCpu, cpuBetween(start, cpuSnapshot(pid)));
            ingest = addIngest(ingest, result);
            log(`  ingest${tag}: ${fmt(ratePerSecond(result.statuses.accepted ?? 0, result.ms))} events/s` +
              ceilings.map((c) => `; ${c.kind} so far ${fmt(ratePerSecond(c.result().events, c.result().ms))} rows/s`).join(''));
            if (!service.alive) throw new Error('the service died during the load');
          }
        }
        loadDone = true;
      } finally {
        const waits = sampler ? await sampler.stop() : {};
        for (const ceiling of ceilings) {
          const result = ceiling.result();
          const written = await ceiling.written();
          // Every row is new to its copy: anything else means the statement did not do the work it is timed for.
          const expected = result.batches > 0 ? result.events : 0;
          const short = [written.events, written.keys, written.hourlyCalls, written.dailyCalls].some((n) => n !== null && n !== expected);
          if (short && loadDone) ceilingErrors.push(`ceiling ${ceiling.kind} wrote ${JSON.stringify(written)} for ${expected} rows`);
          await ceiling.close();
          if (result.batches > 0) {
            const cpu = ceilingCpu.get(ceiling.kind) ?? null;
            outcome.ceilings.push({ ...result, rate: ratePerSecond(result.events, result.ms), cpu, written });
            log(`ceiling ${ceiling.kind}: ${fmt(ratePerSecond(result.events, result.ms))} rows/s, p50 ${ms(result.latency.p50)}, p99 ${ms(result.latency.p99)} per ${opts.batchSize}-row statement; wrote ${JSON.stringify(written)}; CPU: ${describeCpu(cpu)}`);
          }
        }
        if (ingest) {
          const groups = countersBefore ? groupReport(countersBefore, await groupCounters(api)) : null;
          outcome.ingest = { ...ingest, rate: ratePerSecond(ingest.statuses.accepted ?? 0, ingest.ms), cpu: ingestCpu, waits, groups };
          log(`ingest: ${fmt(outcome.ingest.rate)} events/s, p50 ${ms(ingest.latency.p50)}, p99 ${ms(ingest.latency.p99)}, statuses ${JSON.stringify(ingest.statuses)}`);
          log(`ingest CPU: ${describeCpu(ingestCpu)}`);
          log(`ingest database connections (average per sample): ${JSON.stringify(waits)}`);
          if (groups) log(`ingest writes: ${describeGroups(groups)}`);
          for (const p of ingest.problems) log(`  problem: ${p}`);
        }
      }
      if (ceilingErrors.length > 0) throw new Error(ceilingErrors.join('; '));
      if (ingestOn) {
        outcome.rollups = await checkRollups(db, org.account);
        log(`rollups ${outcome.rollups.consistent ? 'match' : 'DO NOT match'} the raw events: ${JSON.stringify(outcome.rollups.events)}`);
        outcome.rollupWrites = await rollupWrites(db);
        log(`rollup rows written per ingested event: ${describeRollupWrites(outcome.rollupWrites)}`);
      }

      if (opts.phases.has('readings')) {
        const rollups = { mode: opts.rollups, rebuild: () => runRebuild(dbUrl, org.account) };
        const base = `/v1/accounts/${org.account}`;
        const light = Math.max(1, Math.floor(opts.readings / 4));
        // With BENCH_NOW, the current period as the meter's default would read it at that instant.
        const period = opts.pinnedNow === null ? '' : `from=${monthStart.toISOString()}&to=${endOfHour(opts.pinnedNow).toISOString()}`;
        const meter = (groupBy: string) => {
          const query = [groupBy, period].filter(Boolean).join('&');
          return `${base}/meter${query ? `?${query}` : ''}`;
        };
        // The totals, then every reading the README shows as fast (its "Readings" table), a member's own.
        const allRoutes: [string, string, number, string][] = [
          ['meter (current period)', meter(''), opts.readings, keys.finance],
          ...readmeReadings().map((dims): [string, string, number, string] => [`meter group_by=${dims.join(',')}`, meter(`group_by=${dims.join(',')}`), light, keys.finance]),
          ['meter as a member (own and unit)', meter(''), light, keys.member],
          ['events limit=100', `${base}/events?limit=100`, light, keys.finance],
        ];
        const routes = allRoutes.filter(([name]) => opts.readingsMatch === null || opts.readingsMatch.test(name));
        for (const [level, stored] of opts.stored.entries()) {
          log(`readings: topping stored events up to ${stored.toLocaleString('en')}`);
          const done = await topUp(db, org.account, stored, monthStart, new Date(opts.pinnedNow === null ? Math.min(Date.now(), now + 60_000) : now), rollups, (l) => log(`  ${l}`), opts.reuse !== null && !ingestOn);
          const readings: ReadingResult[] = [];
          // One request at a time: the lean client (one socket, the answer read by its Content-Length) measures
          // the service rather than Node's http.Agent, whose parsing of a 170 KB answer added ~6-8 ms to the
          // tail of the hourly reading (BENCHMARKS.md, stop 22), as it did to authorizations (stop 18).
          const raw = opts.readingsClient === 'raw' ? new RawClient(service.url) : null;
          const node = api;
          const reader: ReadingClient = raw ?? { request: (method, path, { key }) => node.request(method, path, { key }) };
          for (const [name, path, n, key] of routes) {
            const r = await measureReading(reader, name, path, key, n, opts.readingSeconds * 1000);
            readings.push(r);
            log(`reading ${name} (${done.after.toLocaleString('en')} stored): ${r.latency ? `p50 ${ms(r.latency.p50)}, p99 ${ms(r.latency.p99)}, max ${ms(r.latency.max)} over ${r.requests}` : (r.note ?? '')}`);
          }
          raw?.close();
          if (level === 0) {
            outcome.topUp = done;
            outcome.readings = readings;
          } else {
            outcome.more.push({ topUp: done, readings });
          }
        }
      }

      if (opts.phases.has('budgets')) {
        outcome.budgets = await runBudgets(
          {
            databaseUrl: opts.databaseUrl,
            redisUrl: opts.redisUrl,
            run,
            events: opts.events,
            batchSize: opts.batchSize,
            concurrency: opts.concurrency,
            slices: opts.slices,
            warmupBatches: opts.warmupBatches,
            serviceArgs: opts.serviceArgs,
            holds: opts.budgetsHolds,
            statementsFile: opts.budgetsStatements,
          },
          log,
        );
      }

      if (opts.phases.has('report')) {
        outcome.report = await runReport({ url: service.url.origin, agentKey: keys.agents[0]!, w, events: opts.reportEvents }, log);
        const r = outcome.report;
        log(`report: ${fmt(r.rate)} events/s (${r.accepted.toLocaleString('en')} accepted in ${fmt(r.seconds)} s, ${fmt(r.wallSeconds)} s with the CLI's start), CLI CPU ${fmt(r.cpuSeconds)} s, peak RSS ${r.peakRssMiB === null ? 'n/a' : `${fmt(r.peakRssMiB)} MiB`}`);
      }

      if (opts.phases.has('invoices')) {
        if (!ingestOn) {
          const n = Math.min(measuredBatches, 100);
          log(`invoices: ingesting ${n} batches to copy from`);
          await runIngest(api, bodiesOf(0, n), opts.concurrency, () => undefined);
        }
        const stored = opts.stored[0]!;
        log(`invoices: a period of ${stored.toLocaleString('en')} events, closed by POST .../invoices/close`);
        const inv = await runInvoices(db, api, { admin: service.adminKey, finance: keys.finance }, org.account, stored, service.child.pid!, monthStart, opts.readings, opts.readingSeconds * 1000, log);
        outcome.invoices = inv;
        log(
          `invoices: close of ${inv.events.toLocaleString('en')} events: HTTP ${inv.closeStatus} in ${ms(inv.closeMs)}, service RSS ${inv.rssBeforeMiB ?? 'n/a'} MiB before, ` +
            `${inv.rssPeakMiB ?? 'n/a'} MiB peak; wrote ${inv.lines} lines and ${inv.usageRows} usage rows; total ${inv.total ?? 'n/a'}`,
        );
        log(`invoices: preview ${inv.preview.latency ? `p50 ${ms(inv.preview.latency.p50)}, p99 ${ms(inv.preview.latency.p99)}, max ${ms(inv.preview.latency.max)} over ${inv.preview.requests}` : (inv.preview.note ?? '')}`);
      }

      if (opts.phases.has('authorize')) {
        outcome.authorize = await runAuthorize(
          {
            databaseUrl: opts.databaseUrl,
            redisUrl: opts.redisUrl,
            run,
            stores: opts.authorizeStores,
            callers: [1, 10, 50],
            seconds: opts.authorizeSeconds,
            warmupSeconds: 3,
            serviceArgs: opts.serviceArgs,
            client: opts.authorizeClient,
          },
          log,
        );
      }
    } finally {
      await db.end();
    }
  } catch (error) {
    failed = true;
    console.error(`bench: ${(error as Error).stack ?? error}`);
  } finally {
    api?.close();
    await service?.stop();
    if (opts.keep) log(`kept database ${dbName} (BENCH_KEEP=1)`);
    else await dropDatabase(opts.databaseUrl, dbName).catch((e: unknown) => console.error(`bench: could not drop ${dbName}: ${(e as Error).message}`));
  }

  console.log('');
  console.log(table(outcome));
  console.log('');
  console.log(`BENCH_RESULT ${JSON.stringify(summaryJson(outcome))}`);
  if (opts.report) {
    writeFileSync(opts.report, markdown(outcome));
    log(`wrote ${opts.report}`);
  }
  const misses = verdicts(outcome).filter((v) => v.ok === false);
  if (failed) process.exit(1);
  if (outcome.ingest && (outcome.ingest.statuses.accepted ?? 0) !== outcome.ingest.events) process.exit(1);
  if (misses.length > 0) process.exitCode = 3;
}

function commandLine(o: Options): string {
  const env: string[] = [];
  if (o.events !== 2_000_000) env.push(`BENCH_EVENTS=${o.events}`);
  if (o.concurrency !== 8) env.push(`BENCH_CONCURRENCY=${o.concurrency}`);
  if (o.batchSize !== 50) env.push(`BENCH_BATCH=${o.batchSize}`);
  if (o.ceilingEvents !== o.events) env.push(`BENCH_CEILING_EVENTS=${o.ceilingEvents}`);
  if (o.ceilings.join(',') !== CEILING_KINDS.join(',')) env.push(`BENCH_CEILINGS=${o.ceilings.join(',')}`);
  if (o.stored.join(',') !== '5000000') env.push(`BENCH_STORED=${o.stored.join(',')}`);
  if (o.readings !== 2000) env.push(`BENCH_READINGS=${o.readings}`);
  if (o.readingSeconds !== 60) env.push(`BENCH_READING_SECONDS=${o.readingSeconds}`);
  if (o.slices !== 4) env.push(`BENCH_SLICES=${o.slices}`);
  if (o.rollups !== 'rebuild') env.push(`BENCH_ROLLUPS=${o.rollups}`);
  if (o.budgetsHolds !== 'named') env.push(`BENCH_BUDGETS_HOLDS=${o.budgetsHolds}`);
  if (o.phases.has('authorize') && o.authorizeSeconds !== 15) env.push(`BENCH_AUTHORIZE_SECONDS=${o.authorizeSeconds}`);
  if (process.env.BENCH_AUTHORIZE_STORES) env.push(`BENCH_AUTHORIZE_STORES=${o.authorizeStores.join(',')}`);
  if (o.phases.has('authorize') && o.authorizeClient !== 'raw') env.push(`BENCH_AUTHORIZE_CLIENT=${o.authorizeClient}`);
  if (o.phases.has('readings') && o.readingsClient !== 'raw') env.push(`BENCH_READINGS_CLIENT=${o.readingsClient}`);
  if (o.phases.has('report') && o.reportEvents !== 1_000_000) env.push(`BENCH_REPORT_EVENTS=${o.reportEvents}`);
  if (process.env.BENCH_PHASES) env.push(`BENCH_PHASES=${[...o.phases].join(',')}`);
  if (o.pinnedNow) env.push(`BENCH_NOW=${o.pinnedNow.toISOString()}`);
  if (o.readingsMatch) env.push(`BENCH_READINGS_MATCH='${o.readingsMatch.source}'`);
  for (const [name, value] of Object.entries(process.env)) if (name.startsWith('TOKENMETER_')) env.push(`${name}=${value}`);
  const db = new URL(o.databaseUrl);
  db.password = db.password ? '***' : '';
  const redis = o.redisUrl ? ` REDIS_URL=${redactUrl(o.redisUrl)}` : '';
  return `DATABASE_URL=${db.toString()}${redis} ${env.join(' ')}${env.length ? ' ' : ''}npm run bench`;
}

function redactUrl(raw: string): string {
  const u = new URL(raw);
  if (u.password) u.password = '***';
  return u.toString();
}

interface Verdict {
  what: string;
  target: string;
  measured: string;
  ok: boolean | null;
}

function verdicts(o: Outcome): Verdict[] {
  const out: Verdict[] = [];
  if (o.invoices) {
    const inv = o.invoices;
    out.push({ what: `invoice close of ${inv.events.toLocaleString('en')} events`, target: '< 10 s', measured: ms(inv.closeMs), ok: inv.closeStatus === 201 && inv.closeMs < 10_000 });
    out.push({ what: 'invoice preview p99', target: '< 50 ms', measured: ms(inv.preview.latency?.p99), ok: inv.preview.latency ? inv.preview.latency.p99 < 50 : false });
  }
  if (o.ingest) {
    const rate = o.ingest.rate;
    out.push({ what: 'ingest events/s', target: '>= 50,000', measured: fmt(rate), ok: rate >= 50_000 });
    const ceiling = bareCeiling(o);
    if (ceiling) {
      out.push({ what: 'ingest / bare-insert ceiling', target: '>= 50%', measured: `${fmt((100 * rate) / ceiling.rate)}%`, ok: rate >= ceiling.rate / 2 });
    }
    out.push({ what: 'ingest p99 per 50-event request', target: '< 50 ms', measured: ms(o.ingest.latency.p99), ok: o.ingest.latency.p99 < 50 });
    const accepted = o.ingest.statuses.accepted ?? 0;
    out.push({ what: 'events accepted', target: 'all', measured: `${accepted.toLocaleString('en')} / ${o.ingest.events.toLocaleString('en')}`, ok: accepted === o.ingest.events });
  }
  if (o.report) {
    out.push({ what: 'tokenmeter report events/s', target: '>= 10,000', measured: fmt(o.report.rate), ok: o.report.rate >= 10_000 });
    out.push({ what: 'report events accepted', target: 'all', measured: `${o.report.accepted.toLocaleString('en')} / ${o.report.events.toLocaleString('en')}`, ok: o.report.accepted === o.report.events });
  }
  if (o.rollups) out.push({ what: 'rollups = raw events', target: 'equal', measured: o.rollups.consistent ? 'equal' : 'differ', ok: o.rollups.consistent });
  if (o.budgets) {
    const b = o.budgets;
    // Another BENCH_BUDGETS_HOLDS than `named` splits the cost; it is not the target's workload, so it cannot meet it.
    const what = b.holds === 'named' ? 'ingest with budgets / without (same run)' : `ingest with budgets / without (same run; holds ${b.holds}, not the target's workload)`;
    out.push({ what, target: '>= 90%', measured: `${fmt(100 * b.ratio)}%`, ok: b.holds === 'named' && b.ratio >= 0.9 });
  }
  for (const a of o.authorize.filter((r) => r.store === 'redis' && r.route === 'authorize')) {
    // Beside each target, what the floors did with the same client and callers: GET /health/live (the floor of any
    // route of the service here), then the same request to bare Fastify and bare node:http (the machine's own).
    const floors = (['floor', 'bare-fastify', 'bare-node'] as const)
      .map((route) => o.authorize.find((f) => f.route === route && f.callers === a.callers))
      .filter((f) => f !== undefined);
    const label = { floor: 'floor', 'bare-fastify': 'bare Fastify', 'bare-node': 'bare node:http', authorize: '' } as const;
    const beside = (figure: string) =>
      floors.length === 0
        ? figure
        : `${figure} (${floors.map((f) => `${label[f.route]} ${figure.endsWith('ms') ? ms(f.latency.p99) : fmt(f.rate)}`).join(', ')})`;
    if (a.callers === 50) {
      out.push({ what: 'authorize/s, 50 callers (Redis)', target: '>= 20,000', measured: beside(fmt(a.rate)), ok: a.rate >= 20_000 });
      out.push({ what: 'authorize p99, 50 callers (Redis)', target: '< 5 ms', measured: beside(ms(a.latency.p99)), ok: a.latency.p99 < 5 });
    } else {
      out.push({ what: `authorize p99, ${a.callers} caller${a.callers === 1 ? '' : 's'} (Redis)`, target: '< 2 ms', measured: beside(ms(a.latency.p99)), ok: a.latency.p99 < 2 });
    }
  }
  // Every meter reading timed (the totals, each reading the README shows, a member's): the slowest one's p99.
  const meters = o.readings.filter((r) => r.name.startsWith('meter'));
  if (meters.length > 0) {
    const failed = meters.find((r) => r.latency === null);
    const slowest = meters.reduce((a, b) => ((b.latency?.p99 ?? Infinity) > (a.latency?.p99 ?? Infinity) ? b : a));
    const p99 = failed ? undefined : slowest.latency!.p99;
    const enough = (o.topUp?.after ?? 0) >= 5_000_000;
    out.push({
      what: `every meter reading p99 (${meters.length} readings, ${(o.topUp?.after ?? 0).toLocaleString('en')} events stored)`,
      target: '< 10 ms with 5M stored',
      measured: failed ? `${failed.name}: ${shortNote(failed)}` : `${ms(p99)} (slowest: ${slowest.name})`,
      ok: failed ? false : enough ? p99! < 10 : null,
    });
  }
  return out;
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
}

function grid(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [row(head, widths), row(widths.map((n) => '-'.repeat(n)), widths), ...rows.map((r) => row(r, widths))].join('\n');
}

function latencyCells(s: Summary | null | undefined): string[] {
  return s ? [ms(s.p50), ms(s.p99), ms(s.max)] : ['n/a', 'n/a', 'n/a'];
}

const HOLDS_TITLES: Record<BudgetsHolds, string> = { named: 'half reserved', unnamed: 'holds made, none named', none: 'no holds' };

function table(o: Outcome): string {
  const rows: string[][] = [];
  for (const c of o.ceilings) rows.push([CEILING_TITLES[c.kind], c.events.toLocaleString('en'), fmt(c.rate), ...latencyCells(c.latency)]);
  if (o.ingest) rows.push(['POST /v1/events', o.ingest.events.toLocaleString('en'), fmt(o.ingest.rate), ...latencyCells(o.ingest.latency)]);
  for (const r of o.readings) rows.push([`GET ${r.name}`, String(r.requests), r.latency ? fmt(ratePerSecond(r.requests, r.latency.mean * r.requests)) : shortNote(r), ...latencyCells(r.latency)]);
  if (o.budgets) {
    for (const side of ['plain', 'budgets'] as const) {
      const b = o.budgets[side];
      const title = side === 'plain' ? 'POST /v1/events, no budgets' : `POST /v1/events, ${o.budgets.levelsPerEvent} budget levels, ${HOLDS_TITLES[o.budgets.holds]}`;
      rows.push([title, b.events.toLocaleString('en'), fmt(b.rate), ...latencyCells(b.latency)]);
    }
  }
  for (const a of o.authorize) rows.push([`${ROUTE_TITLES[a.route]}, ${a.store}, ${a.callers} callers`, a.requests.toLocaleString('en'), fmt(a.rate), ...latencyCells(a.latency)]);
  if (o.report) rows.push(['tokenmeter report FILE (CLI)', o.report.events.toLocaleString('en'), fmt(o.report.rate), 'n/a', 'n/a', 'n/a']);
  const main = grid(['what', 'events / requests', 'per second', 'p50', 'p99', 'max'], rows);
  const growth = o.more.length === 0 ? '' : `\n\n${growthTable(o)}`;
  const checks = grid(['target', 'wanted', 'measured', 'met'], verdicts(o).map((v) => [v.what, v.target, v.measured, v.ok === null ? 'n/a' : v.ok ? 'yes' : 'NO']));
  return `${main}${growth}\n\n${checks}`;
}

/** Each reading's p50 / p99 at every stored-events level: how reading time grows with the data. */
function growthTable(o: Outcome): string {
  const levels = [{ topUp: o.topUp!, readings: o.readings }, ...o.more];
  const head = ['reading (p50 / p99)', ...levels.map((l) => `${l.topUp.after.toLocaleString('en')} stored`)];
  const rows = o.readings.map((r) => [
    `GET ${r.name}`,
    ...levels.map((l) => {
      const at = l.readings.find((x) => x.name === r.name)?.latency;
      return at ? `${ms(at.p50)} / ${ms(at.p99)}` : 'n/a';
    }),
  ]);
  return grid(head, rows);
}

function shortNote(r: ReadingResult): string {
  const status = Object.keys(r.statuses)[0] ?? '?';
  return status === '404' ? 'route missing (HTTP 404)' : `HTTP ${status}`;
}

function summaryJson(o: Outcome) {
  return {
    invoices: o.invoices && {
      events: o.invoices.events,
      close_ms: Math.round(o.invoices.closeMs),
      close_status: o.invoices.closeStatus,
      rss_before_mib: o.invoices.rssBeforeMiB,
      rss_peak_mib: o.invoices.rssPeakMiB,
      lines: o.invoices.lines,
      usage_rows: o.invoices.usageRows,
      preview_p50_ms: o.invoices.preview.latency && round(o.invoices.preview.latency.p50),
      preview_p99_ms: o.invoices.preview.latency && round(o.invoices.preview.latency.p99),
    },
    date: o.date,
    commit: o.machine.commit,
    machine: { cpus: o.machine.cpus, memory_gib: o.machine.memoryGiB, node: o.machine.node, postgres: o.machine.postgres, redis: o.machine.redis },
    options: o.options,
    ceilings: o.ceilings.map((c) => ({ kind: c.kind, rows: c.events, rows_per_s: Math.round(c.rate), ms: Math.round(c.ms), p50_ms: round(c.latency.p50), p99_ms: round(c.latency.p99), max_ms: round(c.latency.max), cpu: cpuJson(c.cpu) })),
    ingest: o.ingest && {
      events: o.ingest.events,
      requests: o.ingest.requests,
      events_per_s: Math.round(o.ingest.rate),
      ms: Math.round(o.ingest.ms),
      p50_ms: round(o.ingest.latency.p50),
      p99_ms: round(o.ingest.latency.p99),
      max_ms: round(o.ingest.latency.max),
      statuses: o.ingest.statuses,
      share_of_ceiling: bareCeiling(o) ? round(o.ingest.rate / bareCeiling(o)!.rate) : null,
      share_of: Object.fromEntries(o.ceilings.map((c) => [c.kind, round(o.ingest!.rate / c.rate)])),
      cpu: cpuJson(o.ingest.cpu),
      db_connections: o.ingest.waits,
      writes: o.ingest.groups && {
        ...o.ingest.groups,
        requests_per_write: round(o.ingest.groups.requests_per_write),
        events_per_write: round(o.ingest.groups.events_per_write),
      },
    },
    rollups_consistent: o.rollups?.consistent ?? null,
    rollup_rows_per_event: o.rollupWrites && Object.fromEntries(Object.entries(o.rollupWrites).map(([k, v]) => [k, round(v)])),
    stored_events: o.topUp?.after ?? null,
    more_stored: o.more.map((l) => ({
      stored_events: l.topUp.after,
      readings: l.readings.map((r) => ({ name: r.name, p50_ms: r.latency && round(r.latency.p50), p99_ms: r.latency && round(r.latency.p99), note: r.note })),
    })),
    readings: o.readings.map((r) => ({ name: r.name, requests: r.requests, p50_ms: r.latency && round(r.latency.p50), p99_ms: r.latency && round(r.latency.p99), max_ms: r.latency && round(r.latency.max), note: r.note })),
    authorize: o.authorize.map((a) => ({
      store: a.store,
      route: a.route,
      callers: a.callers,
      requests: a.requests,
      per_s: Math.round(a.rate),
      p50_ms: round(a.latency.p50),
      p99_ms: round(a.latency.p99),
      max_ms: round(a.latency.max),
      statuses: a.statuses,
      rows_per_write: a.rowsPerWrite && round(a.rowsPerWrite),
      holds_per_call: a.holdsPerCall && round(a.holdsPerCall),
      from_leases: a.leased === null ? null : round(a.leased),
      cpu: cpuJson(a.cpu),
    })),
    budgets: o.budgets && {
      ratio: round(o.budgets.ratio),
      levels_per_event: o.budgets.levelsPerEvent,
      reserved_events: o.budgets.reserved,
      committed: o.budgets.committed,
      ...Object.fromEntries((['plain', 'budgets'] as const).map((side) => {
        const b = o.budgets![side];
        return [side, { events: b.events, events_per_s: Math.round(b.rate), p50_ms: round(b.latency.p50), p99_ms: round(b.latency.p99), statuses: b.statuses, cpu: cpuJson(b.cpu), wal: b.wal }];
      })),
    },
    report: o.report && {
      events: o.report.events,
      file_mib: round(o.report.fileMiB),
      events_per_s: Math.round(o.report.rate),
      seconds: round(o.report.seconds),
      wall_seconds: round(o.report.wallSeconds),
      accepted: o.report.accepted,
      peak_rss_mib: o.report.peakRssMiB === null ? null : round(o.report.peakRssMiB),
      cli_cpu_seconds: round(o.report.cpuSeconds),
    },
    targets: verdicts(o).map((v) => ({ what: v.what, measured: v.measured, met: v.ok })),
  };
}

function describeRollupWrites(w: Record<string, number>): string {
  const total = Object.values(w).reduce((a, b) => a + b, 0);
  return `${Object.entries(w).map(([name, n]) => `${name} ${round(n)}`).join(', ')}; ${round(total)} in all`;
}

function describeGroups(g: GroupReport): string {
  const paths = Object.entries(g.paths).map(([p, v]) => `${v.writes.toLocaleString('en')} by ${p}, mean ${ms(v.mean_ms)}`);
  return `${g.writes.toLocaleString('en')} writes of ${fmt(g.requests_per_write)} requests and ${fmt(g.events_per_write)} events on average (${paths.join('; ')}; ${g.refused.toLocaleString('en')} writes refused by their guard)`;
}

function cpuJson(u: CpuUse | null) {
  if (!u) return null;
  const share = (s: number) => round(s / (u.wall * u.cpus));
  return { service: share(u.service), postgres: share(u.postgres), redis: share(u.redis), load_generator: share(u.bench) };
}

function markdown(o: Outcome): string {
  const m = o.machine;
  const settings = Object.entries(m.postgresSettings).map(([k, v]) => `${k}=${v}`).join(', ');
  return `# Benchmarks

\`npm run bench\` (test/bench/run.ts) measures ingest end to end against a real PostgreSQL and Redis: it
creates a fresh database \`tokenmeter_bench_<time>\` on the server of \`DATABASE_URL\`, starts the built
service as a child process on it, sets up a catalog, a price book, a plan, an account with 10 people and
15 agents through the public API, and then, in one run:

1. **Ceilings.** The same rows the load will send, as the service would store them, written by the
   database alone through \`pg\`, in statements of ${o.options.batchSize} rows over as many connections as the load
   uses, each statement prepared once per connection (as ingest's own write is). Each kind writes copies
   (\`LIKE ... INCLUDING ALL\`: same columns, indexes and monthly partitions) in a schema of its own:
   - **bare INSERT (ceiling)**, the issue's ceiling: \`INSERT INTO events SELECT * FROM unnest($1::text[], ...)
     ON CONFLICT DO NOTHING\`;
   - **+ id claimed in event_keys**: the same, but each id is first claimed for ever in \`event_keys\` and only
     claimed rows are inserted (idempotency on (account, id) by a unique key, which the monthly-partitioned
     \`events\` cannot carry itself);
   - **+ rollups**: also adds the rows to every rollup (${ROLLUP_NAMES.join(', ')}) with ingest's own SQL
     (metering/ingest/rollup-sql.ts), what keeps readings exact and fast at every moment.

   Ingest does all of the last kind and more (tasks, units at event time, the reading after each event),
   plus the service's parsing, validation, pricing and answer on the same CPUs, so the last kind is an upper
   bound for ingest on this machine. Each kind's copies are checked afterwards to hold every row (and every
   call in the rollups). The ceilings run in ${o.options.slices} slices that alternate with ${o.options.slices} slices of
   the ingest load (each ceiling's slice 1, ingest 1, each ceiling's slice 2, ...; a CHECKPOINT before each,
   untimed), so all are measured in the same state of the machine, whose speed drifts on a shared host.
   Each rate is its slices' rows over their summed time.
2. **Ingest.** \`POST /v1/events\` with ${o.options.batchSize} events per request and an agent key, over
   ${o.options.concurrency} keep-alive connections, closed loop (each connection sends its next request when the
   previous answer arrived), after ${o.options.warmupBatches} unmeasured warm-up requests. Each answer is
   validated, priced, classified, durable (committed) and carries each event's reading. Every result must
   be \`accepted\`. Request bodies are serialised before the clock starts.
3. **Readings.** The stored events are topped up to ${o.options.stored.map((n) => n.toLocaleString('en')).join(', then ')} with SQL (copies of
   the ingested rows with new ids and times in the current month, and their idempotency keys), the
   account's labels and rollups are recomputed from the raw events
   (${ROLLUPS_DONE_BY[o.options.rollups]}),
   \`VACUUM ANALYZE\`, then the meter routes are timed one request after another, after 20 unmeasured: the
   current period's totals (at most ${o.options.readings} requests or ${o.options.readingSeconds} s), then with at most ${Math.max(1, Math.floor(o.options.readings / 4))} each
   every reading the README's "Readings" table shows (read from README.md: every \`group_by\` dimension and
   the pairs listed there), with a finance key, a member's own reading, and the events listing; again at
   each further count of \`BENCH_STORED\`.

Events: ids \`b<run>-<n>\`, timestamps over the current month up to now, ~10% zero-token \`program\`
calls, the rest over \`api\`/\`cli\`/\`mcp\` with a base, a specialized and a premier model (some by a dated
alias), canonical usage with cached input and reasoning, ~20% in tasks of 2-5 attempts (some closing
with \`task_status: succeeded\`, some with \`learned_from\`).

With \`BENCH_PHASES\` holding \`authorize\`: \`POST /v1/authorizations\` (an amount, an agent key, its own external
session), closed loop at 1, 10 and 50 callers for \`BENCH_AUTHORIZE_SECONDS\` each after 3 s unmeasured, on each
engine in \`BENCH_AUTHORIZE_STORES\`, each on a database and service process of its own: Redis as configured by
default (\`redis\`: answered once Redis holds it, the row written behind; a busy path's holds answered from a budget
lease in memory), the same without leases (\`redis-unleased\`: every hold through Redis), Redis answering after the reservation
row is written (\`redis-row\`; \`redis-early\` forces the default's answer on an older build), PostgreSQL alone,
the embedded store.
Each hold goes against the agent's cap and its session's cap (the budgets phase measures budgets on ingest).
Before the first engine's authorizations, the same client and callers time three floors, printed beside each
authorize target: the authorize request's bytes to a bare \`node:http\` process and to a bare Fastify process that
parse the body and answer a fixed JSON (test/bench/bare-server.ts: what this machine allows any HTTP route in one
Node process), then \`GET /health/live\` on the service (no key, no store: the floor of any route of the service). The client
is one socket per caller writing its request's ready bytes and reading each answer by its Content-Length
(test/bench/raw-http.ts; \`BENCH_AUTHORIZE_CLIENT=node\` uses Node's http.Agent instead, as runs before
1 December 2026 did).

With \`BENCH_PHASES\` holding \`budgets\`: \`POST /v1/events\` for two accounts of the same org shape in one
service and one database (budgets set through PUT .../budgets/:node, the real module), in alternating slices of
\`BENCH_EVENTS\` each: one with no budget, one with a hard budget on every node of every path (each person,
unit and the account, month and year: 6 counter levels per event) and a reservation (made untimed before
its slice) on every other event, which that event commits. Target: with budgets at least 90% of without.
\`BENCH_BUDGETS_HOLDS\` splits the budgets side's cost: \`named\` (the default, the target's workload), \`unnamed\` (the same
holds made, no event names them) or \`none\` (no holds; the budgets still on every path). Each side's line also
says what PostgreSQL wrote to its WAL per event during its slices: bytes exactly, records and full-page images
as the backends report them (test/bench/wal.ts).

With \`BENCH_PHASES\` holding \`report\`: \`BENCH_REPORT_EVENTS\` events of the same workload for one agent
written as a JSON Lines file, then sent by the built CLI as a customer runs it, \`tokenmeter report FILE\`
(batches of 1000, 4 in flight), with that agent's key. The rate is the CLI's own (events answered per second
from its first request); peak memory is the CLI's VmHWM.

With \`BENCH_PHASES\` holding \`invoices\`: the account's ingested events are copied into the previous month
until it holds the first \`BENCH_STORED\` level, the rollups recomputed, the subscription moved to start then,
and that period closed by \`POST /v1/accounts/bench/invoices/close {"finalize": true}\` while the service's
resident memory is sampled every 20 ms; then \`GET .../invoices/upcoming\` is timed like a reading.

## Command

\`\`\`sh
${o.command}
\`\`\`

Knobs (environment): \`BENCH_EVENTS\` (default 2000000), \`BENCH_CONCURRENCY\` (8), \`BENCH_BATCH\` (50),
\`BENCH_CEILING_EVENTS\` (= BENCH_EVENTS, per ceiling), \`BENCH_CEILINGS\` (\`insert,keyed,rollups\`), \`BENCH_STORED\` (5000000; a comma list such as \`5000000,20000000\` times the readings again after each larger top-up), \`BENCH_READINGS\` (2000),
\`BENCH_WARMUP_BATCHES\` (100), \`BENCH_READING_SECONDS\` (60, per route), \`BENCH_SLICES\` (4), \`BENCH_ROLLUPS\` (\`rebuild\`,
\`sql\` or \`compacted\`), \`BENCH_PHASES\` (\`ceiling,ingest,readings\`; add \`authorize\` for POST /v1/authorizations, \`budgets\` for ingest with budgets, \`report\` for \`tokenmeter report\`, \`invoices\` for a period close and the invoice preview),
\`BENCH_AUTHORIZE_SECONDS\` (15, per engine and caller count), \`BENCH_REPORT_EVENTS\` (1000000, with \`report\` in \`BENCH_PHASES\`), \`BENCH_AUTHORIZE_STORES\` (\`redis,redis-unleased,redis-row,postgres,embedded\`), \`BENCH_AUTHORIZE_CLIENT\` (\`raw\` or \`node\`), \`BENCH_READINGS_CLIENT\` (\`raw\`, the default since stop 22, or \`node\`: the readings' client),
\`BENCH_KEEP=1\` keeps the database, \`BENCH_DATABASE\` (a database a \`BENCH_KEEP=1\` run left: its events and rollups read again, new keys only, no top-up or recompute when it already holds \`BENCH_STORED\`),
\`BENCH_NOW\` (a past UTC instant such as \`2026-11-30T14:30:00Z\`: the workload's "now"; events fall between its month's start and it, and each meter reading asks for \`from\` = that month's start, \`to\` = the end of its hour, the period the meter's default would read at that instant, so a run on the first days of a month still reads a full month; the service's own clock is not moved, so for it the range has ended and the plan also subtracts the empty rest of the last day from the hourly rollup; use the same value again with \`BENCH_DATABASE\`),
\`BENCH_READINGS_MATCH\` (a regular expression: only the readings whose name it finds, e.g. \`group_by=(hour|day,label)$\`; the every-reading target is then over those alone),
\`BENCH_SERVICE_ARGS\` (node flags for the service, e.g. \`--cpu-prof --cpu-prof-dir=/tmp/prof\`),
\`BENCH_STATEMENTS\` (a file: the budgets phase writes to it, as JSON, the 40 statements that took PostgreSQL the most time during its slices, from \`pg_stat_statements\`, which the server must preload),
any \`TOKENMETER_*\` setting (passed on to every service the bench starts, e.g. \`TOKENMETER_KEY_CACHE_MS=0\`),
\`BENCH_REPORT=BENCHMARKS.md\` rewrites this file from the run. Without \`DATABASE_URL\` it exits 2. The
last line of the output is \`BENCH_RESULT {json}\`; the exit code is 0 when every target is met, 3 when
one is missed, 1 on an error or an event not accepted.

## Machine

- ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB memory, ${m.os}
- Node ${m.node}; PostgreSQL ${m.postgres} (${settings}); Redis ${m.redis ?? 'not configured'}
- Service, PostgreSQL, Redis and the load generator all on this machine.
- Code: ${m.commit}; run ${o.date}

## Results

\`\`\`
${table(o)}
\`\`\`

${o.ingest && Object.keys(o.ingest.statuses).length ? `Ingest result statuses: \`${JSON.stringify(o.ingest.statuses)}\`.` : ''}
${o.ceilings.map((c) => `CPU during the ceiling "${CEILING_TITLES[c.kind]}": ${describeCpu(c.cpu)}.`).join('\n')}
${o.ingest ? `CPU during ingest: ${describeCpu(o.ingest.cpu)}.` : ''}
${o.budgets ? (['plain', 'budgets'] as const).map((side) => `Ingest ${side === 'plain' ? 'without budgets' : 'with budgets'}: CPU ${describeCpu(o.budgets![side].cpu)}; ${describeWal(o.budgets![side].wal, o.budgets![side].statuses.accepted ?? 0)}.`).join('\n') : ''}
${o.ingest ? `The service's database connections during ingest, on average per 100 ms sample: ${Object.entries(o.ingest.waits).map(([k, v]) => `${v} ${k}`).join('; ')}.` : ''}
${o.ingest?.groups ? `The service's writes (group commit, from its /metrics): ${describeGroups(o.ingest.groups)}.` : ''}
${o.rollupWrites ? `Rollup rows written (inserted or updated) per ingested event, from PostgreSQL's table statistics: ${describeRollupWrites(o.rollupWrites)}.` : ''}
${o.topUp ? `Stored events for the readings: ${[o.topUp, ...o.more.map((l) => l.topUp)].map((t) => `${t.after.toLocaleString('en')} (top-up and rollup recompute took ${fmt(t.ms / 1000)} s)`).join(', then ')}.` : ''}
${o.invoices ? `Invoice close of ${o.invoices.events.toLocaleString('en')} stored events: HTTP ${o.invoices.closeStatus} in ${ms(o.invoices.closeMs)}; the service's resident memory ${o.invoices.rssBeforeMiB ?? 'n/a'} MiB before, ${o.invoices.rssPeakMiB ?? 'n/a'} MiB at most during it; it wrote ${o.invoices.lines} lines and ${o.invoices.usageRows} usage rows. The preview (\`invoices/upcoming\`): p50 ${ms(o.invoices.preview.latency?.p50)}, p99 ${ms(o.invoices.preview.latency?.p99)} over ${o.invoices.preview.requests}.` : ''}
${o.rollups ? `After the load the rollups (${ROLLUP_NAMES.join(', ')}) ${o.rollups.consistent ? 'equal' : 'DO NOT equal'} the raw events (calls ${o.rollups.events.calls}, tokens ${o.rollups.events.tokens}, cost ${o.rollups.events.cost}).` : ''}

Latencies are per request, measured by the client from writing the request to the last byte of the answer
(nearest-rank percentiles, test/bench/stats.ts). Rates are events per second of wall time from the first
request to the last answer.
`;
}

main().catch((error: unknown) => {
  console.error(`bench: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
