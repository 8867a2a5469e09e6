// The statement that commits the reservations an ingest write names finds them by primary key, whatever
// the statistics say: after they were taken while few reservations were held (a burst of holds committed,
// then analyzed), a `status = 'held'` test let the planner read every held reservation of the account
// through a partial index into a hash (4 to 11 ms a write with 12,500 held instead of 0.6 ms; BENCHMARKS.md).
import { DataSource } from 'typeorm';
import { ReservationsRepository } from '../billing/authorizations/reservations.repository.js';
import { startTestApp, type TestApp } from './support/test-app.js';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** Every scan of authorization_reservations in a plan: its node type and index. */
function reservationScans(node: PlanNode, out: string[] = []): string[] {
  if (node['Relation Name'] === 'authorization_reservations' && node['Node Type'] !== 'ModifyTable') out.push(`${node['Node Type']}${node['Index Name'] ? ` ${node['Index Name']}` : ''}`);
  for (const child of node.Plans ?? []) reservationScans(child, out);
  return out;
}

/** A parameter as an SQL literal of unknown type (EXECUTE's arguments are typed by the statement). */
function literal(v: unknown): string {
  const text = (x: unknown) => (x instanceof Date ? x.toISOString() : String(x));
  const quoted = Array.isArray(v) ? `{${v.map((x) => (x === null ? 'NULL' : `"${text(x).replace(/["\\]/g, '\\$&')}"`)).join(',')}}` : text(v);
  return v === null ? 'NULL' : `'${quoted.replace(/'/g, "''")}'`;
}

describe.each([
  [30_000, 12_500],
  [3_000, 3_000],
])('committing named reservations (the plan; %i committed when analyzed, then %i held)', (committed, held) => {
  let t: TestApp;
  let db: DataSource;
  const repo = () => new ReservationsRepository(db);
  const account = 'acct-plan';
  const now = new Date('2026-03-15T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp();
    db = t.app.get(DataSource);
    const insert = (from: number, to: number, status: string) =>
      db.query(
        `INSERT INTO authorization_reservations (account_id, id, agent_id, person_id, levels, amount, tokens, estimate, status, created_at, expires_at)
         SELECT $1, 'res_' || i, 'agent', 'person', ARRAY['budget/account/month:2026-03-01'], 0.05, 0, '{}', $4, $5, $5::timestamptz + interval '1 hour'
           FROM generate_series($2::int, $3::int) AS i`,
        [account, from, to, status, now],
      );
    // Statistics taken when nothing was held; then a burst of holds.
    await insert(1, committed, 'committed');
    await db.query('ANALYZE authorization_reservations');
    await insert(committed + 1, committed + held, 'held');
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const plan = async (sql: string, params: readonly unknown[]) => {
    const rows = (await db.query(`EXPLAIN (FORMAT JSON) ${sql}`, [...params])) as { 'QUERY PLAN': [{ Plan: PlanNode }] | string }[];
    const raw = rows[0]!['QUERY PLAN'];
    return (typeof raw === 'string' ? (JSON.parse(raw) as [{ Plan: PlanNode }]) : raw)[0].Plan;
  };
  const named = Array.from({ length: 50 }, (_, i) => ({ id: `res_${committed + 1 + 2 * i}`, agentId: 'agent', personId: 'person', amount: '0.01', tokens: 1 }));

  it('looks each one up by primary key, never through the partial indexes on held rows nor the whole table', async () => {
    const sql = `WITH ${repo().committedSql(1)} SELECT counted FROM counted`;
    const params = repo().committedParams(account, 'w1', named, now);
    const scans = reservationScans(await plan(sql, params));
    expect(scans.length).toBeGreaterThan(0);
    for (const s of scans) expect(s).not.toMatch(/authorization_reservations_(held|due)|Seq Scan/);
    expect(scans.some((s) => s.includes('authorization_reservations_pkey'))).toBe(true);
    // The same as a generic plan (the service's statements are prepared, and reused once generic).
    const runner = db.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SET plan_cache_mode = force_generic_plan');
      await runner.query(`PREPARE plan_check AS ${sql}`);
      const rows = (await runner.query(`EXPLAIN (FORMAT JSON) EXECUTE plan_check(${params.map(literal).join(', ')})`)) as { 'QUERY PLAN': [{ Plan: PlanNode }] | string }[];
      const raw = rows[0]!['QUERY PLAN'];
      const generic = reservationScans((typeof raw === 'string' ? (JSON.parse(raw) as [{ Plan: PlanNode }]) : raw)[0].Plan);
      for (const s of generic) expect(s).not.toMatch(/authorization_reservations_(held|due)|Seq Scan/);
      expect(generic.some((s) => s.includes('authorization_reservations_pkey'))).toBe(true);
      await runner.query('DEALLOCATE plan_check');
    } finally {
      await runner.release();
    }
    // What the test guards against: the same statement testing `status = 'held'` (and not giving the ids
    // to the scan) reads the held rows' partial index instead (the statistics say it holds none).
    const naive = reservationScans(await plan(sql.replace("r.status IS NOT DISTINCT FROM 'held'", "r.status = 'held'").replace(/r\.id = ANY\(\$\d+::text\[\]\) AND /, ''), params));
    expect(naive.some((s) => /authorization_reservations_(held|due)/.test(s))).toBe(true);
    // And it does commit them: fifty resolved, every one of them held before.
    const [{ counted }] = (await db.query(`WITH ${repo().committedSql(1)} SELECT counted FROM counted`, [...params])) as [{ counted: unknown }];
    const resolved = repo().committedFrom(typeof counted === 'string' ? JSON.parse(counted) : counted);
    expect(resolved.filter((r) => r.to === 'committed')).toHaveLength(50);
  });
});
