import fc from 'fast-check';
import type { MeteredEvent } from '../../metering/ingest/usage-counters.port.js';
import type { Tx } from '../../src/database/data-source.js';
import type { CountersEngine } from './counters.js';
import { fewestTokens, IngestCounters, tightest } from './ingest-counters.js';
import type { PathPlan, PathPlans } from './path-plans.js';
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

describe('fewestTokens', () => {
  it('is the fewest tokens left among the levels with a token limit, null when none has one', () => {
    expect(fewestTokens([900, null, 25, 3000])).toBe(25);
    expect(fewestTokens([-5, 0])).toBe(-5);
    expect(fewestTokens([null, null])).toBeNull();
    expect(fewestTokens([])).toBeNull();
  });
});

describe('outcomesOf', () => {
  const held = (id: string, agent: string | null = 'a', person = 'p') => ({ id, agent_id: agent, person_id: person, status: 'held' as ReservationStatus });
  const item = (reservationId: string | null, agentId: string, personId = 'p') => ({ reservationId, agentId, personId });

  it('gives a reservation to the first event of its agent, and tells every other event what became of it', () => {
    const { outcomes, released } = outcomesOf(
      [item('r1', 'b'), item('r1', 'a'), item('r1', 'a'), item(null, 'a'), item('r2', 'a'), item('nope', 'a'), item('r1', 'b')],
      [
        { row: held('r1'), to: 'committed' },
        { row: held('r2'), to: 'expired' },
      ],
    );
    expect(outcomes).toEqual(['foreign', 'committed', 'already_committed', null, 'expired', 'unknown', 'already_committed']);
    expect(released.map((r) => r.id)).toEqual(['r1', 'r2']);
  });

  it("gives a member's own reservation (no agent) to the first event of any agent of that person, never to another person's", () => {
    const { outcomes, released } = outcomesOf(
      [item('m', 'x', 'q'), item('m', 'b', 'p'), item('m', 'a', 'p'), item('n', 'x', 'q')],
      [
        { row: held('m', null, 'p'), to: 'committed' },
        { row: held('n', null, 'p'), to: null },
      ],
    );
    expect(outcomes).toEqual(['foreign', 'committed', 'already_committed', 'foreign']);
    expect(released.map((r) => r.id)).toEqual(['m']);
  });

  it('reports a reservation that was no longer held by its status, and releases nothing', () => {
    const { outcomes, released } = outcomesOf(
      [item('c', 'a'), item('r', 'a'), item('e', 'a'), item('h', 'a')],
      [
        { row: { ...held('c'), status: 'committed' as ReservationStatus }, to: null },
        { row: { ...held('r'), status: 'released' as ReservationStatus }, to: null },
        { row: { ...held('e'), status: 'expired' as ReservationStatus }, to: null },
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
  // Agents a and c act for person p, b for q; a reservation without an agent is its person's own (a member's).
  const OWNER: Record<string, string> = { a: 'p', b: 'q', c: 'p' };
  type Stored = { id: string; agent: string | null; person: string; status: ReservationStatus; due: boolean };
  type Named = { id: string; agentId: string; personId: string };
  const now = new Date('2026-06-01T00:00:00Z');

  /** What committedSql's `counted` is for these parameters over these rows (the statement, simulated). */
  function run(rows: readonly Stored[], params: readonly unknown[]): unknown {
    const [ids, agents, persons] = [params[3] as string[], params[4] as string[], params[8] as string[]];
    const resolved: unknown[] = [];
    const done = new Set<string>();
    ids.forEach((id, i) => {
      const r = rows.find((x) => x.id === id);
      if (!r || r.status !== 'held' || done.has(id)) return;
      if (!(r.agent === agents[i] || (r.agent === null && r.person === persons[i]))) return;
      done.add(id);
      resolved.push([id, r.agent, r.due ? 'expired' : 'committed', ['l'], '1', '1', now.toISOString(), r.person]);
    });
    const others = rows.filter((r) => ids.includes(r.id) && !done.has(r.id)).map((r) => [r.id, r.agent, r.status, r.person]);
    return { journalled: params[2], resolved, others };
  }

  const outcomes = (items: readonly Named[], counted: unknown) =>
    outcomesOf(
      items.map((i) => ({ reservationId: i.id, agentId: i.agentId, personId: i.personId })),
      repo.committedFrom(counted),
    );
  const paramsOf = (w: readonly Named[], k: number) => repo.committedParams('acct', `w${k}`, w.map((n) => ({ ...n, amount: '1', tokens: 1 })), now);

  it('gives each write the outcomes it would have had as a statement of its own, run in turn (property)', () => {
    const stored = fc.uniqueArray(
      fc
        .record({
          id: fc.constantFrom('r0', 'r1', 'r2', 'r3'),
          agent: fc.constantFrom('a', 'b', 'c', null),
          member: fc.constantFrom('p', 'q'),
          status: fc.constantFrom<ReservationStatus>('held', 'held', 'committed', 'expired'),
          due: fc.boolean(),
        })
        .map(({ member, ...r }): Stored => ({ ...r, person: r.agent === null ? member : OWNER[r.agent]! })),
      { selector: (r) => r.id },
    );
    const named = fc.array(
      fc.record({ id: fc.constantFrom('r0', 'r1', 'r2', 'r3', 'r4'), agentId: fc.constantFrom('a', 'b', 'c') }).map((n): Named => ({ ...n, personId: OWNER[n.agentId]! })),
      { maxLength: 4 },
    );
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
    const a = repo.committedParams('acct', 'w1', [{ id: 'r1', agentId: 'a', personId: 'p', amount: '0.5', tokens: 3 }], new Date(1000));
    const b = repo.committedParams('acct', 'w2', [{ id: 'r2', agentId: null, personId: null, amount: '0.25', tokens: 0 }], new Date(2000));
    expect(combinedParams([a, b], new Date(3000))).toEqual([
      'acct',
      new Date(3000),
      ['w1', 'w2'],
      ['r1', 'r2'],
      ['a', null],
      ['0.5', '0.25'],
      [3, 0],
      [new Date(1000), new Date(2000)],
      ['p', null],
    ]);
    const shares = splitCounted({ journalled: ['w1', 'w2'], resolved: [], others: [] }, [a, b]) as { journalled: string[] }[];
    expect(shares.map((s) => s.journalled)).toEqual([['w1'], ['w2']]);
    // A write whose journal row is missing fails its settle.
    expect(() => repo.committedFrom(splitCounted({ journalled: ['w1'], resolved: [], others: [] }, [a, b])[1])).toThrow('not journalled');
  });
});

describe('IngestCounters.spendChanged', () => {
  const plan = (unitId: string, levels: string[], caps: ('internal' | 'external')[] = []): PathPlan => ({
    unitId,
    levels,
    sessionCaps: new Set(caps),
    tierLevels: new Map([['premier', 'tier/premier/2026-03-01/1000']]),
    validFrom: 0,
    validUntil: Number.MAX_SAFE_INTEGER,
    loadedAt: 0,
  });
  const plans = {
    plan: async (_account: string, person: string) =>
      person === 'p1'
        ? plan('u1', ['budget/person:p1/month:2026-03-01', 'agent/a1/month:2026-03-01', 'credits'], ['external'])
        : person === 'p2'
          ? plan('u1', ['budget/unit:u1/month:2026-03-01', 'credits'])
          : null,
  } as unknown as PathPlans;
  const event = (id: string, person: string | null, session: string | null = null): MeteredEvent => ({
    event_id: id,
    ts: new Date('2026-03-10T10:00:00Z'),
    person_id: person,
    agent_id: 'a1',
    unit_id: 'u1',
    session_id: session,
    session_context: session ? 'external' : null,
    reservation_id: null,
    tier: null,
    cost: '0.6',
    tokens: 40_000,
  });
  const tx = {} as Tx;

  function setup() {
    const calls: { tx: Tx; account: string; levels: readonly string[] }[] = [];
    const engine = {
      refreshWith: async (t: Tx, account: string, levels: readonly string[]) => {
        calls.push({ tx: t, account, levels });
        return { result: undefined, afterCommit: async () => undefined, afterRollback: async () => undefined };
      },
    } as unknown as CountersEngine;
    return { calls, counters: new IngestCounters(engine, plans) };
  }

  it("refreshes, in the repricing's transaction, every level the events' spend is counted on, each once", async () => {
    const { calls, counters } = setup();
    await counters.spendChanged(tx, 'acme', [event('e1', 'p1', 's1'), event('e2', 'p2'), event('e3', 'p1'), event('e4', null)], new Date());
    expect(calls).toHaveLength(1);
    expect(calls[0]!.tx).toBe(tx);
    expect(calls[0]!.account).toBe('acme');
    expect([...calls[0]!.levels].sort()).toEqual(
      ['agent/a1/month:2026-03-01', 'budget/person:p1/month:2026-03-01', 'budget/unit:u1/month:2026-03-01', 'credits', 'session/external/s1'].sort(),
    );
  });

  it("refreshes the cap of an event's tier when the plan caps it", async () => {
    const { calls, counters } = setup();
    await counters.spendChanged(tx, 'acme', [{ ...event('e6', 'p2'), tier: 'premier' }, { ...event('e7', 'p2'), tier: 'base' }], new Date());
    expect([...calls[0]!.levels].sort()).toEqual(['budget/unit:u1/month:2026-03-01', 'credits', 'tier/premier/2026-03-01/1000'].sort());
  });

    it('touches no counter when no event has a level', async () => {
    const { calls, counters } = setup();
    const write = await counters.spendChanged(tx, 'acme', [event('e4', null), event('e5', 'p9')], new Date());
    expect(calls).toEqual([]);
    await write.afterCommit();
  });
});
