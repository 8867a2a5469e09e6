import { tightest } from './ingest-counters.js';
import { outcomesOf } from './reservation-rules.js';
import type { ReservationStatus } from './reservations.repository.js';

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
