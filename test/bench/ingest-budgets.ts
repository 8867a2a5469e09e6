// The budgets phase (BENCH_PHASES=budgets): POST /v1/events for an account with no budgets against one
// with a hard budget on every node of every path (each person, each unit, the account; month and year:
// six counter levels per event) and a reservation on half of its events, which those events commit. Both
// accounts live in one service and one database; their slices alternate (plain, budgets, plain, ...) so
// both see the machine in the same state. The holds are made before each budgets slice, untimed: the
// phase measures what the counters add to ingest. Target: budgets within 10% of plain.
import pg from 'pg';
import { addCpu, cpuBetween, cpuSnapshot, describeCpu, type CpuUse } from './cpu.js';
import { HttpClient } from './http.js';
import { addIngest, runIngest, type IngestBatch, type IngestResult } from './ingest-load.js';
import { createDatabase, dropDatabase, Service, setUp } from './service.js';
import { ratePerSecond, Samples } from './stats.js';
import { addWal, describeWal, resetStatements, walBetween, walSnapshot, writeStatements, type WalUse } from './wal.js';
import { agentOf, batchBody, batchEvents, makeOrg, type Workload } from './workload.js';

export interface BudgetsOptions {
  databaseUrl: string;
  redisUrl: string | null;
  run: string;
  /** Events measured per account. */
  events: number;
  batchSize: number;
  concurrency: number;
  slices: number;
  warmupBatches: number;
  serviceArgs: string[];
  /**
   * BENCH_BUDGETS_HOLDS, to split the budgets side's cost: `named` (the target's workload: a hold before every
   * other event, which that event names and commits), `unnamed` (the same holds made, no event names them)
   * or `none` (no holds; budgets still on every path).
   */
  holds: BudgetsHolds;
  /**
   * BENCH_STATEMENTS: a file the phase writes, as JSON, the 40 statements that took PostgreSQL the most time
   * during its measured slices (both sides), from pg_stat_statements (which the server must preload).
   */
  statementsFile: string | null;
}

export const BUDGETS_HOLDS = ['named', 'unnamed', 'none'] as const;
export type BudgetsHolds = (typeof BUDGETS_HOLDS)[number];

export interface BudgetsSide extends IngestResult {
  rate: number;
  cpu: CpuUse | null;
  /** What the server wrote to its WAL during the side's slices (the whole server's: see wal.ts). */
  wal: WalUse | null;
}

export interface BudgetsOutcome {
  plain: BudgetsSide;
  budgets: BudgetsSide;
  /** Counter levels per event of the budgets account. */
  levelsPerEvent: number;
  /** Events of the budgets account that named a reservation, and how many committed it. */
  reserved: number;
  committed: number;
  holds: BudgetsHolds;
  /** budgets rate / plain rate. */
  ratio: number;
}

export async function runBudgets(opts: BudgetsOptions, log: (line: string) => void): Promise<BudgetsOutcome> {
  const dbName = `tokenmeter_bench_${opts.run}_budgets`;
  const dbUrl = await createDatabase(opts.databaseUrl, dbName);
  let service: Service | null = null;
  let api: HttpClient | null = null;
  const db = new pg.Pool({ connectionString: dbUrl, max: 2 });
  try {
    // BENCH_STATEMENTS needs pg_stat_statements loaded: said now, before the service and the setup.
    if (opts.statementsFile) await resetStatements(db);
    service = await Service.start({
      databaseUrl: dbUrl,
      redisUrl: opts.redisUrl,
      queuePrefix: `{tmbench_${opts.run}_budgets}`,
      nodeArgs: opts.serviceArgs,
    });
    api = new HttpClient(service.url, opts.concurrency);
    const now = Date.now();
    const monthStart = new Date(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1));
    const yearStart = new Date(Date.UTC(new Date(now).getUTCFullYear(), 0, 1));
    const sides = ['plain', 'budgets'] as const;
    const orgs = { plain: makeOrg('bench-plain'), budgets: makeOrg('bench-budgets') };
    const keys = { plain: await setUp(api, service.adminKey, orgs.plain, monthStart), budgets: await setUp(api, service.adminKey, orgs.budgets, monthStart) };
    const w: Record<(typeof sides)[number], Workload> = {
      plain: { run: `${opts.run}p`, org: orgs.plain, batchSize: opts.batchSize, from: monthStart.getTime(), to: now },
      budgets: { run: `${opts.run}b`, org: orgs.budgets, batchSize: opts.batchSize, from: monthStart.getTime(), to: now },
    };
    // A hard budget far above the load on every node of every path, for the month and the (calendar) year,
    // set through the real route (billing/budgets), so the service pays for what budgets really do on
    // ingest (counters, and the alert evaluation after each burst). Children stay within their parent.
    const org = orgs.budgets;
    const periods = [
      { period: 'month', period_start: monthStart.toISOString().slice(0, 10) },
      { period: 'year', period_start: yearStart.toISOString().slice(0, 10) },
    ];
    const limits: [string, string][] = [
      ['account', '1000000000'],
      ...org.units.map((u): [string, string] => [`unit:${u}`, '400000000']),
      ...org.people.map((p): [string, string] => [`person:${p.id}`, '50000000']),
    ];
    for (const [node, amount] of limits) {
      for (const p of periods) {
        await api.json('PUT', `/v1/accounts/${org.account}/budgets/${node}`, service.adminKey, { ...p, amount_limit: amount, enforcement: 'hard' });
      }
    }
    const levels = limits.length * periods.length;
    log(`budgets: service up (pid ${service.child.pid}); ${levels} hard budgets on account "${org.account}", ${3 * periods.length} levels per event; plain account "${orgs.plain.account}"`);

    let reserved = 0;
    const holdsFor = async (from: number, to: number): Promise<IngestBatch[]> => {
      const out: IngestBatch[] = [];
      const todo: { b: number; events: ReturnType<typeof batchEvents> }[] = [];
      for (let b = from; b < to; b++) todo.push({ b, events: batchEvents(w.budgets, b) });
      let next = 0;
      await Promise.all(
        Array.from({ length: opts.concurrency }, async () => {
          for (let i = next++; i < todo.length; i = next++) {
            const { b, events } = todo[i]!;
            const key = keys.budgets.agents[org.agents.indexOf(agentOf(w.budgets, b))]!;
            for (let e = 0; e < events.length && opts.holds !== 'none'; e += 2) {
              const hold = await api!.json<{ allowed: boolean; reservation_id?: string }>('POST', '/v1/authorizations', key, { amount: '0.05', expires_in_seconds: 3600 });
              if (!hold.allowed) throw new Error('a hold was denied: the budgets are meant to be far above the load');
              if (opts.holds === 'unnamed') continue;
              events[e]!.reservation_id = hold.reservation_id;
              reserved++;
            }
          }
        }),
      );
      for (const { b, events } of todo) out.push({ body: batchBody(events), key: keys.budgets.agents[org.agents.indexOf(agentOf(w.budgets, b))]!, events: events.length });
      return out;
    };
    const plainBodies = (from: number, to: number): IngestBatch[] => {
      const out: IngestBatch[] = [];
      for (let b = from; b < to; b++) out.push({ body: batchBody(batchEvents(w.plain, b)), key: keys.plain.agents[orgs.plain.agents.indexOf(agentOf(w.plain, b))]!, events: opts.batchSize });
      return out;
    };

    const first = opts.warmupBatches;
    if (first > 0) {
      await runIngest(api, plainBodies(0, first), opts.concurrency, () => undefined);
      await runIngest(api, await holdsFor(0, first), opts.concurrency, () => undefined);
      log(`budgets: warmed up with ${first} batches per account`);
    }
    reserved = 0;
    const measured = Math.ceil(opts.events / opts.batchSize);
    const slice = (k: number) => [first + Math.floor((measured * k) / opts.slices), first + Math.floor((measured * (k + 1)) / opts.slices)] as const;
    const results: Record<(typeof sides)[number], IngestResult | null> = { plain: null, budgets: null };
    const cpu: Record<(typeof sides)[number], CpuUse | null> = { plain: null, budgets: null };
    const wal: Record<(typeof sides)[number], WalUse | null> = { plain: null, budgets: null };
    const samples = { plain: new Samples(measured), budgets: new Samples(measured) };
    if (opts.statementsFile) await resetStatements(db);
    for (let k = 0; k < opts.slices; k++) {
      const [from, to] = slice(k);
      for (const side of sides) {
        const bodies = side === 'plain' ? plainBodies(from, to) : await holdsFor(from, to);
        await db.query('CHECKPOINT');
        const walStart = await walSnapshot(db);
        const start = cpuSnapshot(service.child.pid);
        const result = await runIngest(api, bodies, opts.concurrency, () => undefined, samples[side]);
        cpu[side] = addCpu(cpu[side], cpuBetween(start, cpuSnapshot(service.child.pid)));
        wal[side] = addWal(wal[side], walBetween(walStart, await walSnapshot(db)));
        results[side] = addIngest(results[side], result);
        log(`  budgets slice ${k + 1}/${opts.slices} ${side}: ${Math.round(ratePerSecond(result.statuses.accepted ?? 0, result.ms)).toLocaleString('en')} events/s`);
        if (!service.alive) throw new Error('the service died during the load');
      }
    }
    if (opts.statementsFile) {
      await writeStatements(db, opts.statementsFile);
      log(`budgets: the statements that took PostgreSQL the most time during the slices (both sides) written to ${opts.statementsFile}`);
    }
    // How many of the reserved events committed their reservation (all of them, unless one expired).
    const stored = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM authorization_reservations WHERE account_id = $1 AND status = 'committed'`, [org.account]);
    const committed = Number(stored.rows[0]!.n);
    const side = (s: (typeof sides)[number]): BudgetsSide => ({ ...results[s]!, rate: ratePerSecond(results[s]!.statuses.accepted ?? 0, results[s]!.ms), cpu: cpu[s], wal: wal[s] });
    const outcome: BudgetsOutcome = { plain: side('plain'), budgets: side('budgets'), levelsPerEvent: 3 * periods.length, reserved, committed, holds: opts.holds, ratio: 0 };
    outcome.ratio = outcome.budgets.rate / outcome.plain.rate;
    for (const s of sides) {
      const r = outcome[s];
      log(`budgets ${s}: ${Math.round(r.rate).toLocaleString('en')} events/s, p50 ${r.latency.p50.toFixed(1)} ms, p99 ${r.latency.p99.toFixed(1)} ms, ${JSON.stringify(r.statuses)}; CPU: ${describeCpu(r.cpu)}; ${describeWal(r.wal, r.statuses.accepted ?? 0)}`);
      for (const p of r.problems) log(`  problem: ${p}`);
    }
    log(`budgets: ${(outcome.ratio * 100).toFixed(1)}% of plain (target: at least 90%${opts.holds === 'named' ? '' : `; BENCH_BUDGETS_HOLDS=${opts.holds}, not the target's workload`}); ${reserved} measured events named a reservation, ${committed} reservations committed in all`);
    return outcome;
  } finally {
    await db.end();
    api?.close();
    await service?.stop();
    await dropDatabase(opts.databaseUrl, dbName).catch((e: unknown) => log(`could not drop ${dbName}: ${(e as Error).message}`));
  }
}
