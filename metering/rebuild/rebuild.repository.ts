// The SQL of a rebuild: rollups recomputed from raw events, and label writes. Only this file and the
// ingest repository touch the metering tables.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows } from '../../src/database/sql.js';

@Injectable()
export class RebuildRepository {
  constructor(private readonly dataSource: DataSource) {}

  async accounts(): Promise<string[]> {
    return (await queryRows<{ account_id: string }>(this.dataSource, 'SELECT DISTINCT account_id FROM event_keys ORDER BY 1')).map((r) => r.account_id);
  }

  async tasks(tx: Tx, accountId: string): Promise<{ task_id: string; status: 'open' | 'succeeded' | 'failed' | 'abandoned' }[]> {
    return queryRows(tx, 'SELECT task_id, status FROM tasks WHERE account_id = $1 ORDER BY task_id', [accountId]);
  }

  /** Labels events outside tasks by their outcome; the CASE is built from the pure classifier's answers. */
  async labelStandalone(tx: Tx, accountId: string, labelFor: { success: string; failure: string; none: string }): Promise<void> {
    await tx.query(
      `UPDATE events SET label = CASE outcome WHEN 'success' THEN $2 WHEN 'failure' THEN $3 ELSE $4 END
        WHERE account_id = $1 AND task_id IS NULL
          AND label IS DISTINCT FROM CASE outcome WHEN 'success' THEN $2 WHEN 'failure' THEN $3 ELSE $4 END`,
      [accountId, labelFor.success, labelFor.failure, labelFor.none],
    );
  }

  /** Replaces an account's rollups with sums over its raw events (all in shard 0). */
  async recomputeRollups(tx: Tx, accountId: string): Promise<void> {
    await tx.query('DELETE FROM meter_hourly WHERE account_id = $1', [accountId]);
    await tx.query('DELETE FROM meter_daily WHERE account_id = $1', [accountId]);
    const sums = `count(*), sum(input), sum(cached_input), sum(cache_write), sum(output), sum(reasoning), coalesce(sum(cost), 0)`;
    await tx.query(
      `INSERT INTO meter_hourly (account_id, hour, shard, model, tier, unit_id, person_id, agent_id, operation, channel, label,
                                 session_context, calls, input, cached_input, cache_write, output, reasoning, cost)
       SELECT account_id, date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 0,
              coalesce(model_id, model_name, ''), coalesce(tier, ''), coalesce(unit_id, ''), coalesce(person_id, ''),
              coalesce(agent_id, ''), coalesce(operation, ''), coalesce(channel, ''), label, coalesce(session_context, ''), ${sums}
         FROM events WHERE account_id = $1 GROUP BY 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12`,
      [accountId],
    );
    await tx.query(
      `INSERT INTO meter_daily (account_id, day, shard, tier, label, channel, calls, input, cached_input, cache_write, output, reasoning, cost)
       SELECT account_id, (ts AT TIME ZONE 'UTC')::date, 0, coalesce(tier, ''), label, coalesce(channel, ''), ${sums}
         FROM events WHERE account_id = $1 GROUP BY 1, 2, 4, 5, 6`,
      [accountId],
    );
  }
}
