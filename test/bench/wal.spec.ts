// The budgets phase's WAL line: differences and sums of the server's counters, read per event; and, on a
// real PostgreSQL, that a write moves the WAL's position by at least its rows (the whole server's, so only
// "at least" can be asserted).
import pg from 'pg';
import { addWal, describeWal, walBetween, walSnapshot } from './wal.js';

const onPostgres = process.env.DATABASE_URL ? describe : describe.skip;

describe('WAL use', () => {
  it('is the difference of two snapshots, summed over slices, and read per event', () => {
    const a = { bytes: 1_000, records: 10, fpi: 1 };
    const b = { bytes: 21_000, records: 60, fpi: 3 };
    const slice = walBetween(a, b);
    expect(slice).toEqual({ bytes: 20_000, records: 50, fpi: 2 });
    expect(addWal(null, slice)).toEqual(slice);
    expect(addWal(slice, null)).toEqual(slice);
    expect(addWal(slice, slice)).toEqual({ bytes: 40_000, records: 100, fpi: 4 });
    expect(describeWal(addWal(slice, slice), 20)).toBe('WAL 2,000 bytes, 5 records, 0.2 full-page images per event');
  });

  it('says so when it was not measured', () => {
    expect(walBetween(null, { bytes: 1, records: 1, fpi: 0 })).toBeNull();
    expect(describeWal(null, 10)).toBe('WAL not measured');
    expect(describeWal({ bytes: 1, records: 1, fpi: 0 }, 0)).toBe('WAL not measured');
  });
});

onPostgres('WAL use on PostgreSQL', () => {
  let db: pg.Pool;
  beforeAll(() => {
    db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
  });
  afterAll(async () => db?.end());

  it('grows by at least what a write logged', async () => {
    const before = await walSnapshot(db);
    expect(before).not.toBeNull();
    await db.query('CREATE TABLE IF NOT EXISTS bench_wal_probe (n int)');
    await db.query('INSERT INTO bench_wal_probe SELECT generate_series(1, 1000)');
    await db.query('DROP TABLE bench_wal_probe');
    const used = walBetween(before, await walSnapshot(db))!;
    // A thousand logged rows take more than their 4-byte values in WAL (exact: the insert position moved).
    // The records and full-page images are counted as the backends report them, later: not asserted.
    expect(used.bytes).toBeGreaterThan(20_000);
  });
});
