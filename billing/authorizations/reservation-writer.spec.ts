import { ReservationWriter } from './reservation-writer.js';
import type { NewReservation, ReservationSink } from './reservations.repository.js';

const row = (id: string): NewReservation => ({
  account_id: 'acme',
  id,
  agent_id: 'bot',
  person_id: 'ada',
  session_id: null,
  session_context: null,
  levels: ['agent/bot/month:2026-03-01'],
  amount: '0.01',
  tokens: 0,
  estimate: {},
  created_at: new Date(0),
  expires_at: new Date(600_000),
});

/** A sink that records each statement's ids and answers when told (or at once). */
function sink(auto = true) {
  const statements: string[][] = [];
  const pending: (() => void)[] = [];
  const s: ReservationSink = {
    insertMany: (rows) => {
      statements.push(rows.map((r) => r.id));
      return auto ? Promise.resolve() : new Promise<void>((resolve) => pending.push(resolve));
    },
  };
  return { s, statements, pending };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ReservationWriter', () => {
  it('without a delay writes a row at once, and rows queued while the sink is busy in the next statement', async () => {
    const { s, statements, pending } = sink(false);
    const writer = new ReservationWriter([s], 1000);
    const a = writer.write(row('a'));
    expect(statements).toEqual([['a']]);
    const b = writer.write(row('b'));
    const c = writer.write(row('c'));
    expect(statements).toEqual([['a']]);
    pending.shift()!();
    await a;
    await sleep(0);
    expect(statements).toEqual([['a'], ['b', 'c']]);
    pending.shift()!();
    await Promise.all([b, c]);
    expect(writer.pending).toBe(0);
  });

  it('with a delay (write-behind) gathers the rows of one tick into one statement', async () => {
    const { s, statements } = sink();
    const writer = new ReservationWriter([s], 1000, undefined, 40);
    const written = ['a', 'b', 'c'].map((id) => writer.write(row(id)));
    await sleep(5);
    expect(statements).toEqual([]);
    expect(writer.pending).toBe(3);
    await Promise.all(written);
    expect(statements).toEqual([['a', 'b', 'c']]);
    expect(writer.pending).toBe(0);
  });

  it('writes a queued row at once when its commit or release asks for it, and everything queued on flush', async () => {
    const { s, statements } = sink();
    const writer = new ReservationWriter([s], 1000, undefined, 10_000);
    void writer.write(row('a'));
    void writer.write(row('b'));
    await writer.written('b');
    expect(statements).toEqual([['a', 'b']]);
    void writer.write(row('c'));
    await writer.flush();
    expect(statements).toEqual([['a', 'b'], ['c']]);
    // Nothing queued: both answer at once.
    await writer.written('zzz');
    await writer.flush();
    expect(statements).toHaveLength(2);
  });

  it('writes a full group without waiting out the delay', async () => {
    const { s, statements } = sink();
    const writer = new ReservationWriter([s], 2, undefined, 10_000);
    const both = [writer.write(row('a')), writer.write(row('b'))];
    await Promise.all(both);
    expect(statements).toEqual([['a', 'b']]);
    void writer.write(row('c'));
    expect(statements).toHaveLength(1);
    await writer.flush();
  });

  it('rejects every row of a statement that failed', async () => {
    const failing: ReservationSink = { insertMany: () => Promise.reject(new Error('connection lost')) };
    const writer = new ReservationWriter([failing], 1000, undefined, 5);
    const results = await Promise.allSettled([writer.write(row('a')), writer.write(row('b'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(writer.pending).toBe(0);
  });
});
