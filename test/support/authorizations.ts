// The engine's side of an event without ingest around it (ingest itself goes through the port, see
// test/ingest-reservations.e2e-spec.ts): usage written where ingest writes it (the rollups budgets and caps
// are read from, and the event row a session's spend is read from), and in the same transaction the
// engine's commit of the reservation the event names (or its spend alone). A test can stop between the
// commit and the counter update, as a killed process would.
import { randomBytes } from 'node:crypto';
import { COUNTERS_ENGINE, withCounterWrites, type CountersEngine, type ReservationOutcome } from '../../billing/authorizations/counters.js';
import { EventsRepository } from '../../metering/ingest/events.repository.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import type { TestApp } from './test-app.js';

export interface Usage {
  account: string;
  unit: string;
  person: string;
  agent: string | null;
  /** Counter levels the event's spend goes to (its path at its time). */
  levels: readonly string[];
  amount: string;
  tokens: number;
  reservationId?: string;
  session?: { id: string; context: 'internal' | 'external' };
}

async function writeUsage(tx: Tx, u: Usage, at: Date): Promise<void> {
  const day = at.toISOString().slice(0, 10);
  await tx.query(
    `INSERT INTO meter_daily_people (account_id, day, shard, unit_id, person_id, agent_id, tier, label, calls, input, cached_input, cache_write, output, reasoning, cost, unpriced)
     VALUES ($1, $2, 0, $3, $4, $5, 'base', 'unclassified', 1, $6, 0, 0, 0, 0, $7, 0)
     ON CONFLICT (account_id, day, shard, unit_id, person_id, agent_id, tier, label)
     DO UPDATE SET calls = meter_daily_people.calls + 1, input = meter_daily_people.input + $6, cost = meter_daily_people.cost + $7`,
    [u.account, day, u.unit, u.person, u.agent ?? '', u.tokens, u.amount],
  );
  await tx.query(
    `INSERT INTO meter_daily (account_id, day, shard, tier, label, channel, calls, input, cached_input, cache_write, output, reasoning, cost, unpriced)
     VALUES ($1, $2, 0, 'base', 'unclassified', '', 1, $3, 0, 0, 0, 0, $4, 0)
     ON CONFLICT (account_id, day, shard, tier, label, channel)
     DO UPDATE SET calls = meter_daily.calls + 1, input = meter_daily.input + $3, cost = meter_daily.cost + $4`,
    [u.account, day, u.tokens, u.amount],
  );
  await tx.query(
    `INSERT INTO meter_spend_daily (account_id, day, shard, cost) VALUES ($1, $2, 0, $3)
     ON CONFLICT (account_id, day, shard) DO UPDATE SET cost = meter_spend_daily.cost + $3`,
    [u.account, day, u.amount],
  );
  if (u.session) {
    await tx.query(
      `INSERT INTO events (account_id, event_id, ts, received_at, seq, person_id, agent_id, unit_id, session_id, session_context,
                           input, cached_input, cache_write, output, reasoning, cost, priced, label, content_hash, reservation_id)
       VALUES ($1, $2, $3, $3, 0, $4, $5, $6, $7, $8, $9, 0, 0, 0, 0, $10, true, 'unclassified', 'test', $11)`,
      [u.account, `evt-${randomBytes(6).toString('hex')}`, at, u.person, u.agent, u.unit, u.session.id, u.session.context, u.tokens, u.amount, u.reservationId ?? null],
    );
  }
}

/**
 * An event's usage and its counter change in one transaction; `kill` stops after the commit, before the
 * counter update (what a process killed there leaves behind).
 */
/**
 * Usage written as ingest writes it: its row and its counter write in one transaction. `kill`: the process
 * dies after the commit, before the counters hear of it. `abandon`: the transaction fails after the counter
 * write was made (its row and the write are rolled back; the call throws "abandoned").
 */
export async function reportUsage(t: TestApp, u: Usage, options: { kill?: boolean; abandon?: boolean } = {}): Promise<ReservationOutcome | null> {
  const engine = t.app.get<CountersEngine>(COUNTERS_ENGINE);
  const now = t.app.get<Clock>(CLOCK).now();
  if (u.session) await t.app.get(EventsRepository).ensurePartitions([now]);
  let outcome: ReservationOutcome | null = null;
  const work = async (tx: Tx, writes: { afterCommit(): Promise<void>; afterRollback(): Promise<void> }[]) => {
    await writeUsage(tx, u, now);
    const actual = { amount: u.amount, tokens: u.tokens };
    if (u.reservationId) {
      const write = await engine.commit(tx, u.account, { reservationId: u.reservationId, agentId: u.agent, personId: u.person, levels: u.levels, actual, now });
      outcome = write.result;
      if (!options.kill) writes.push(write);
    } else {
      const write = await engine.addSpend(tx, u.account, { levels: u.levels, actual, now });
      if (!options.kill) writes.push(write);
    }
    if (options.abandon) throw new Error('abandoned');
  };
  await withCounterWrites(t.app.get(TransactionRunner), work, (error) => {
    throw error;
  });
  return outcome;
}
