// The bench's ceilings against a real PostgreSQL: each kind writes what its title says into copies of the
// migrated tables, a repeated row is claimed once (never counted twice), and closing leaves nothing behind.
import pg from 'pg';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { CEILING_KINDS, Ceiling, ceilingColumns, parseCeilingKinds, prepareCeilingBatches, tableColumns } from './ceiling.js';
import { batchEvents, eventRow, makeOrg, type Workload } from './workload.js';

const onPostgres = process.env.DATABASE_URL ? describe : describe.skip;

describe('ceiling kinds (BENCH_CEILINGS)', () => {
  it('are read in their fixed order, each once, and unknown ones are refused', () => {
    expect(parseCeilingKinds(undefined)).toEqual(['insert', 'keyed', 'rollups']);
    expect(parseCeilingKinds('rollups, insert,rollups')).toEqual(['insert', 'rollups']);
    expect(() => parseCeilingKinds('insert,bulk')).toThrow(/unknown bulk/);
  });
});

onPostgres('bench ceilings on PostgreSQL', () => {
  let t: TestApp;
  let db: pg.Pool;
  const now = Date.UTC(2026, 2, 15, 12);
  const w: Workload = { run: 'c', org: makeOrg('bench'), batchSize: 50, from: Date.UTC(2026, 2, 1), to: now };

  beforeAll(async () => {
    t = await startTestApp();
    db = new pg.Pool({ connectionString: t.config.databaseUrl!, max: 2 });
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  it.each(CEILING_KINDS)('%s writes every row once into its own copies, and closing drops them', async (kind) => {
    const generated = new Set(Object.keys(eventRow(w, batchEvents(w, 0)[0]!, 0, new Date(now), 0)));
    const columns = ceilingColumns(await tableColumns(db, 'events'), generated);
    const ceiling = await Ceiling.open(t.config.databaseUrl!, kind, w, columns, 2);
    const batches = prepareCeilingBatches(w, 0, 6, columns, new Date(now));
    await ceiling.run(batches, () => undefined);
    // The same rows again: the keyed kinds claim nothing new, so neither events nor rollups count them twice.
    await ceiling.run(batches.slice(0, 2), () => undefined);

    const result = ceiling.result();
    expect(result.events).toBe(8 * 50);
    expect(result.inserted).toBe(6 * 50);
    const written = await ceiling.written();
    expect(written.events).toBe(300);
    expect(written.keys).toBe(kind === 'insert' ? null : 300);
    expect(written.hourlyCalls).toBe(kind === 'rollups' ? 300 : null);
    expect(written.dailyCalls).toBe(kind === 'rollups' ? 300 : null);
    // Nothing of the service's own tables was touched.
    const [{ n }] = (await db.query<{ n: string }>('SELECT count(*) AS n FROM public.events')).rows;
    expect(n).toBe('0');

    await ceiling.close();
    const left = await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [Ceiling.schemaOf(kind)]);
    expect(left.rowCount).toBe(0);
  });
});
