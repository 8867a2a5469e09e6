import fc from 'fast-check';
import { tightest } from './ingest-counters.js';
import { outcomesOf } from './reservation-rules.js';
import { combinedParams, ReservationsRepository, splitCounted, type ReservationStatus } from './reservations.repository.js';

describe('tightest', () => {
  it('is the least amount left, compared as decimals, whatever the order', () => {
    expect(tightest(['0.9', '10', '0.25', '3'])).toBe('0.25');
    expect(tightest(['10', '9.99999'])).toBe('9.99999');
    expect(tightest(['-0.5', '0'])).toBe('-0.5');
  });
  it('skips levels without an amount limit, and is null when none has one', () => {
    expect(tightest([null, '2', null])).toBe('2');
    expect(tightest([null])).toBeNull();
    expect(tightest([])).toBeNull();
  });
});

describe('outcomesOf', () => {
  const held = (id: string, agent: string | null = 'a') => ({ id, agent_id: agent, status: 'held' as ReservationStatus });

  it('gives a reservation to the first event of its agent, and tells every other event what became of it', () => {
    const { outcomes, released } = outcomesOf(
      [
        { reservationId: 'r1', agentId: 'b' },
        { reservationId: 'r1', agentId: 'a' },
        { reservationId: 'r1', agentId: 'a' },
        { reservationId: null, agentId: 'a' },
        { reservationId: 'r2', agentId: 'a' },
        { reservationId: 'nope', agentId: 'a' },
        { reservationId: 'r1', agentId: 'b' },
      ],
      [
        { row: held('r1'), to: 'committed' },
        { row: held('r2'), to: 'expired' },
      ],
    );
    expect(outcomes).toEqual(['foreign', 'committed', 'already_committed', null, 'expired', 'unknown', 'already_committed']);
    expect(released.map((r) => r.id)).toEqual(['r1', 'r2']);
  });

  it('reports a reservation that was no longer held by its status, and releases nothing', () => {
    const { outcomes, released } = outcomesOf(
      [
        { reservationId: 'c', agentId: 'a' },
        { reservationId: 'r', agentId: 'a' },
        { reservationId: 'e', agentId: 'a' },
        { reservationId: 'h', agentId: 'a' },
      ],
      [
        { row: { id: 'c', agent_id: 'a', status: 'committed' as ReservationStatus }, to: null },
        { row: { id: 'r', agent_id: 'a', status: 'released' as ReservationStatus }, to: null },
        { row: { id: 'e', agent_id: 'a', status: 'expired' as ReservationStatus }, to: null },
        // Held when read, yet another write resolved it first.
        { row: held('h'), to: null },
      ],
    );
    expect(outcomes).toEqual(['already_committed', 'released', 'expired', 'already_committed']);
    expect(released).toEqual([]);
  });
});

describe('several writes in one statement (combinedParams, splitCounted)', () => {
  const repo = new ReservationsRepository(null as never);
  type Stored = { id: string; agent: string; status: ReservationStatus; due: boolean };
  type Named = { id: string; agentId: string };
  const now = new Date('2026-06-01T00:00:00Z');

  /** What committedSql's `counted` is for these parameters over these rows (the statement, simulated). */
  function run(rows: readonly Stored[], params: readonly unknown[]): unknown {
    const [ids, agents] = [params[3] as string[], params[4] as string[]];
    const resolved: unknown[] = [];
    const done = new Set<string>();
    ids.forEach((id, i) => {
      const r = rows.find((x) => x.id === id);
      if (!r || r.status !== 'held' || r.agent !== agents[i] || done.has(id)) return;
      done.add(id);
      resolved.push([id, r.agent, r.due ? 'expired' : 'committed', ['l'], '1', '1', now.toISOString()]);
    });
    const others = rows.filter((r) => ids.includes(r.id) && !done.has(r.id)).map((r) => [r.id, r.agent, r.status]);
    return { journalled: params[2], resolved, others };
  }

  const outcomes = (items: readonly Named[], counted: unknown) => outcomesOf(items.map((i) => ({ reservationId: i.id, agentId: i.agentId })), repo.committedFrom(counted));
  const paramsOf = (w: readonly Named[], k: number) => repo.committedParams('acct', `w${k}`, w.map((n) => ({ ...n, amount: '1', tokens: 1 })), now);

  it('gives each write the outcomes it would have had as a statement of its own, run in turn (property)', () => {
    const stored = fc.uniqueArray(
      fc.record({ id: fc.constantFrom('r0', 'r1', 'r2', 'r3'), agent: fc.constantFrom('a', 'b'), status: fc.constantFrom<ReservationStatus>('held', 'held', 'committed', 'expired'), due: fc.boolean() }),
      { selector: (r) => r.id },
    );
    const named = fc.array(fc.record({ id: fc.constantFrom('r0', 'r1', 'r2', 'r3', 'r4'), agentId: fc.constantFrom('a', 'b') }), { maxLength: 4 });
    fc.assert(
      fc.property(stored, fc.array(named, { minLength: 1, maxLength: 4 }), (rows, writes) => {
        // In turn: each write its own statement over the rows as the writes before it left them.
        let state = rows.map((r) => ({ ...r }));
        const alone = writes.flatMap((w, k) => {
          const counted = run(state, paramsOf(w, k));
          for (const [id, , to] of (counted as { resolved: [string, string, ReservationStatus][] }).resolved) state = state.map((r) => (r.id === id ? { ...r, status: to } : r));
          return outcomes(w, counted).outcomes;
        });
        const params = writes.map((w, k) => paramsOf(w, k));
        const shares = splitCounted(run(rows, combinedParams(params, now)), params);
        expect(writes.flatMap((w, k) => outcomes(w, shares[k]).outcomes)).toEqual(alone);
      }),
      { numRuns: 1000 },
    );
  });

  it('journals every write and judges each named reservation at its own write time', () => {
    const a = repo.committedParams('acct', 'w1', [{ id: 'r1', agentId: 'a', amount: '0.5', tokens: 3 }], new Date(1000));
    const b = repo.committedParams('acct', 'w2', [{ id: 'r2', agentId: null, amount: '0.25', tokens: 0 }], new Date(2000));
    expect(combinedParams([a, b], new Date(3000))).toEqual(['acct', new Date(3000), ['w1', 'w2'], ['r1', 'r2'], ['a', null], ['0.5', '0.25'], [3, 0], [new Date(1000), new Date(2000)]]);
    const shares = splitCounted({ journalled: ['w1', 'w2'], resolved: [], others: [] }, [a, b]) as { journalled: string[] }[];
    expect(shares.map((s) => s.journalled)).toEqual([['w1'], ['w2']]);
    // A write whose journal row is missing fails its settle.
    expect(() => repo.committedFrom(splitCounted({ journalled: ['w1'], resolved: [], others: [] }, [a, b])[1])).toThrow('not journalled');
  });
});
