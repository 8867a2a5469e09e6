// The SQL helpers of the hot path against the real store: pgArray builds the array literals ingest sends
// (the database must read back exactly what was meant); queryPrepared runs named prepared statements.
import { DataSource, QueryFailedError } from 'typeorm';
import { sqlState } from '../src/database/transactions.js';
import { pgArray, queryPooled, queryPrepared, statementName } from '../src/database/sql.js';
import { TasksRepository } from '../metering/tasks/tasks.repository.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('pgArray against the real store', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('text elements come back verbatim, NULL stays null and the string "NULL" stays a string', async () => {
    const values = ['plain', '', 'NULL', 'with "quotes"', 'back\\slash', 'comma, {braces}', ' spaced ', 'ünïcødé ✓', 'tail\\', null, '\\"'];
    const rows = await t.app.get(DataSource).query('SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n', [pgArray(values, true)]);
    expect(rows.map((r: { v: string | null }) => r.v)).toEqual(values);
  });

  it('json elements, numbers, booleans and ISO timestamps', async () => {
    const db = t.app.get(DataSource);
    const docs = [{ a: 'x"y', b: ['\\', null] }, null, ['q']];
    const [json] = await db.query('SELECT array_agg(v ORDER BY n) AS v FROM unnest($1::jsonb[]) WITH ORDINALITY AS u(v, n)', [
      pgArray(docs.map((d) => (d === null ? null : JSON.stringify(d))), true),
    ]);
    expect(json.v).toEqual(docs);
    const [other] = await db.query(
      `SELECT (SELECT array_agg(v::text ORDER BY n) FROM unnest($1::numeric[]) WITH ORDINALITY AS u(v, n)) AS nums,
              (SELECT array_agg(v ORDER BY n) FROM unnest($2::bool[]) WITH ORDINALITY AS u(v, n)) AS bools,
              (SELECT array_agg(v ORDER BY n) FROM unnest($3::timestamptz[]) WITH ORDINALITY AS u(v, n)) AS times`,
      [pgArray(['0.024690000000', '-1', null, 1764000000000123], false), pgArray([true, false, null], false), pgArray(['2026-03-15T12:00:00.123Z', null], false)],
    );
    expect(other.nums).toEqual(['0.024690000000', '-1', null, '1764000000000123']);
    expect(other.bools).toEqual([true, false, null]);
    expect(other.times).toEqual([new Date('2026-03-15T12:00:00.123Z'), null]);
  });

  it('Dates as epoch milliseconds (sent as int8[]), and values read from rows, as ingest sends its columns', async () => {
    const rows = [
      { at: new Date('2026-03-15T12:00:00.123Z'), note: 'a "b"' },
      { at: new Date('1969-12-31T23:59:59.999Z'), note: null },
      { at: null, note: 'c' },
    ];
    const [got] = await t.app.get(DataSource).query(
      `SELECT (SELECT array_agg(timestamptz 'epoch' + v * interval '1 millisecond' ORDER BY n) FROM unnest($1::int8[]) WITH ORDINALITY AS u(v, n)) AS times,
              (SELECT array_agg(v ORDER BY n) FROM unnest($2::text[]) WITH ORDINALITY AS u(v, n)) AS notes`,
      [pgArray(rows, false, (r) => r.at), pgArray(rows, true, (r) => r.note)],
    );
    expect(got.times).toEqual(rows.map((r) => r.at));
    expect(got.notes).toEqual(rows.map((r) => r.note));
  });

  it('writes an empty array as {}', () => {
    expect(pgArray([], true)).toBe('{}');
    expect(pgArray(['a', null], true)).toBe('{"a",NULL}');
  });
});

/** The pg pool under TypeORM: it emits 'release' with the error when a connection is handed back to be closed. */
type Released = (error: Error | undefined) => void;
const pool = (db: DataSource) =>
  (db.driver as unknown as { master: { on(event: 'release', f: Released): void; off(event: 'release', f: Released): void; totalCount: number; idleCount: number } }).master;

describe('queryPrepared against the real store', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });


  it('prepares a statement once per connection and runs it again by name', async () => {
    const db = t.app.get(DataSource);
    const sql = 'SELECT $1::int + 1 AS n';
    await db.transaction(async (tx) => {
      expect(await queryPrepared(tx, sql, [1])).toEqual([{ n: 2 }]);
      expect(await queryPrepared(tx, sql, [41])).toEqual([{ n: 42 }]);
      const prepared = await tx.query('SELECT name, statement FROM pg_prepared_statements WHERE name = $1', [statementName(sql)]);
      expect(prepared).toEqual([{ name: statementName(sql), statement: sql }]);
    });
  });

  it('fails like TypeORM (QueryFailedError with the SQLSTATE) and keeps the connection and its statements', async () => {
    const db = t.app.get(DataSource);
    const sql = 'SELECT 1 / $1::int AS n';
    expect(await queryPrepared(db, sql, [1])).toEqual([{ n: 1 }]);
    let closed = 0;
    const onRelease: Released = (releasedWith) => {
      if (releasedWith) closed++;
    };
    pool(db).on('release', onRelease);
    const error = await queryPrepared(db, sql, [0]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(sqlState(error)).toBe('22012');
    // The pool's own query() would have closed the connection (and lost what it had prepared).
    pool(db).off('release', onRelease);
    expect(closed).toBe(0);
    expect(await queryPrepared(db, sql, [2])).toEqual([{ n: 0 }]);
  });

  it('a statement that names its columns survives a column added while it is prepared; SELECT * would not', async () => {
    const db = t.app.get(DataSource);
    const runner = db.createQueryRunner(); // one connection throughout: where the statements are prepared
    try {
      await runner.query('CREATE TABLE prepared_probe (id int, a text)');
      await runner.query("INSERT INTO prepared_probe VALUES (1, 'x')");
      const named = 'SELECT id, a FROM prepared_probe';
      const star = 'SELECT * FROM prepared_probe';
      expect(await queryPrepared(runner.manager, named)).toEqual([{ id: 1, a: 'x' }]);
      expect(await queryPrepared(runner.manager, star)).toEqual([{ id: 1, a: 'x' }]);
      await runner.query('ALTER TABLE prepared_probe ADD COLUMN b text');
      expect(await queryPrepared(runner.manager, named)).toEqual([{ id: 1, a: 'x' }]);
      const error = await queryPrepared(runner.manager, star).catch((e: unknown) => e);
      expect(String((error as Error).message)).toMatch(/cached plan must not change result type/);
      // The repository's prepared reads of events name their columns.
      const tasks = await t.app.get(TasksRepository).taskEvents(runner.manager, 'no-such-account', ['t']);
      await runner.query('ALTER TABLE events ADD COLUMN probe_added text');
      expect(await t.app.get(TasksRepository).taskEvents(runner.manager, 'no-such-account', ['t'])).toEqual(tasks);
    } finally {
      await runner.query('ALTER TABLE events DROP COLUMN IF EXISTS probe_added');
      await runner.query('DROP TABLE IF EXISTS prepared_probe');
      await runner.release();
    }
  });

  it('names a text the same way every time, and different texts differently', () => {
    expect(statementName('SELECT 1')).toBe(statementName('SELECT 1'));
    expect(statementName('SELECT 1')).not.toBe(statementName('SELECT 2'));
    expect(statementName('SELECT 1')).toMatch(/^tm_[0-9a-f]{24}$/);
  });
});

describe('queryPooled against the real store', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });


  it('reads on a client of the pool and gives it back, whatever the number of reads', async () => {
    const db = t.app.get(DataSource);
    // More reads than the pool has connections, one after another and at once: each client comes back.
    for (let i = 0; i < 30; i++) expect(await queryPooled(db, 'SELECT $1::int * 2 AS n', [i])).toEqual([{ n: i * 2 }]);
    const many = await Promise.all(Array.from({ length: 30 }, (_, i) => queryPooled<{ n: string }>(db, 'SELECT $1::text AS n', [String(i)])));
    expect(many.map((rows) => rows[0]!.n)).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));
    expect(pool(db).idleCount).toBe(pool(db).totalCount);
  });

  it('fails like TypeORM (QueryFailedError with the SQLSTATE) and keeps the connection', async () => {
    const db = t.app.get(DataSource);
    let closed = 0;
    const onRelease: Released = (releasedWith) => {
      if (releasedWith) closed++;
    };
    pool(db).on('release', onRelease);
    const error = await queryPooled(db, 'SELECT 1 / $1::int AS n', [0]).catch((e: unknown) => e);
    pool(db).off('release', onRelease);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(sqlState(error)).toBe('22012');
    expect(closed).toBe(0);
    expect(await queryPooled(db, 'SELECT 1 / $1::int AS n', [1])).toEqual([{ n: 1 }]);
    expect(pool(db).idleCount).toBe(pool(db).totalCount);
  });
});
