// Pricing of stored events after the fact: events of models that were unknown, events a correction of
// the price book reprices, and the progress of those passes (metering_state).
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows, type Db } from '../../src/database/sql.js';
import type { StoredEvent } from '../ingest/event-row.js';

@Injectable()
export class RepricingRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Reported model names with events still unpriced, across accounts, most events first. */
  async unpricedModels(): Promise<{ model_name: string; events: string; accounts: string; first_seen: Date; last_seen: Date }[]> {
    return queryRows(
      this.dataSource,
      `SELECT model_name, count(*)::text AS events, count(DISTINCT account_id)::text AS accounts,
              min(ts) AS first_seen, max(ts) AS last_seen
         FROM events WHERE NOT priced AND model_name IS NOT NULL
        GROUP BY model_name ORDER BY count(*) DESC, model_name`,
    );
  }

  /** A chunk of unpriced events of one reported model, locked so concurrent pricers skip them. */
  async lockUnpriced(tx: Tx, modelName: string, limit: number): Promise<StoredEvent[]> {
    return queryRows<StoredEvent>(
      tx,
      `SELECT * FROM events WHERE NOT priced AND model_name = $1 ORDER BY account_id, ts LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [modelName, limit],
    );
  }

  /**
   * Priced events in [from, to) that a book version other than `version` priced (in key order, after
   * `afterKey`), locked: those a correction of that version must reprice. Events priced by the
   * correction itself, i.e. ingested after it was published, are not read.
   */
  async eventsInRange(
    tx: Tx,
    version: number,
    from: Date,
    to: Date | null,
    afterKey: { account_id: string; ts: Date; event_id: string } | null,
    limit: number,
  ): Promise<StoredEvent[]> {
    return queryRows<StoredEvent>(
      tx,
      `SELECT * FROM events
        WHERE priced AND model_id IS NOT NULL AND ts >= $1 AND ($2::timestamptz IS NULL OR ts < $2)
          AND price_book_version IS DISTINCT FROM $7
          AND ($3::text IS NULL OR (account_id, ts, event_id) > ($3, $4::timestamptz, $5))
        ORDER BY account_id, ts, event_id LIMIT $6 FOR UPDATE`,
      [from, to, afterKey?.account_id ?? null, afterKey?.ts ?? null, afterKey?.event_id ?? null, limit, version],
    );
  }

  async setPrices(tx: Tx, rows: readonly Pick<StoredEvent, 'account_id' | 'ts' | 'event_id' | 'model_id' | 'tier' | 'price_book_version' | 'rates_used' | 'cost_input' | 'cost_cached_input' | 'cost_cache_write' | 'cost_output' | 'cost_reasoning' | 'cost'>[]): Promise<void> {
    if (rows.length === 0) return;
    const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
    await tx.query(
      `UPDATE events e SET model_id = u.model_id, tier = u.tier, price_book_version = u.price_book_version,
              rates_used = u.rates_used, cost_input = u.cost_input, cost_cached_input = u.cost_cached_input,
              cost_cache_write = u.cost_cache_write, cost_output = u.cost_output, cost_reasoning = u.cost_reasoning,
              cost = u.cost, priced = true
         FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::text[],
                     $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[])
           AS u(account_id, ts, event_id, model_id, tier, price_book_version, rates_used,
                cost_input, cost_cached_input, cost_cache_write, cost_output, cost_reasoning, cost)
        WHERE e.account_id = u.account_id AND e.ts = u.ts AND e.event_id = u.event_id`,
      [
        col('account_id'), col('ts'), col('event_id'), col('model_id'), col('tier'), col('price_book_version'), col('rates_used'),
        col('cost_input'), col('cost_cached_input'), col('cost_cache_write'), col('cost_output'), col('cost_reasoning'), col('cost'),
      ],
    );
  }

  async state(db: Db, key: string): Promise<number> {
    const [row] = await queryRows<{ value: string }>(db, 'SELECT value FROM metering_state WHERE key = $1', [key]);
    return row ? Number(row.value) : 0;
  }

  async setState(tx: Tx, key: string, value: number): Promise<void> {
    await tx.query(
      'INSERT INTO metering_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
      [key, value],
    );
  }
}
